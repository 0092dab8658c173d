import { isRecord } from './collect.js';
import type { SseEvent } from './sse.js';
import type { ApiKind, Usage } from './types.js';

/**
 * What one SSE event of an answer means, per dialect: the text it adds (for response DLP while the
 * stream flows, SPEC §6 "Streams"), the usage it reports (SPEC §7), and whether it ends the stream
 * or reports an error. Never throws: an event we cannot read means nothing.
 */

export interface TextDelta {
  /** Where the text sits in this event's JSON data, e.g. `$.choices[0].delta.content`. */
  path: string;
  value: string;
  /**
   * Which logical text this piece continues (`choice:0:content`, `choice:0:tool:1`, `block:2`,
   * `item:msg_1:content:0` …). A secret can be split across events of one stream but never
   * across two, so hold-back scanning is per stream key.
   */
  stream: string;
}

export interface StreamSignal {
  /** New text the agent will see, in order. Most events carry one piece; some carry several (several choices or tool calls). */
  texts?: TextDelta[];
  /**
   * Text that repeats what earlier deltas of the same stream key already carried (Responses API
   * `*.done` events, `response.output_item.done`, `response.completed`). Not to be scanned again,
   * but to be rewritten like the deltas were when redacting, or the agent's SDK would show the
   * original text from the final object.
   */
  echoes?: TextDelta[];
  /** Running totals: a later value for the same field replaces an earlier one. */
  usage?: Partial<Usage>;
  done?: boolean;
  /** The extra OpenAI chunk that `stream_options.include_usage` adds: no choices, only usage. */
  isUsageOnlyChunk?: boolean;
  error?: boolean;
}

type Json = Record<string, unknown>;

