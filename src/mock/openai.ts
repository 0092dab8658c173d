import type { RequestOptions } from './options.js';
import { BadRequest, dataFrame, eventFrame, json, type Reply } from './reply.js';
import {
  answerText,
  contentText,
  countTokens,
  EMBEDDING_DIMS,
  embedding,
  embeddingBase64,
  isRecord,
  nextId,
  nowSeconds,
  splitChars,
  splitWords,
  stableId,
} from './text.js';
import { pickTool, toolArguments, type ToolPick } from './tools.js';

/** OpenAI wire formats: chat completions, legacy completions, Responses API, embeddings, models. */

export const MODELS = ['mock-gpt', 'mock-gpt-mini', 'mock-embedding'];
const FINGERPRINT = 'fp_renlayer_mock';
const MAX_EMBEDDING_DIMS = 4096;

interface ToolCall {
  id: string;
  name: string;
  args: string;
}

function errorType(status: number): { type: string; code: string | null } {
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 403) return { type: 'permission_error', code: null };
  if (status === 404) return { type: 'invalid_request_error', code: 'not_found' };
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

export function openaiError(status: number, message: string, param: string | null = null): Reply {
  const t = errorType(status);
  return json(status, { error: { message, type: t.type, param, code: status === 400 ? null : t.code } });
}

function object(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new BadRequest('The request body must be a JSON object.');
  return body;
}

function modelOf(req: Record<string, unknown>): string {
  return typeof req.model === 'string' && req.model !== '' ? req.model : 'mock-gpt';
}

/** The answer and its stream pieces: the deterministic text, or in echo mode the user's text cut anywhere. */
function answer(userText: string, opts: RequestOptions): { text: string; pieces: string[] } {
  if (opts.echo) return { text: userText, pieces: splitChars(userText, opts.chunks) };
  const text = answerText(userText);
  return { text, pieces: splitWords(text, opts.chunks) };
}

function makeCall(tool: ToolPick, userText: string): ToolCall {
  const args = JSON.stringify(toolArguments(tool.schema, userText));
  return { id: stableId('call_', `${tool.name}\n${args}`), name: tool.name, args };
}

// ---------------------------------------------------------------------------------------------
// Chat completions

function chatTools(req: Record<string, unknown>): { tools: ToolPick[]; forced: string | null; none: boolean } {
  const tools: ToolPick[] = [];
  if (Array.isArray(req.tools)) {
    for (const t of req.tools) {
      if (isRecord(t) && isRecord(t.function) && typeof t.function.name === 'string') {
        tools.push({ name: t.function.name, schema: t.function.parameters });
      }
    }
  }
  const choice = req.tool_choice;
  const forced = isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === 'string' ? choice.function.name : null;
  return { tools, forced, none: choice === 'none' };
}

export function chatCompletions(body: unknown, opts: RequestOptions): Reply {
  const req = object(body);
  const messages = req.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRequest("Missing required parameter: 'messages'.", 'messages');
  }
  const model = modelOf(req);
  const promptParts: string[] = [];
  let userText = '';
  for (const m of messages) {
    if (!isRecord(m)) continue;
    const text = contentText(m.content);
    promptParts.push(text);
    if (Array.isArray(m.tool_calls)) {
      for (const tc of m.tool_calls) {
        if (isRecord(tc) && isRecord(tc.function)) promptParts.push(`${String(tc.function.name)}${String(tc.function.arguments)}`);
      }
    }
    if (m.role === 'user' && text !== '') userText = text;
  }
  const promptTokens = countTokens(promptParts.join('\n'));
  const last = messages[messages.length - 1];
  // Only a fresh user turn triggers a tool call; after a tool result the model answers in text.
  let call: ToolCall | null = null;
  if (isRecord(last) && last.role === 'user') {
    const { tools, forced, none } = chatTools(req);
    const tool = pickTool(tools, forced, none);
    if (tool) call = makeCall(tool, userText);
  }
  const id = nextId('chatcmpl-');
  const created = nowSeconds();
  const ans = call ? null : answer(userText, opts);
  const completionTokens = call ? countTokens(call.name + call.args) : countTokens((ans as { text: string }).text);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  const finish = call ? 'tool_calls' : 'stop';

  if (req.stream !== true) {
    const message = call
      ? {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.args } }],
          refusal: null,
          annotations: [],
        }
      : { role: 'assistant', content: ans?.text, refusal: null, annotations: [] };
    return json(200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage,
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
    });
  }

  const includeUsage = isRecord(req.stream_options) && req.stream_options.include_usage === true;
  // With include_usage, real OpenAI sends `usage: null` on every chunk but the last one.
  const chunk = (delta: unknown, finishReason: string | null): string =>
    dataFrame({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    });
  let head: string;
  let deltas: string[];
  if (call) {
    head = chunk(
      { role: 'assistant', content: null, tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }], refusal: null },
      null,
    );
    deltas = splitChars(call.args, opts.chunks).map((p) => chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null));
  } else {
    head = chunk({ role: 'assistant', content: '', refusal: null }, null);
    deltas = (ans as { pieces: string[] }).pieces.map((p) => chunk({ content: p }, null));
  }
  const tail = [chunk({}, finish)];
  if (includeUsage) {
    tail.push(
      dataFrame({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: FINGERPRINT, choices: [], usage }),
    );
  }
  tail.push('data: [DONE]\n\n');
  return { kind: 'sse', head: [head], deltas, tail };
}

