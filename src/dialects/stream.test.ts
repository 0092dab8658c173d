import { describe, expect, it } from 'vitest';
import { messages } from '../mock/anthropic.js';
import { chatCompletions, completions, responses } from '../mock/openai.js';
import type { RequestOptions } from '../mock/options.js';
import type { Reply } from '../mock/reply.js';
import { SseParser } from './sse.js';
import { interpretEvent, type StreamSignal } from './stream.js';
import type { ApiKind, Usage } from './types.js';

// Echo mode: the answer is the user's text cut at arbitrary characters, so the deltas can be
// checked against it exactly.
const ECHO: RequestOptions = { latencyMs: 0, chunks: 9, chunkDelayMs: 0, echo: true, status: null, fail: null };
const USER_TEXT = 'Résumé for 山田太郎 🧑‍💻: key sk-test-1234 ✓';

function sse(reply: Reply): string {
  if (reply.kind !== 'sse') throw new Error(`expected an SSE reply, got ${reply.kind}`);
  return [...reply.head, ...reply.deltas, ...reply.tail].join('');
}

interface Run {
  signals: StreamSignal[];
  byStream: Map<string, string>;
  echoes: Map<string, string[]>;
  usage: Usage | null;
  done: boolean;
  error: boolean;
}

/** Interprets a whole stream the way the proxy does: texts per stream key, usage as running totals. */
function run(api: ApiKind, text: string): Run {
  const p = new SseParser();
  const events = [...p.push(new TextEncoder().encode(text)), ...p.end()];
  const r: Run = { signals: [], byStream: new Map(), echoes: new Map(), usage: null, done: false, error: false };
  for (const ev of events) {
    const s = interpretEvent(api, ev);
    r.signals.push(s);
    for (const t of s.texts ?? []) r.byStream.set(t.stream, (r.byStream.get(t.stream) ?? '') + t.value);
    for (const t of s.echoes ?? []) r.echoes.set(t.stream, [...(r.echoes.get(t.stream) ?? []), t.value]);
    if (s.usage) {
      r.usage ??= { inputTokens: 0, outputTokens: 0 };
      if (s.usage.inputTokens !== undefined) r.usage.inputTokens = s.usage.inputTokens;
      if (s.usage.outputTokens !== undefined) r.usage.outputTokens = s.usage.outputTokens;
    }
    r.done ||= s.done === true;
    r.error ||= s.error === true;
  }
  return r;
}

/** Every text's path really points at its value in the event's JSON. */
function follow(data: unknown, path: string): unknown {
  const steps = path.slice(1).match(/\.[A-Za-z_$][\w$]*|\[\d+\]/g) ?? [];
  let v: unknown = data;
  for (const s of steps) v = s.startsWith('[') ? (v as unknown[])[Number(s.slice(1, -1))] : (v as Record<string, unknown>)[s.slice(1)];
  return v;
}

function checkPaths(api: ApiKind, text: string): void {
  const p = new SseParser();
  for (const ev of [...p.push(new TextEncoder().encode(text)), ...p.end()]) {
    const s = interpretEvent(api, ev);
    for (const t of [...(s.texts ?? []), ...(s.echoes ?? [])]) expect(follow(JSON.parse(ev.data), t.path), t.path).toBe(t.value);
  }
}

