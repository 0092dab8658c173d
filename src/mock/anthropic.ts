import type { RequestOptions } from './options.js';
import { BadRequest, eventFrame, json, type Reply } from './reply.js';
import { answerText, contentText, countTokens, isRecord, nextId, splitChars, splitWords, stableId } from './text.js';
import { pickTool, toolArguments, type ToolPick } from './tools.js';

/** Anthropic Messages API wire format, streaming events included. */

export const ANTHROPIC_MODELS = ['mock-claude', 'mock-claude-haiku'];

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export function anthropicError(status: number, message: string): Reply {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  return json(status, { type: 'error', error: { type, message } });
}

interface Turn {
  model: string;
  promptTokens: number;
  userText: string;
  tool: ToolPick | null;
}

/** Reads the request once: usage input, the text to answer, and whether this turn calls a tool. */
function readTurn(body: unknown): { req: Record<string, unknown>; turn: Turn } {
  if (!isRecord(body)) throw new BadRequest('The request body must be a JSON object.');
  const req = body;
  const messages = req.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new BadRequest('messages: Field required');
  const parts: string[] = [];
  if (req.system !== undefined) parts.push(contentText(req.system));
  let userText = '';
  for (const m of messages) {
    if (!isRecord(m)) continue;
    parts.push(contentText(m.content));
    if (Array.isArray(m.content)) {
      for (const b of m.content) {
        if (isRecord(b) && b.type === 'tool_use') parts.push(`${String(b.name)}${JSON.stringify(b.input ?? {})}`);
      }
    }
    if (m.role === 'user') {
      const text = contentText(m.content, false);
      if (text !== '') userText = text;
    }
  }
  // A user turn that only carries tool results is the tool loop coming back: answer in text.
  const last = messages[messages.length - 1];
  const freshUserTurn =
    isRecord(last) &&
    last.role === 'user' &&
    !(Array.isArray(last.content) && last.content.some((b) => isRecord(b) && b.type === 'tool_result'));
  let tool: ToolPick | null = null;
  if (freshUserTurn && Array.isArray(req.tools)) {
    const tools: ToolPick[] = [];
    for (const t of req.tools) {
      // Server tools (web_search...) carry a versioned `type`; only custom tools are called.
      if (isRecord(t) && typeof t.name === 'string' && (t.type === undefined || t.type === 'custom')) {
        tools.push({ name: t.name, schema: t.input_schema });
      }
    }
    const choice = isRecord(req.tool_choice) ? req.tool_choice : null;
    const forced = choice?.type === 'tool' && typeof choice.name === 'string' ? choice.name : null;
    tool = pickTool(tools, forced, choice?.type === 'none');
  }
  const model = typeof req.model === 'string' && req.model !== '' ? req.model : 'mock-claude';
  return { req, turn: { model, promptTokens: countTokens(parts.join('\n')), userText, tool } };
}

export function countMessageTokens(body: unknown): Reply {
  return json(200, { input_tokens: readTurn(body).turn.promptTokens });
}

export function messages(body: unknown, opts: RequestOptions): Reply {
  const { req, turn } = readTurn(body);
  const id = nextId('msg_');
  let block: Record<string, unknown>;
  let stopReason: string;
  let outputTokens: number;
  let pieces: string[];
  if (turn.tool) {
    const input = toolArguments(turn.tool.schema, turn.userText);
    const args = JSON.stringify(input);
    block = { type: 'tool_use', id: stableId('toolu_', `${turn.tool.name}\n${args}`), name: turn.tool.name, input };
    stopReason = 'tool_use';
    outputTokens = countTokens(turn.tool.name + args);
    pieces = splitChars(args, opts.chunks);
  } else {
    const text = opts.echo ? turn.userText : answerText(turn.userText);
    block = { type: 'text', text };
    stopReason = 'end_turn';
    outputTokens = countTokens(text);
    pieces = opts.echo ? splitChars(text, opts.chunks) : splitWords(text, opts.chunks);
  }
  const usage = {
    input_tokens: turn.promptTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
  if (req.stream !== true) {
    return json(200, {
      id,
      type: 'message',
      role: 'assistant',
      model: turn.model,
      content: [block],
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    });
  }
  const ev = (type: string, fields: Record<string, unknown>): string => eventFrame(type, { type, ...fields });
  const head = [
    // Like the real API, message_start reports the input and a placeholder output count; the
    // final output count arrives in message_delta.
    ev('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: turn.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    ev('content_block_start', {
      index: 0,
      content_block: block.type === 'tool_use' ? { ...block, input: {} } : { type: 'text', text: '' },
    }),
    ev('ping', {}),
  ];
  const deltas = pieces.map((p) =>
    ev('content_block_delta', {
      index: 0,
      delta: block.type === 'tool_use' ? { type: 'input_json_delta', partial_json: p } : { type: 'text_delta', text: p },
    }),
  );
  const tail = [
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } }),
    ev('message_stop', {}),
  ];
  return { kind: 'sse', head, deltas, tail };
}

/** The Anthropic shape of GET /v1/models, chosen when the caller sends anthropic-version. */
export function listAnthropicModels(): Reply {
  const data = ANTHROPIC_MODELS.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' }));
  return json(200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null });
}