function parse(data: string): Json | null {
  if (data === '' || (data[0] !== '{' && data.trimStart()[0] !== '{')) return null;
  try {
    const v: unknown = JSON.parse(data);
    return isRecord(v) ? v : null;
  } catch {
    return null;
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function numOr0(v: unknown): number {
  return num(v) ?? 0;
}

class Pieces {
  texts: TextDelta[] = [];
  echoes: TextDelta[] = [];
  add(list: 'texts' | 'echoes', path: string, value: unknown, stream: string): void {
    if (typeof value === 'string' && value !== '') this[list].push({ path, value, stream });
  }
  into(s: StreamSignal): StreamSignal {
    if (this.texts.length > 0) s.texts = this.texts;
    if (this.echoes.length > 0) s.echoes = this.echoes;
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI chat completions and legacy completions

function openai(api: 'openai_chat' | 'openai_completions', data: string): StreamSignal {
  if (data.trim() === '[DONE]') return { done: true };
  const j = parse(data);
  if (!j) return {};
  const s: StreamSignal = {};
  if (j.error !== undefined && j.error !== null) s.error = true;
  const pieces = new Pieces();
  if (Array.isArray(j.choices)) {
    j.choices.forEach((ch, i) => {
      if (!isRecord(ch)) return;
      // The array position locates the text in this chunk; `index` says which choice it continues.
      const idx = num(ch.index) ?? i;
      const p = `$.choices[${i}]`;
      if (api === 'openai_completions') return pieces.add('texts', `${p}.text`, ch.text, `choice:${idx}`);
      const d = ch.delta;
      if (!isRecord(d)) return;
      pieces.add('texts', `${p}.delta.content`, d.content, `choice:${idx}:content`);
      pieces.add('texts', `${p}.delta.refusal`, d.refusal, `choice:${idx}:refusal`);
      if (Array.isArray(d.tool_calls)) {
        d.tool_calls.forEach((tc, k) => {
          if (!isRecord(tc) || !isRecord(tc.function)) return;
          const key = `choice:${idx}:tool:${num(tc.index) ?? k}`;
          pieces.add('texts', `${p}.delta.tool_calls[${k}].function.arguments`, tc.function.arguments, key);
        });
      }
      if (isRecord(d.function_call)) {
        pieces.add('texts', `${p}.delta.function_call.arguments`, d.function_call.arguments, `choice:${idx}:function_call`);
      }
    });
  }
  if (isRecord(j.usage)) {
    const u: Partial<Usage> = {};
    const input = num(j.usage.prompt_tokens);
    const output = num(j.usage.completion_tokens);
    if (input !== undefined) u.inputTokens = input;
    if (output !== undefined) u.outputTokens = output;
    s.usage = u;
    if (Array.isArray(j.choices) && j.choices.length === 0) s.isUsageOnlyChunk = true;
  }
  return pieces.into(s);
}

// ---------------------------------------------------------------------------------------------
// OpenAI Responses API

/** Item ids tie deltas, `.done` events and the final output together; the output index is the fallback. */
function itemKey(j: Json): string {
  return typeof j.item_id === 'string' ? `item:${j.item_id}` : `output:${numOr0(j.output_index)}`;
}

/** The texts of one output item, keyed as its deltas were. */
function itemTexts(item: unknown, p: string, outputIndex: number, list: 'texts' | 'echoes', pieces: Pieces): void {
  if (!isRecord(item)) return;
  const key = typeof item.id === 'string' ? `item:${item.id}` : `output:${outputIndex}`;
  const parts = (arr: unknown, field: string, sub: string): void => {
    if (!Array.isArray(arr)) return;
    arr.forEach((c, k) => {
      if (!isRecord(c)) return;
      pieces.add(list, `${p}.${field}[${k}].text`, c.text, `${key}:${sub}:${k}`);
      pieces.add(list, `${p}.${field}[${k}].refusal`, c.refusal, `${key}:${sub}:${k}`);
    });
  };
  switch (item.type) {
    case 'message':
      return parts(item.content, 'content', 'content');
    case 'reasoning':
      parts(item.summary, 'summary', 'summary');
      return parts(item.content, 'content', 'reasoning');
    case 'function_call':
    case 'mcp_call':
      pieces.add(list, `${p}.arguments`, item.arguments, `${key}:arguments`);
      // An MCP call's output comes whole, with no deltas before it: always new text.
      return pieces.add('texts', `${p}.output`, item.output, `${key}:output`);
    case 'custom_tool_call':
      return pieces.add(list, `${p}.input`, item.input, `${key}:input`);
    default:
  }
}

function responseUsage(r: unknown): Partial<Usage> | undefined {
  if (!isRecord(r) || !isRecord(r.usage)) return undefined;
  const u: Partial<Usage> = {};
  const input = num(r.usage.input_tokens);
  const output = num(r.usage.output_tokens);
  if (input !== undefined) u.inputTokens = input;
  if (output !== undefined) u.outputTokens = output;
  return u;
}

function responses(ev: Pick<SseEvent, 'event' | 'data'>): StreamSignal {
  const j = parse(ev.data);
  if (!j) return {};
  const type = typeof j.type === 'string' ? j.type : ev.event;
  const pieces = new Pieces();
  const ci = numOr0(j.content_index);
  switch (type) {
    case 'response.output_text.delta':
    case 'response.refusal.delta':
      pieces.add('texts', '$.delta', j.delta, `${itemKey(j)}:content:${ci}`);
      break;
    case 'response.function_call_arguments.delta':
    case 'response.mcp_call_arguments.delta':
      pieces.add('texts', '$.delta', j.delta, `${itemKey(j)}:arguments`);
      break;
    case 'response.custom_tool_call_input.delta':
      pieces.add('texts', '$.delta', j.delta, `${itemKey(j)}:input`);
      break;
    case 'response.reasoning_summary_text.delta':
      pieces.add('texts', '$.delta', j.delta, `${itemKey(j)}:summary:${numOr0(j.summary_index)}`);
      break;
    case 'response.reasoning_text.delta':
      pieces.add('texts', '$.delta', j.delta, `${itemKey(j)}:reasoning:${ci}`);
      break;
    case 'response.output_text.done':
      pieces.add('echoes', '$.text', j.text, `${itemKey(j)}:content:${ci}`);
      break;
    case 'response.refusal.done':
      pieces.add('echoes', '$.refusal', j.refusal, `${itemKey(j)}:content:${ci}`);
      break;
    case 'response.function_call_arguments.done':
    case 'response.mcp_call_arguments.done':
      pieces.add('echoes', '$.arguments', j.arguments, `${itemKey(j)}:arguments`);
      break;
    case 'response.custom_tool_call_input.done':
      pieces.add('echoes', '$.input', j.input, `${itemKey(j)}:input`);
      break;
    case 'response.reasoning_summary_text.done':
      pieces.add('echoes', '$.text', j.text, `${itemKey(j)}:summary:${numOr0(j.summary_index)}`);
      break;
    case 'response.reasoning_text.done':
      pieces.add('echoes', '$.text', j.text, `${itemKey(j)}:reasoning:${ci}`);
      break;
    case 'response.content_part.added':
    case 'response.content_part.done':
      if (isRecord(j.part)) {
        const list = type.endsWith('.added') ? 'texts' : 'echoes';
        pieces.add(list, '$.part.text', j.part.text, `${itemKey(j)}:content:${ci}`);
        pieces.add(list, '$.part.refusal', j.part.refusal, `${itemKey(j)}:content:${ci}`);
      }
      break;
    case 'response.reasoning_summary_part.added':
    case 'response.reasoning_summary_part.done':
      if (isRecord(j.part)) {
        const list = type.endsWith('.added') ? 'texts' : 'echoes';
        pieces.add(list, '$.part.text', j.part.text, `${itemKey(j)}:summary:${numOr0(j.summary_index)}`);
      }
      break;
    // Items are announced (normally empty) before their deltas and repeated whole after them.
    case 'response.output_item.added':
      itemTexts(j.item, '$.item', numOr0(j.output_index), 'texts', pieces);
      break;
    case 'response.output_item.done':
      itemTexts(j.item, '$.item', numOr0(j.output_index), 'echoes', pieces);
      break;
    default:
  }
  const s: StreamSignal = {};
  if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
    const r = j.response;
    if (isRecord(r) && Array.isArray(r.output)) {
      r.output.forEach((item, i) => itemTexts(item, `$.response.output[${i}]`, i, 'echoes', pieces));
    }
    const u = responseUsage(r);
    if (u) s.usage = u;
    if (type === 'response.failed') s.error = true;
    else s.done = true;
  }
  if (type === 'error') s.error = true;
  return pieces.into(s);
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages

/** Anthropic counts cached prompt tokens apart from input_tokens; all of them are input. */
function anthropicInput(u: Json): number {
  return numOr0(u.input_tokens) + numOr0(u.cache_creation_input_tokens) + numOr0(u.cache_read_input_tokens);
}

function anthropic(ev: Pick<SseEvent, 'event' | 'data'>): StreamSignal {
  const j = parse(ev.data);
  if (!j) return {};
  const type = typeof j.type === 'string' ? j.type : ev.event;
  const pieces = new Pieces();
  const key = `block:${numOr0(j.index)}`;
  switch (type) {
    case 'message_start': {
      const m = j.message;
      if (isRecord(m) && isRecord(m.usage)) return { usage: { inputTokens: anthropicInput(m.usage) } };
      return {};
    }
    case 'content_block_start': {
      const b = j.content_block;
      if (isRecord(b)) {
        pieces.add('texts', '$.content_block.text', b.text, key);
        pieces.add('texts', '$.content_block.thinking', b.thinking, key);
      }
      return pieces.into({});
    }
    case 'content_block_delta': {
      const d = j.delta;
      if (!isRecord(d)) return {};
      if (d.type === 'text_delta') pieces.add('texts', '$.delta.text', d.text, key);
      else if (d.type === 'input_json_delta') pieces.add('texts', '$.delta.partial_json', d.partial_json, key);
      else if (d.type === 'thinking_delta') pieces.add('texts', '$.delta.thinking', d.thinking, key);
      return pieces.into({});
    }
    case 'message_delta': {
      const u = j.usage;
      if (!isRecord(u)) return {};
      const usage: Partial<Usage> = {};
      const output = num(u.output_tokens);
      if (output !== undefined) usage.outputTokens = output;
      // Newer API versions repeat cumulative input counts here; null means "not reported".
      if (num(u.input_tokens) !== undefined && u.cache_creation_input_tokens !== null && u.cache_read_input_tokens !== null) {
        usage.inputTokens = anthropicInput(u);
      }
      return { usage };
    }
    case 'message_stop':
      return { done: true };
    case 'error':
      return { error: true };
    default:
      return {};
  }
}

// ---------------------------------------------------------------------------------------------
// MCP over SSE: each `message` event is a whole JSON-RPC message

function mcp(data: string): StreamSignal {
  const j = parse(data);
  if (!j) return {};
  const pieces = new Pieces();
  const r = j.result;
  if (isRecord(r) && Array.isArray(r.content)) {
    const id = typeof j.id === 'string' || typeof j.id === 'number' ? String(j.id) : '';
    r.content.forEach((c, k) => {
      if (isRecord(c)) pieces.add('texts', `$.result.content[${k}].text`, c.text, `rpc:${id}:content:${k}`);
    });
  }
  // A JSON-RPC error is an answer like any other, not a broken stream: no `error` flag.
  return pieces.into({});
}

export function interpretEvent(api: ApiKind, ev: Pick<SseEvent, 'event' | 'data'>): StreamSignal {
  try {
    switch (api) {
      case 'openai_chat':
      case 'openai_completions':
        return openai(api, ev.data);
      case 'openai_responses':
        return responses(ev);
      case 'anthropic_messages':
        return anthropic(ev);
      case 'mcp':
        return mcp(ev.data);
      default:
        return {};
    }
  } catch {
    return {};
  }
}