describe('interpretEvent: OpenAI chat completions', () => {
  const body = { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: USER_TEXT }] };

  it('streams the content, reports usage from the usage-only chunk and ends at [DONE]', () => {
    const stream = sse(chatCompletions(body, ECHO));
    const r = run('openai_chat', stream);
    expect([...r.byStream]).toEqual([['choice:0:content', USER_TEXT]]);
    expect(r.usage).toEqual({ inputTokens: Math.ceil(USER_TEXT.length / 4), outputTokens: Math.ceil(USER_TEXT.length / 4) });
    expect(r.signals.filter((s) => s.isUsageOnlyChunk)).toHaveLength(1);
    expect(r.signals.at(-1)).toEqual({ done: true });
    expect(r.done).toBe(true);
    expect(r.error).toBe(false);
    checkPaths('openai_chat', stream);
  });

  it('streams tool call arguments', () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } }];
    const stream = sse(chatCompletions({ ...body, tools }, ECHO));
    const r = run('openai_chat', stream);
    expect(r.byStream.get('choice:0:tool:0')).toBe(JSON.stringify({ q: USER_TEXT }));
    checkPaths('openai_chat', stream);
  });

  it('reports every piece of a chunk with several choices or tool calls', () => {
    const data = JSON.stringify({
      choices: [
        { index: 1, delta: { content: 'second choice' } },
        {
          index: 0,
          delta: {
            refusal: 'no',
            tool_calls: [
              { index: 0, function: { arguments: '{"a"' } },
              { index: 1, id: 'call_b', function: { name: 'b', arguments: '' } },
              { index: 2, function: { arguments: ':1}' } },
            ],
          },
        },
      ],
    });
    expect(interpretEvent('openai_chat', { event: null, data })).toEqual({
      texts: [
        { path: '$.choices[0].delta.content', value: 'second choice', stream: 'choice:1:content' },
        { path: '$.choices[1].delta.refusal', value: 'no', stream: 'choice:0:refusal' },
        { path: '$.choices[1].delta.tool_calls[0].function.arguments', value: '{"a"', stream: 'choice:0:tool:0' },
        { path: '$.choices[1].delta.tool_calls[2].function.arguments', value: ':1}', stream: 'choice:0:tool:2' },
      ],
    });
  });

  it('reads a legacy function_call delta', () => {
    const data = JSON.stringify({ choices: [{ index: 0, delta: { function_call: { arguments: '{"x":' } } }] });
    expect(interpretEvent('openai_chat', { event: null, data }).texts).toEqual([
      { path: '$.choices[0].delta.function_call.arguments', value: '{"x":', stream: 'choice:0:function_call' },
    ]);
  });

  it('tells the usage-only chunk from a chunk carrying `usage: null` and from an Azure filter chunk', () => {
    expect(interpretEvent('openai_chat', { event: null, data: '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}' })).toEqual({
      usage: { inputTokens: 3, outputTokens: 4 },
      isUsageOnlyChunk: true,
    });
    expect(interpretEvent('openai_chat', { event: null, data: '{"choices":[{"index":0,"delta":{}}],"usage":null}' })).toEqual({});
    expect(interpretEvent('openai_chat', { event: null, data: '{"choices":[],"prompt_filter_results":[]}' })).toEqual({});
  });

  it('flags an error chunk', () => {
    expect(interpretEvent('openai_chat', { event: null, data: '{"error":{"message":"overloaded","type":"server_error"}}' })).toEqual({ error: true });
  });
});

describe('interpretEvent: OpenAI legacy completions', () => {
  it('streams choices[i].text with usage and [DONE]', () => {
    const stream = sse(completions({ model: 'x', prompt: USER_TEXT, stream: true, stream_options: { include_usage: true } }, ECHO));
    const r = run('openai_completions', stream);
    expect([...r.byStream]).toEqual([['choice:0', USER_TEXT]]);
    expect(r.usage).toEqual({ inputTokens: Math.ceil(USER_TEXT.length / 4), outputTokens: Math.ceil(USER_TEXT.length / 4) });
    expect(r.signals.filter((s) => s.isUsageOnlyChunk)).toHaveLength(1);
    expect(r.done).toBe(true);
    checkPaths('openai_completions', stream);
  });
});

