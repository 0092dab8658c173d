import { Collector, eachRecord, indexPath, isRecord, keyPath, walkStrings } from './collect.js';
import { blocks } from './anthropic.js';
import { content, responsesItem } from './openai.js';
import type { ApiKind, TextPart } from './types.js';

/**
 * The text of a complete (non-streamed) answer, per dialect, for response DLP (SPEC §3 step 9).
 * Answers share their shapes with request history (an assistant message, a tool_use block, a
 * Responses output item), so the request readers are reused. Never throws.
 */

function chat(body: Record<string, unknown>, c: Collector): void {
  eachRecord(body.choices, '$.choices', (ch, p) => {
    const m = ch.message;
    if (!isRecord(m)) return;
    const mp = keyPath(p, 'message');
    content(m.content, keyPath(mp, 'content'), 'message', c);
    c.text(keyPath(mp, 'refusal'), m.refusal, 'message');
    if (isRecord(m.audio)) c.text(keyPath(keyPath(mp, 'audio'), 'transcript'), m.audio.transcript, 'message');
    eachRecord(m.tool_calls, keyPath(mp, 'tool_calls'), (tc, tp) => {
      if (isRecord(tc.function)) c.json(`${tp}.function.arguments`, tc.function.arguments, 'tool_arguments');
      else if (isRecord(tc.custom)) c.json(`${tp}.custom.input`, tc.custom.input, 'tool_arguments');
    });
    if (isRecord(m.function_call)) c.json(`${mp}.function_call.arguments`, m.function_call.arguments, 'tool_arguments');
  });
}

function mcpMessage(m: unknown, p: string, c: Collector): void {
  if (isRecord(m) && m.result !== undefined) walkStrings(m.result, keyPath(p, 'result'), 'tool_result', c);
}

function read(api: ApiKind, body: unknown, c: Collector): void {
  if (api === 'mcp') {
    if (Array.isArray(body)) body.forEach((m, i) => mcpMessage(m, indexPath('$', i), c));
    else mcpMessage(body, '$', c);
    return;
  }
  if (!isRecord(body)) return;
  switch (api) {
    case 'openai_chat':
      return chat(body, c);
    case 'openai_completions':
      return eachRecord(body.choices, '$.choices', (ch, p) => c.text(keyPath(p, 'text'), ch.text, 'message'));
    case 'openai_responses':
      return eachRecord(body.output, '$.output', (item, p) => responsesItem(item, p, c));
    case 'anthropic_messages':
      return blocks(body.content, '$.content', 'message', c);
    default:
  }
}

export function responseTexts(api: ApiKind, body: unknown): TextPart[] {
  const c = new Collector();
  try {
    read(api, body, c);
  } catch {
    // Exotic inputs only; what was found so far is still returned.
  }
  return c.texts;
}