// ---------------------------------------------------------------------------------------------
// Legacy completions

export function completions(body: unknown, opts: RequestOptions): Reply {
  const req = object(body);
  const prompt = req.prompt;
  let userText: string;
  if (typeof prompt === 'string') userText = prompt;
  else if (Array.isArray(prompt) && typeof prompt[0] === 'string') userText = prompt[0];
  else if (Array.isArray(prompt)) userText = prompt.join(' ');
  else throw new BadRequest("Missing required parameter: 'prompt'.", 'prompt');
  const model = modelOf(req);
  const id = nextId('cmpl-');
  const created = nowSeconds();
  const ans = answer(userText, opts);
  const promptTokens = countTokens(userText);
  const completionTokens = countTokens(ans.text);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  if (req.stream !== true) {
    return json(200, {
      id,
      object: 'text_completion',
      created,
      model,
      choices: [{ text: ans.text, index: 0, logprobs: null, finish_reason: 'stop' }],
      usage,
    });
  }
  const includeUsage = isRecord(req.stream_options) && req.stream_options.include_usage === true;
  const chunk = (text: string, finish: string | null): string =>
    dataFrame({
      id,
      object: 'text_completion',
      created,
      model,
      choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const tail = [chunk('', 'stop')];
  if (includeUsage) tail.push(dataFrame({ id, object: 'text_completion', created, model, choices: [], usage }));
  tail.push('data: [DONE]\n\n');
  return { kind: 'sse', head: [], deltas: ans.pieces.map((p) => chunk(p, null)), tail };
}

// ---------------------------------------------------------------------------------------------
// Responses API

function responsesTools(req: Record<string, unknown>): { tools: ToolPick[]; forced: string | null; none: boolean } {
  const tools: ToolPick[] = [];
  if (Array.isArray(req.tools)) {
    for (const t of req.tools) {
      // Built-in tools (web_search, file_search...) have no name; the mock only calls functions.
      if (isRecord(t) && t.type === 'function' && typeof t.name === 'string') tools.push({ name: t.name, schema: t.parameters });
    }
  }
  const choice = req.tool_choice;
  const forced = isRecord(choice) && choice.type === 'function' && typeof choice.name === 'string' ? choice.name : null;
  return { tools, forced, none: choice === 'none' };
}

export function responses(body: unknown, opts: RequestOptions): Reply {
  const req = object(body);
  const input = req.input;
  const promptParts: string[] = [];
  if (typeof req.instructions === 'string') promptParts.push(req.instructions);
  let userText = '';
  let lastIsUser = false;
  if (typeof input === 'string') {
    promptParts.push(input);
    userText = input;
    lastIsUser = true;
  } else if (Array.isArray(input)) {
    for (const item of input) {
      lastIsUser = false;
      if (!isRecord(item)) continue;
      if (item.type === 'function_call_output') {
        promptParts.push(typeof item.output === 'string' ? item.output : contentText(item.output));
      } else if (item.type === 'function_call') {
        promptParts.push(`${String(item.name)}${String(item.arguments)}`);
      } else if (typeof item.role === 'string') {
        const text = contentText(item.content);
        promptParts.push(text);
        if (item.role === 'user') {
          lastIsUser = true;
          if (text !== '') userText = text;
        }
      }
    }
  } else if (input !== undefined) {
    throw new BadRequest("Invalid type for 'input': expected a string or an array of input items.", 'input');
  }
  const model = modelOf(req);
  const id = nextId('resp_');
  const created = nowSeconds();
  let call: ToolCall | null = null;
  if (lastIsUser) {
    const { tools, forced, none } = responsesTools(req);
    const tool = pickTool(tools, forced, none);
    if (tool) call = makeCall(tool, userText);
  }
  const ans = call ? null : answer(userText, opts);
  const inputTokens = countTokens(promptParts.join('\n'));
  const outputTokens = call ? countTokens(call.name + call.args) : countTokens((ans as { text: string }).text);
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  };
  const itemId = call ? stableId('fc_', call.id) : nextId('msg_');
  const part = { type: 'output_text', text: ans?.text ?? '', annotations: [], logprobs: [] };
  const item = call
    ? { id: itemId, type: 'function_call', status: 'completed', arguments: call.args, call_id: call.id, name: call.name }
    : { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [part] };
  const resp = (status: string, output: unknown[], u: unknown): Record<string, unknown> => ({
    id,
    object: 'response',
    created_at: created,
    status,
    background: false,
    completed_at: status === 'completed' ? created : null,
    error: null,
    incomplete_details: null,
    instructions: typeof req.instructions === 'string' ? req.instructions : null,
    max_output_tokens: typeof req.max_output_tokens === 'number' ? req.max_output_tokens : null,
    metadata: isRecord(req.metadata) ? req.metadata : {},
    model,
    output,
    parallel_tool_calls: req.parallel_tool_calls !== false,
    previous_response_id: typeof req.previous_response_id === 'string' ? req.previous_response_id : null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: req.store !== false,
    temperature: typeof req.temperature === 'number' ? req.temperature : 1,
    text: { format: { type: 'text' } },
    tool_choice: req.tool_choice ?? 'auto',
    tools: Array.isArray(req.tools) ? req.tools : [],
    top_p: typeof req.top_p === 'number' ? req.top_p : 1,
    truncation: 'disabled',
    usage: u,
  });
  if (req.stream !== true) return json(200, resp('completed', [item], usage));

  // Every event carries a sequence number; the SDK's accumulator needs the item and part announced
  // (output_item.added, content_part.added) before any delta refers to them by index.
  let seq = 0;
  const ev = (type: string, fields: Record<string, unknown>): string => eventFrame(type, { type, sequence_number: seq++, ...fields });
  const head = [
    ev('response.created', { response: resp('in_progress', [], null) }),
    ev('response.in_progress', { response: resp('in_progress', [], null) }),
  ];
  let deltas: string[];
  const tail: string[] = [];
  if (call) {
    head.push(ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', arguments: '' } }));
    deltas = splitChars(call.args, opts.chunks).map((p) =>
      ev('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta: p }),
    );
    tail.push(ev('response.function_call_arguments.done', { item_id: itemId, output_index: 0, name: call.name, arguments: call.args }));
  } else {
    head.push(
      ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
      ev('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { ...part, text: '' } }),
    );
    deltas = (ans as { pieces: string[] }).pieces.map((p) =>
      ev('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta: p, logprobs: [] }),
    );
    tail.push(
      ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text: part.text, logprobs: [] }),
      ev('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part }),
    );
  }
  tail.push(
    ev('response.output_item.done', { output_index: 0, item }),
    ev('response.completed', { response: resp('completed', [item], usage) }),
  );
  return { kind: 'sse', head, deltas, tail };
}

// ---------------------------------------------------------------------------------------------
// Embeddings and models

export function embeddings(body: unknown): Reply {
  const req = object(body);
  const input = req.input;
  let texts: string[];
  if (typeof input === 'string') texts = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'number')) texts = [input.join(',')];
  else if (Array.isArray(input) && input.length > 0) {
    texts = input.map((x) => (typeof x === 'string' ? x : Array.isArray(x) ? x.join(',') : JSON.stringify(x)));
  } else throw new BadRequest("'input' must be a non-empty string or array.", 'input');
  const dims =
    typeof req.dimensions === 'number' && Number.isInteger(req.dimensions) && req.dimensions > 0 && req.dimensions <= MAX_EMBEDDING_DIMS
      ? req.dimensions
      : EMBEDDING_DIMS;
  // The openai SDK asks for base64 unless the caller picks a format, and decodes it as float32.
  const base64 = req.encoding_format === 'base64';
  let tokens = 0;
  const data = texts.map((t, index) => {
    tokens += countTokens(t);
    const v = embedding(t, dims);
    return { object: 'embedding', index, embedding: base64 ? embeddingBase64(v) : v };
  });
  return json(200, { object: 'list', data, model: modelOf(req), usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

const MODEL_CREATED = 1_700_000_000;

function modelObject(id: string): Record<string, unknown> {
  return { id, object: 'model', created: MODEL_CREATED, owned_by: 'renlayer-mock' };
}

export function listModels(): Reply {
  return json(200, { object: 'list', data: MODELS.map(modelObject) });
}

/** Any id exists: the mock serves whatever model name the caller configured. */
export function getModel(id: string): Reply {
  return json(200, modelObject(id));
}
