import { Collector, common, eachRecord, finiteNumber, indexPath, isRecord, keyPath, walkStrings, type Common } from './collect.js';
import type { TextPart } from './types.js';

/**
 * OpenAI request bodies: chat completions, legacy completions, the Responses API and embeddings.
 * Each reads every field the model sees, including the less common ones (developer messages,
 * refusals, custom tools, predicted output, prompt variables), because any field left unread is
 * a way round DLP.
 */

type Kind = TextPart['kind'];

function roleKind(role: unknown): Kind {
  if (role === 'system' || role === 'developer') return 'system';
  if (role === 'tool' || role === 'function') return 'tool_result';
  return 'message';
}

/**
 * Message content: a string or an array of parts. Text lives in `text` (text, input_text,
 * output_text) or `refusal`; images, audio and files are binary and skipped; a part type we do
 * not know is walked for strings rather than trusted to hold none.
 */
export function content(v: unknown, path: string, kind: Kind, c: Collector): void {
  if (typeof v === 'string') return c.text(path, v, kind);
  if (Array.isArray(v)) v.forEach((x, i) => part(x, indexPath(path, i), kind, c));
}

const BINARY_PARTS = new Set(['image_url', 'input_image', 'input_audio', 'file', 'input_file']);

function part(x: unknown, p: string, kind: Kind, c: Collector): void {
  if (typeof x === 'string') return c.text(p, x, kind);
  if (!isRecord(x)) return;
  if (typeof x.text === 'string') return c.text(keyPath(p, 'text'), x.text, kind);
  if (typeof x.refusal === 'string') return c.text(keyPath(p, 'refusal'), x.refusal, kind);
  if (typeof x.type === 'string' && BINARY_PARTS.has(x.type)) return;
  walkStrings(x, p, kind, c);
}

// ---------------------------------------------------------------------------------------------
// Chat completions

function chatToolCall(tc: Record<string, unknown>, p: string, c: Collector): void {
  if (isRecord(tc.function)) {
    c.call(tc.function.name);
    c.json(keyPath(keyPath(p, 'function'), 'arguments'), tc.function.arguments, 'tool_arguments');
  } else if (isRecord(tc.custom)) {
    c.call(tc.custom.name);
    c.json(keyPath(keyPath(p, 'custom'), 'input'), tc.custom.input, 'tool_arguments');
  }
}

export function chat(body: Record<string, unknown>, c: Collector): Common {
  eachRecord(body.messages, '$.messages', (m, p) => {
    const kind = roleKind(m.role);
    c.text(keyPath(p, 'name'), m.name, kind);
    content(m.content, keyPath(p, 'content'), kind, c);
    c.text(keyPath(p, 'refusal'), m.refusal, kind);
    eachRecord(m.tool_calls, keyPath(p, 'tool_calls'), (tc, tp) => chatToolCall(tc, tp, c));
    // Deprecated single function call, still accepted by the API.
    if (isRecord(m.function_call)) {
      c.call(m.function_call.name);
      c.json(keyPath(keyPath(p, 'function_call'), 'arguments'), m.function_call.arguments, 'tool_arguments');
    }
  });
  eachRecord(body.tools, '$.tools', (t) => {
    if (isRecord(t.function)) c.offer(t.function.name);
    else if (isRecord(t.custom)) c.offer(t.custom.name);
  });
  eachRecord(body.functions, '$.functions', (f) => c.offer(f.name));
  // Predicted output is sent to the model as text it may copy into its answer.
  if (isRecord(body.prediction)) content(body.prediction.content, '$.prediction.content', 'input', c);
  return common(body, finiteNumber(body.max_completion_tokens) ?? finiteNumber(body.max_tokens));
}

// ---------------------------------------------------------------------------------------------
// Legacy completions

export function completions(body: Record<string, unknown>, c: Collector): Common {
  const prompt = body.prompt;
  if (typeof prompt === 'string') c.text('$.prompt', prompt, 'input');
  // An array holds strings or token arrays; tokens are ids, not text we could scan.
  else if (Array.isArray(prompt)) prompt.forEach((x, i) => c.text(indexPath('$.prompt', i), x, 'input'));
  c.text('$.suffix', body.suffix, 'input');
  return common(body, finiteNumber(body.max_tokens));
}

// ---------------------------------------------------------------------------------------------
// Responses API

function toolOutput(v: unknown, path: string, c: Collector): void {
  content(v, path, 'tool_result', c);
}

export function responsesItem(item: Record<string, unknown>, p: string, c: Collector): void {
  const type = item.type;
  if (type === 'message' || (type === undefined && item.role !== undefined)) {
    return content(item.content, keyPath(p, 'content'), roleKind(item.role), c);
  }
  switch (type) {
    case 'function_call':
    case 'mcp_call':
      c.call(item.name);
      c.json(keyPath(p, 'arguments'), item.arguments, 'tool_arguments');
      if (type === 'mcp_call') c.text(keyPath(p, 'output'), item.output, 'tool_result');
      return;
    case 'custom_tool_call':
      c.call(item.name);
      c.json(keyPath(p, 'input'), item.input, 'tool_arguments');
      return;
    case 'function_call_output':
    case 'custom_tool_call_output':
      return toolOutput(item.output, keyPath(p, 'output'), c);
    case 'mcp_approval_request':
      c.json(keyPath(p, 'arguments'), item.arguments, 'tool_arguments');
      return;
    case 'reasoning':
      content(item.summary, keyPath(p, 'summary'), 'message', c);
      content(item.content, keyPath(p, 'content'), 'message', c);
      return;
    case 'item_reference':
      return;
    default: {
      // Built-in tool calls and their outputs (shell, apply_patch, code interpreter, computer …):
      // many shapes, all of them able to carry text the model reads.
      const t = typeof type === 'string' ? type : '';
      const kind: Kind = t.endsWith('_output') ? 'tool_result' : t.endsWith('_call') ? 'tool_arguments' : 'message';
      walkStrings(item, p, kind, c);
    }
  }
}

export function responses(body: Record<string, unknown>, c: Collector): Common {
  const instructions = body.instructions;
  if (typeof instructions === 'string') c.text('$.instructions', instructions, 'system');
  else eachRecord(instructions, '$.instructions', (item, p) => responsesItem(item, p, c));
  // Reusable prompt templates are filled with variables the model reads as text.
  if (isRecord(body.prompt) && isRecord(body.prompt.variables)) {
    for (const [k, v] of Object.entries(body.prompt.variables)) {
      part(v, keyPath('$.prompt.variables', k), 'input', c);
    }
  }
  const input = body.input;
  if (typeof input === 'string') c.text('$.input', input, 'message');
  else if (Array.isArray(input)) {
    input.forEach((item, i) => {
      const p = indexPath('$.input', i);
      if (typeof item === 'string') c.text(p, item, 'message');
      else if (isRecord(item)) responsesItem(item, p, c);
    });
  }
  eachRecord(body.tools, '$.tools', (t) => c.offer(t.name));
  return common(body, finiteNumber(body.max_output_tokens));
}

// ---------------------------------------------------------------------------------------------
// Embeddings

export function embeddings(body: Record<string, unknown>, c: Collector): Common {
  const input = body.input;
  if (typeof input === 'string') c.text('$.input', input, 'input');
  // Token arrays (numbers, or arrays of numbers) are ids, not text.
  else if (Array.isArray(input)) input.forEach((x, i) => c.text(indexPath('$.input', i), x, 'input'));
  return { ...common(body, null), stream: false };
}