describe('interpretEvent: OpenAI Responses API', () => {
  it('streams output text, marks the repeats as echoes under the same key, and reads usage at response.completed', () => {
    const stream = sse(responses({ model: 'gpt-5', input: USER_TEXT, stream: true }, ECHO));
    const r = run('openai_responses', stream);
    expect(r.byStream.size).toBe(1);
    const [key, text] = [...r.byStream][0]!;
    expect(key).toMatch(/^item:msg_.+:content:0$/);
    expect(text).toBe(USER_TEXT);
    // output_text.done, content_part.done, output_item.done and response.completed all repeat it.
    expect(r.echoes.get(key)).toEqual([USER_TEXT, USER_TEXT, USER_TEXT, USER_TEXT]);
    expect(r.usage).toEqual({ inputTokens: Math.ceil(USER_TEXT.length / 4), outputTokens: Math.ceil(USER_TEXT.length / 4) });
    expect(r.signals.at(-1)?.done).toBe(true);
    expect(r.error).toBe(false);
    checkPaths('openai_responses', stream);
  });

  it('streams function call arguments with their echoes', () => {
    const tools = [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }];
    const stream = sse(responses({ model: 'gpt-5', input: USER_TEXT, tools, stream: true }, ECHO));
    const r = run('openai_responses', stream);
    const args = JSON.stringify({ q: USER_TEXT });
    const [key, text] = [...r.byStream][0]!;
    expect(key).toMatch(/^item:fc_.+:arguments$/);
    expect(text).toBe(args);
    expect(r.echoes.get(key)).toEqual([args, args, args]);
    checkPaths('openai_responses', stream);
  });

  it('reads refusal, reasoning and custom tool deltas', () => {
    const ev = (type: string, f: Record<string, unknown>) => interpretEvent('openai_responses', { event: type, data: JSON.stringify({ type, ...f }) });
    expect(ev('response.refusal.delta', { item_id: 'm', output_index: 0, content_index: 1, delta: 'no' }).texts).toEqual([
      { path: '$.delta', value: 'no', stream: 'item:m:content:1' },
    ]);
    expect(ev('response.reasoning_summary_text.delta', { item_id: 'r', output_index: 0, summary_index: 2, delta: 'hm' }).texts).toEqual([
      { path: '$.delta', value: 'hm', stream: 'item:r:summary:2' },
    ]);
    expect(ev('response.custom_tool_call_input.delta', { item_id: 'c', output_index: 0, delta: 'SELECT' }).texts).toEqual([
      { path: '$.delta', value: 'SELECT', stream: 'item:c:input' },
    ]);
  });

  it('flags error and response.failed, and takes usage from response.incomplete', () => {
    expect(interpretEvent('openai_responses', { event: 'error', data: '{"type":"error","code":"server_error","message":"boom","sequence_number":4}' })).toEqual({ error: true });
    expect(
      interpretEvent('openai_responses', {
        event: 'response.failed',
        data: JSON.stringify({ type: 'response.failed', response: { status: 'failed', output: [], usage: { input_tokens: 3, output_tokens: 1 } } }),
      }),
    ).toEqual({ error: true, usage: { inputTokens: 3, outputTokens: 1 } });
    expect(
      interpretEvent('openai_responses', {
        event: 'response.incomplete',
        data: JSON.stringify({ type: 'response.incomplete', response: { status: 'incomplete', output: [], usage: { input_tokens: 3, output_tokens: 9 } } }),
      }),
    ).toEqual({ done: true, usage: { inputTokens: 3, outputTokens: 9 } });
  });

  it('falls back to the SSE event name when the data has no type', () => {
    expect(interpretEvent('openai_responses', { event: 'response.output_text.delta', data: '{"output_index":2,"content_index":0,"delta":"x"}' }).texts).toEqual([
      { path: '$.delta', value: 'x', stream: 'output:2:content:0' },
    ]);
  });
});

describe('interpretEvent: Anthropic messages', () => {
  const body = { model: 'claude', max_tokens: 100, stream: true, messages: [{ role: 'user', content: USER_TEXT }] };

  it('streams text, reads input usage at message_start, output at message_delta, and ends at message_stop', () => {
    const stream = sse(messages(body, ECHO));
    const r = run('anthropic_messages', stream);
    expect([...r.byStream]).toEqual([['block:0', USER_TEXT]]);
    expect(r.signals[0]).toEqual({ usage: { inputTokens: Math.ceil(USER_TEXT.length / 4) } });
    expect(r.usage).toEqual({ inputTokens: Math.ceil(USER_TEXT.length / 4), outputTokens: Math.ceil(USER_TEXT.length / 4) });
    expect(r.signals.at(-1)).toEqual({ done: true });
    checkPaths('anthropic_messages', stream);
  });

  it('streams tool input as partial JSON', () => {
    const tools = [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }];
    const stream = sse(messages({ ...body, tools }, ECHO));
    expect(run('anthropic_messages', stream).byStream.get('block:0')).toBe(JSON.stringify({ q: USER_TEXT }));
  });

  it('counts cache tokens as input, and takes cumulative input from message_delta only when fully reported', () => {
    const start = { type: 'message_start', message: { usage: { input_tokens: 5, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000, output_tokens: 1 } } };
    expect(interpretEvent('anthropic_messages', { event: 'message_start', data: JSON.stringify(start) })).toEqual({ usage: { inputTokens: 1105 } });
    const delta = (usage: unknown) => interpretEvent('anthropic_messages', { event: 'message_delta', data: JSON.stringify({ type: 'message_delta', delta: {}, usage }) });
    expect(delta({ output_tokens: 42 })).toEqual({ usage: { outputTokens: 42 } });
    expect(delta({ input_tokens: 5, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000, output_tokens: 42 })).toEqual({
      usage: { inputTokens: 1105, outputTokens: 42 },
    });
    expect(delta({ input_tokens: 5, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: 42 })).toEqual({ usage: { outputTokens: 42 } });
  });

  it('reads thinking deltas and text already present at content_block_start', () => {
    const ev = (data: unknown) => interpretEvent('anthropic_messages', { event: null, data: JSON.stringify(data) });
    expect(ev({ type: 'content_block_delta', index: 1, delta: { type: 'thinking_delta', thinking: 'hmm' } }).texts).toEqual([
      { path: '$.delta.thinking', value: 'hmm', stream: 'block:1' },
    ]);
    expect(ev({ type: 'content_block_start', index: 2, content_block: { type: 'text', text: 'pre' } }).texts).toEqual([
      { path: '$.content_block.text', value: 'pre', stream: 'block:2' },
    ]);
    expect(ev({ type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'x' } })).toEqual({});
    expect(ev({ type: 'ping' })).toEqual({});
  });

  it('flags an error event', () => {
    const data = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
    expect(interpretEvent('anthropic_messages', { event: 'error', data })).toEqual({ error: true });
  });
});

describe('interpretEvent: MCP and the rest', () => {
  it('reads tool result text from an MCP message event', () => {
    const data = JSON.stringify({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'echoed' }], isError: false } });
    expect(interpretEvent('mcp', { event: 'message', data })).toEqual({
      texts: [{ path: '$.result.content[0].text', value: 'echoed', stream: 'rpc:7:content:0' }],
    });
  });

  it('never throws on unreadable data and means nothing for comments', () => {
    const apis: ApiKind[] = ['openai_chat', 'openai_completions', 'openai_responses', 'anthropic_messages', 'embeddings', 'mcp', 'http'];
    const junk = ['', 'not json', '{', '[1,2]', 'null', '42', '"s"', '{"choices":5,"usage":7}', '{"type":"message_start","message":null}', '{"type":5}', '{"choices":[null,{"delta":5}]}'];
    for (const api of apis) {
      for (const data of junk) expect(interpretEvent(api, { event: null, data })).toEqual({});
      expect(interpretEvent(api, { event: 'message_start', data: '' })).toEqual({});
    }
  });
});
