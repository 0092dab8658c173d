import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer, type RecordedRequest } from '../src/mock/server.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, tenantWithAgent } from './helpers/fixtures.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';

/**
 * End to end with the official SDKs: the real `renlayer proxy` process in front of the mock
 * upstream. Every call is made twice — through the proxy and directly against the mock — and what
 * the SDK hands back must be the same, apart from per-call ids and timestamps. Then the trace the
 * proxy wrote for it is checked against what the SDK saw.
 */

let t: TestDatabase;
let mock: MockServer;
let proxy: ProxyProcess;

beforeAll(async () => {
  t = await createTestDatabase();
  mock = await startMockUpstream({ chunks: 5 });
  proxy = await startProxyProcess(t);
});

afterAll(async () => {
  await proxy?.stop();
  await mock?.close();
  await t?.close();
});

// ---------------------------------------------------------------------------------------------
// Helpers

type Row = Record<string, any>;

let prefixes = 0;

/**
 * A fresh tenant and agent whose upstream is the mock under a path prefix of its own: the mock
 * ignores the prefix, and its request log then tells exactly which requests the proxy forwarded
 * for this agent.
 */
async function agentFor(type: 'openai' | 'anthropic' | 'mcp') {
  const prefix = `/via-proxy-${type}-${++prefixes}`;
  const a = await tenantWithAgent(t.db, { upstream: mock.url + prefix, type });
  return { ...a, prefix };
}

async function forwarded(prefix: string): Promise<RecordedRequest[]> {
  const all = (await (await fetch(mock.url + '/_mock/requests')).json()) as RecordedRequest[];
  return all.filter((r) => r.url.startsWith(prefix + '/'));
}

/** Mock ids are `<prefix><8 hex><8 base36>`, new on every call; tool-call ids are derived from the call and stay compared. */
const PER_CALL_ID = /^(chatcmpl-|cmpl-|resp_|msg_)[0-9a-f]{8}[0-9a-z]{8}$/;
const TIMESTAMPS = new Set(['created', 'created_at', 'completed_at']);

/** A JSON copy without what legitimately differs between two calls (ids, timestamps). */
function scrub<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v) => {
    if (TIMESTAMPS.has(key) && typeof v === 'number') return '<time>';
    if (typeof v === 'string' && PER_CALL_ID.test(v)) return '<id>';
    return v;
  });
}

function traceIdOf(response: Response): string {
  const id = response.headers.get('x-renlayer-trace-id');
  expect(id).toMatch(/^trace_[0-9A-HJKMNP-TV-Z]{26}$/);
  return id!;
}

async function traceRow(id: string): Promise<Row> {
  const row = await eventually(async () => (await t.db.query<Row>('SELECT * FROM renlayer.traces WHERE id = $1', [id])).rows[0]);
  const { rows } = await t.db.query<{ n: string }>('SELECT count(*) AS n FROM renlayer.traces WHERE id = $1', [id]);
  expect(Number(rows[0]!.n)).toBe(1);
  return row;
}

/**
 * Every request the proxy forwarded for this tenant has exactly one trace, and nothing else has one.
 * Waits until the trace writer has caught up with what the mock received.
 */
async function tracesOfTenant(tenantId: string, prefix: string): Promise<Row[]> {
  const expected = (await forwarded(prefix)).length;
  expect(expected).toBeGreaterThan(0);
  const rows = await eventually(async () => {
    const r = (await t.db.query<Row>('SELECT * FROM renlayer.traces WHERE tenant_id = $1 ORDER BY started_at', [tenantId])).rows;
    return r.length >= expected ? r : null;
  });
  expect(rows).toHaveLength(expected);
  expect(new Set(rows.map((r) => r.id)).size).toBe(expected);
  return rows;
}

/** Cost of a call at the bundled price (USD per million tokens), as the trace stores it. */
function cost(tokensIn: number, tokensOut: number, price: { input: number; output: number }): number {
  return Number(((tokensIn * price.input + tokensOut * price.output) / 1e6).toFixed(8));
}

const GPT_4O_MINI = { input: 0.15, output: 0.6 };
const EMBEDDING_3_SMALL = { input: 0.02, output: 0 };
const CLAUDE_35_HAIKU = { input: 0.8, output: 4 };

function expectTokens(row: Row, usage: { in: number; out: number }, price?: { input: number; output: number }) {
  expect(usage.in).toBeGreaterThan(0);
  expect({ tokens_in: row.tokens_in, tokens_out: row.tokens_out }).toEqual({ tokens_in: usage.in, tokens_out: usage.out });
  if (price) {
    expect(row.cost_usd).not.toBeNull();
    expect(Number(row.cost_usd)).toBeCloseTo(cost(usage.in, usage.out, price), 8);
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI

function openaiClients(key: string, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) {
  return {
    viaProxy: new OpenAI({ baseURL: proxy.url + '/v1', apiKey: key, maxRetries: 0, ...extra }),
    direct: new OpenAI({ baseURL: mock.url + '/v1', apiKey: 'sk-direct', maxRetries: 0, ...extra }),
  };
}

const CHAT = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is the capital of France?' },
  ] as OpenAI.Chat.ChatCompletionMessageParam[],
};

const WEATHER_TOOL: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] },
  },
};

async function collectChat(stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>) {
  const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  const args = chunks.map((c) => c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '').join('');
  return { chunks, text, args };
}

describe('openai SDK', () => {
  it('chat completion: the same answer, finish reason and usage, one trace with tokens and cost', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const { data: got, response } = await viaProxy.chat.completions.create(CHAT).withResponse();
    const want = await direct.chat.completions.create(CHAT);

    expect(scrub(got)).toEqual(scrub(want));
    expect(got.choices[0]!.message.content).toContain('What is the capital of France?');
    expect(got.choices[0]!.finish_reason).toBe('stop');

    const row = await traceRow(traceIdOf(response));
    expect(row).toMatchObject({ tenant_id: a.tenant.id, action_type: 'chat_completion', model: 'gpt-4o-mini', status: 'ALLOWED', http_status: 200, stream: false });
    expectTokens(row, { in: got.usage!.prompt_tokens, out: got.usage!.completion_tokens }, GPT_4O_MINI);
    expect(await tracesOfTenant(a.tenant.id, a.prefix)).toHaveLength(1);
  });

  it('chat stream without include_usage: the same chunks, no usage chunk or usage key, tokens still traced', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const { data: stream, response } = await viaProxy.chat.completions.create({ ...CHAT, stream: true }).withResponse();
    const got = await collectChat(stream);
    const want = await collectChat(await direct.chat.completions.create({ ...CHAT, stream: true }));

    expect(got.text).toBe(want.text);
    expect(got.text).toContain('What is the capital of France?');
    expect(got.chunks).toHaveLength(want.chunks.length);
    expect(scrub(got.chunks)).toEqual(scrub(want.chunks));
    // What the proxy asked for on the agent's behalf must not show: no choice-less chunk, no usage member.
    for (const c of got.chunks) {
      expect(c.choices).toHaveLength(1);
      expect('usage' in c).toBe(false);
    }
    expect(got.chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');

    // The proxy did ask the upstream for usage, and recorded it.
    const sent = (await forwarded(a.prefix)).at(-1)!;
    expect(JSON.parse(sent.body).stream_options).toEqual({ include_usage: true });
    const plain = await direct.chat.completions.create(CHAT);
    const row = await traceRow(traceIdOf(response));
    expect(row).toMatchObject({ action_type: 'chat_completion', model: 'gpt-4o-mini', stream: true, http_status: 200 });
    expectTokens(row, { in: plain.usage!.prompt_tokens, out: plain.usage!.completion_tokens }, GPT_4O_MINI);
  });

  it('chat stream with include_usage: the final usage chunk arrives, equal to direct, and is what is traced', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const params = { ...CHAT, stream: true as const, stream_options: { include_usage: true } };
    const { data: stream, response } = await viaProxy.chat.completions.create(params).withResponse();
    const got = await collectChat(stream);
    const want = await collectChat(await direct.chat.completions.create(params));

    expect(got.text).toBe(want.text);
    expect(scrub(got.chunks)).toEqual(scrub(want.chunks));
    const last = got.chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(want.chunks.at(-1)!.usage);
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    // Every other chunk carries usage: null, as the upstream sent it.
    for (const c of got.chunks.slice(0, -1)) expect(c.usage).toBeNull();

    const row = await traceRow(traceIdOf(response));
    expectTokens(row, { in: last.usage!.prompt_tokens, out: last.usage!.completion_tokens }, GPT_4O_MINI);
  });

  it('streamed text that itself contains "usage": null, emoji and accents, cut anywhere, arrives unchanged', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key, { defaultHeaders: { 'x-mock-echo': '1', 'x-mock-chunks': '23' } });
    const content = 'config: {"usage": null, "usage":null} — café 🙂🙂 "usage" : null, done';
    // An explicit include_usage: false is the same as not asking: the proxy still asks and hides it.
    const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], stream: true as const, stream_options: { include_usage: false } };
    const { data: stream, response } = await viaProxy.chat.completions.create(params).withResponse();
    const got = await collectChat(stream);
    const want = await collectChat(await direct.chat.completions.create(params));
    expect(want.text).toBe(content);
    expect(got.text).toBe(content);
    expect(scrub(got.chunks)).toEqual(scrub(want.chunks));
    for (const c of got.chunks) expect('usage' in c).toBe(false);
    const row = await traceRow(traceIdOf(response));
    expect(row.tokens_out).toBe(Math.ceil(content.length / 4));
  });

  it('legacy completions, plain and streamed: the same text; streamed usage still traced', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const params = { model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time' };
    const got = await viaProxy.completions.create(params);
    const want = await direct.completions.create(params);
    expect(scrub(got)).toEqual(scrub(want));

    const collect = async (s: AsyncIterable<OpenAI.Completions.Completion>) => {
      const out: OpenAI.Completions.Completion[] = [];
      for await (const c of s) out.push(c);
      return out;
    };
    const { data: stream, response } = await viaProxy.completions.create({ ...params, stream: true }).withResponse();
    const gotChunks = await collect(stream);
    const wantChunks = await collect(await direct.completions.create({ ...params, stream: true }));
    expect(scrub(gotChunks)).toEqual(scrub(wantChunks));
    expect(gotChunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(want.choices[0]!.text);
    for (const c of gotChunks) expect('usage' in c).toBe(false);
    const row = await traceRow(traceIdOf(response));
    expect(row).toMatchObject({ action_type: 'chat_completion', model: params.model, stream: true });
    expectTokens(row, { in: want.usage!.prompt_tokens, out: want.usage!.completion_tokens });
  });

  it('models.list passes through unchanged', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const got = [];
    for await (const m of viaProxy.models.list()) got.push(m);
    const want = [];
    for await (const m of direct.models.list()) want.push(m);
    expect(got).toEqual(want);
    expect(got.length).toBeGreaterThan(0);
  });

  it('stream helper: finalChatCompletion through the proxy equals direct', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const params = { ...CHAT, stream_options: { include_usage: true } };
    const got = await viaProxy.chat.completions.stream(params).finalChatCompletion();
    const want = await direct.chat.completions.stream(params).finalChatCompletion();
    expect(scrub(got)).toEqual(scrub(want));
    expect(got.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('embeddings: the same vectors (base64-decoded by the SDK) and usage, traced as embedding', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const params = { model: 'text-embedding-3-small', input: ['first text', 'a second, longer text to embed'] };
    const { data: got, response } = await viaProxy.embeddings.create(params).withResponse();
    const want = await direct.embeddings.create(params);

    expect(got).toEqual(want);
    expect(got.data).toHaveLength(2);
    expect(got.data[0]!.embedding).toHaveLength(8);
    expect(got.data[0]!.embedding).not.toEqual(got.data[1]!.embedding);
    // The SDK asked for base64 and decoded it: the proxy must pass the body byte for byte.
    expect(JSON.parse((await forwarded(a.prefix)).at(-1)!.body).encoding_format).toBe('base64');

    const row = await traceRow(traceIdOf(response));
    expect(row).toMatchObject({ action_type: 'embedding', model: 'text-embedding-3-small', http_status: 200 });
    expectTokens(row, { in: got.usage.prompt_tokens, out: got.usage.total_tokens - got.usage.prompt_tokens }, EMBEDDING_3_SMALL);
  });

  it('tool calls: the same tool_calls and finish reason, plain and streamed', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const params = { ...CHAT, messages: [{ role: 'user' as const, content: 'Weather in Paris for 3 days?' }], tools: [WEATHER_TOOL] };

    const { data: got, response } = await viaProxy.chat.completions.create(params).withResponse();
    const want = await direct.chat.completions.create(params);
    expect(scrub(got)).toEqual(scrub(want));
    expect(got.choices[0]!.finish_reason).toBe('tool_calls');
    const call = got.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call.id).toBe((want.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).id);
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toHaveProperty('city');
    const row = await traceRow(traceIdOf(response));
    expectTokens(row, { in: got.usage!.prompt_tokens, out: got.usage!.completion_tokens }, GPT_4O_MINI);

    const { data: stream, response: streamResponse } = await viaProxy.chat.completions.create({ ...params, stream: true }).withResponse();
    const gotStream = await collectChat(stream);
    const wantStream = await collectChat(await direct.chat.completions.create({ ...params, stream: true }));
    expect(scrub(gotStream.chunks)).toEqual(scrub(wantStream.chunks));
    expect(gotStream.args).toBe(call.function.arguments);
    expect(gotStream.chunks[0]!.choices[0]!.delta.tool_calls![0]!.id).toBe(call.id);
    expect(gotStream.chunks.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    const streamRow = await traceRow(traceIdOf(streamResponse));
    expectTokens(streamRow, { in: got.usage!.prompt_tokens, out: got.usage!.completion_tokens }, GPT_4O_MINI);

    // The streamed tool call, accumulated by the SDK's own helper, is the same call.
    const final = await viaProxy.chat.completions.stream(params).finalChatCompletion();
    expect(scrub(final.choices[0]!.message.tool_calls)).toEqual(scrub(got.choices[0]!.message.tool_calls));

    expect(await tracesOfTenant(a.tenant.id, a.prefix)).toHaveLength(3);
  });

  it('responses API: the same output_text and usage, plain and streamed', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key);
    const params = { model: 'gpt-4o-mini', instructions: 'Be brief.', input: 'Name three primary colours.' };

    const { data: got, response } = await viaProxy.responses.create(params).withResponse();
    const want = await direct.responses.create(params);
    expect(scrub(got)).toEqual(scrub(want));
    expect(got.output_text).toBe(want.output_text);
    expect(got.output_text).toContain('Name three primary colours.');
    expect(got.usage).toEqual(want.usage);
    const row = await traceRow(traceIdOf(response));
    expect(row).toMatchObject({ action_type: 'chat_completion', model: 'gpt-4o-mini', stream: false });
    expectTokens(row, { in: got.usage!.input_tokens, out: got.usage!.output_tokens }, GPT_4O_MINI);

    const events = async (s: AsyncIterable<OpenAI.Responses.ResponseStreamEvent>) => {
      const out: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const ev of s) out.push(ev);
      return out;
    };
    const { data: stream, response: streamResponse } = await viaProxy.responses.create({ ...params, stream: true }).withResponse();
    const gotEvents = await events(stream);
    const wantEvents = await events(await direct.responses.create({ ...params, stream: true }));
    expect(gotEvents.map((e) => e.type)).toEqual(wantEvents.map((e) => e.type));
    expect(scrub(gotEvents)).toEqual(scrub(wantEvents));
    const text = gotEvents.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    expect(text).toBe(want.output_text);
    const completed = gotEvents.at(-1)!;
    if (completed.type !== 'response.completed') throw new Error(`last event is ${completed.type}`);
    expect(completed.response.usage).toEqual(want.usage);
    const streamRow = await traceRow(traceIdOf(streamResponse));
    expect(streamRow).toMatchObject({ action_type: 'chat_completion', model: 'gpt-4o-mini', stream: true });
    expectTokens(streamRow, { in: want.usage!.input_tokens, out: want.usage!.output_tokens }, GPT_4O_MINI);

    // The SDK's stream helper rebuilds the final response, output_text included.
    const final = await viaProxy.responses.stream(params).finalResponse();
    expect(final.output_text).toBe(want.output_text);
    expect(final.usage).toEqual(want.usage);
  });

  it('an upstream that breaks off makes the SDK raise instead of returning a truncated answer', async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key, { defaultHeaders: { 'x-mock-fail': 'cut' } });
    // Directly, the SDK sees the connection drop; through the proxy it must still fail, never end cleanly.
    await expect(collectChat(await direct.chat.completions.create({ ...CHAT, stream: true }))).rejects.toThrow();

    const { data: stream, response } = await viaProxy.chat.completions.create({ ...CHAT, stream: true }).withResponse();
    const streamed = await collectChat(stream).catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(OpenAI.APIError);
    expect((streamed as Error).message).toMatch(/broke off/);
    const streamRow = await traceRow(traceIdOf(response));
    expect(streamRow).toMatchObject({ reason: 'upstream_error', http_status: 200, stream: true });

    // Nothing was sent yet for a JSON answer: a proper 502 the SDK raises as a server error.
    const plain = (await viaProxy.chat.completions.create(CHAT).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(plain).toBeInstanceOf(OpenAI.InternalServerError);
    expect(plain.status).toBe(502);
    const plainRow = await traceRow(plain.headers!.get('x-renlayer-trace-id')!);
    // The trace keeps the status the agent received.
    expect(plainRow).toMatchObject({ reason: 'upstream_error', http_status: 502 });
  });

  it('an unknown key raises OpenAI.AuthenticationError (401), with the trace id header', async () => {
    const client = new OpenAI({ baseURL: proxy.url + '/v1', apiKey: 'rl_live_' + 'A'.repeat(38), maxRetries: 0 });
    const err = await client.chat.completions.create(CHAT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const e = err as InstanceType<typeof OpenAI.AuthenticationError>;
    expect(e.status).toBe(401);
    expect(e.code).toBe('invalid_api_key');
    expect(e.headers.get('x-renlayer-trace-id')).toMatch(/^trace_/);

    const garbage = new OpenAI({ baseURL: proxy.url + '/v1', apiKey: 'sk-not-a-renlayer-key', maxRetries: 0 });
    await expect(garbage.embeddings.create({ model: 'text-embedding-3-small', input: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("an upstream 429 reaches the SDK unchanged, as the provider's RateLimitError", async () => {
    const a = await agentFor('openai');
    const { viaProxy, direct } = openaiClients(a.key, { defaultHeaders: { 'x-mock-status': '429' } });
    const got = (await viaProxy.chat.completions.create(CHAT).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    const want = (await direct.chat.completions.create(CHAT).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(want).toBeInstanceOf(OpenAI.RateLimitError);
    expect(got).toBeInstanceOf(OpenAI.RateLimitError);
    expect({ status: got.status, error: got.error, message: got.message, code: got.code, type: got.type })
      .toEqual({ status: want.status, error: want.error, message: want.message, code: want.code, type: want.type });

    // Per-request headers too, on a streamed call.
    const { viaProxy: plain } = openaiClients(a.key);
    const streamed = await plain.chat.completions.create({ ...CHAT, stream: true }, { headers: { 'x-mock-status': '429' } }).catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(OpenAI.RateLimitError);

    const row = await traceRow(got.headers!.get('x-renlayer-trace-id')!);
    expect(row).toMatchObject({ http_status: 429, action_type: 'chat_completion', tokens_in: null, tokens_out: null, cost_usd: null });
    expect(await tracesOfTenant(a.tenant.id, a.prefix)).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------
// Anthropic

function anthropicClients(key: string, extra: Partial<ConstructorParameters<typeof Anthropic>[0]> = {}) {
  return {
    viaProxy: new Anthropic({ baseURL: proxy.url, apiKey: key, maxRetries: 0, ...extra }),
    direct: new Anthropic({ baseURL: mock.url, apiKey: 'sk-ant-direct', maxRetries: 0, ...extra }),
  };
}

const MESSAGE: Anthropic.MessageCreateParamsNonStreaming = {
  model: 'claude-3-5-haiku-20241022',
  max_tokens: 256,
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Tell me about the Eiffel Tower.' }],
};

describe('anthropic SDK', () => {
  it('messages.create: the same message and usage, one trace with tokens and cost', async () => {
    const a = await agentFor('anthropic');
    const { viaProxy, direct } = anthropicClients(a.key);
    const { data: got, response } = await viaProxy.messages.create(MESSAGE).withResponse();
    const want = await direct.messages.create(MESSAGE);

    expect(scrub(got)).toEqual(scrub(want));
    expect(got.stop_reason).toBe('end_turn');
    expect(got.content[0]).toMatchObject({ type: 'text' });

    const row = await traceRow(traceIdOf(response));
    expect(row).toMatchObject({ action_type: 'chat_completion', model: MESSAGE.model, http_status: 200, stream: false });
    expectTokens(row, { in: got.usage.input_tokens, out: got.usage.output_tokens }, CLAUDE_35_HAIKU);
    // The RenLayer key left as x-api-key never reaches the upstream.
    expect((await forwarded(a.prefix)).at(-1)!.headers['x-api-key']).toBeUndefined();
  });

  it('messages.stream: the same events in the same order, the same final message and usage', async () => {
    const a = await agentFor('anthropic');
    const { viaProxy, direct } = anthropicClients(a.key);
    const run = async (client: Anthropic) => {
      const stream = client.messages.stream(MESSAGE);
      const events: Anthropic.MessageStreamEvent[] = [];
      for await (const ev of stream) events.push(ev);
      return { events, final: await stream.finalMessage(), response: (await stream.withResponse()).response };
    };
    const got = await run(viaProxy);
    const want = await run(direct);

    expect(got.events.map((e) => e.type)).toEqual(want.events.map((e) => e.type));
    expect(got.events.map((e) => e.type)).toContain('content_block_delta');
    expect(scrub(got.events)).toEqual(scrub(want.events));
    expect(scrub(got.final)).toEqual(scrub(want.final));
    expect(got.final.usage).toEqual(want.final.usage);
    expect(got.final.usage.output_tokens).toBeGreaterThan(1);

    const row = await traceRow(traceIdOf(got.response));
    expect(row).toMatchObject({ action_type: 'chat_completion', model: MESSAGE.model, stream: true });
    expectTokens(row, { in: got.final.usage.input_tokens, out: got.final.usage.output_tokens }, CLAUDE_35_HAIKU);
  });

  it('tool use, plain and streamed: the same tool_use block', async () => {
    const a = await agentFor('anthropic');
    const { viaProxy, direct } = anthropicClients(a.key);
    const params: Anthropic.MessageCreateParamsNonStreaming = {
      ...MESSAGE,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
    };
    const got = await viaProxy.messages.create(params);
    const want = await direct.messages.create(params);
    expect(scrub(got)).toEqual(scrub(want));
    expect(got.stop_reason).toBe('tool_use');
    expect(got.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather' });

    const final = await viaProxy.messages.stream(params).finalMessage();
    expect(scrub(final.content)).toEqual(scrub(got.content));
    expect(final.usage.output_tokens).toBe(got.usage.output_tokens);
    expect(await tracesOfTenant(a.tenant.id, a.prefix)).toHaveLength(2);
  });

  it('messages.countTokens and models.list pass through unchanged', async () => {
    const a = await agentFor('anthropic');
    const { viaProxy, direct } = anthropicClients(a.key);
    const params = { model: MESSAGE.model, system: MESSAGE.system, messages: MESSAGE.messages };
    const got = await viaProxy.messages.countTokens(params);
    expect(got).toEqual(await direct.messages.countTokens(params));
    expect(got.input_tokens).toBeGreaterThan(0);
    const models = [];
    for await (const m of viaProxy.models.list()) models.push(m);
    const wantModels = [];
    for await (const m of direct.models.list()) wantModels.push(m);
    expect(models).toEqual(wantModels);
    expect(models.length).toBeGreaterThan(0);
  });

  it('a stream the upstream breaks off raises an APIError in the SDK', async () => {
    const a = await agentFor('anthropic');
    const { viaProxy } = anthropicClients(a.key, { defaultHeaders: { 'x-mock-fail': 'cut' } });
    const err = await viaProxy.messages.stream(MESSAGE).finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as Error).message).toMatch(/broke off/);
    const [row] = await tracesOfTenant(a.tenant.id, a.prefix);
    expect(row).toMatchObject({ reason: 'upstream_error', stream: true });
  });

  it('an unknown key raises AuthenticationError', async () => {
    const client = new Anthropic({ baseURL: proxy.url, apiKey: 'rl_live_' + 'A'.repeat(38), maxRetries: 0 });
    const err = await client.messages.create(MESSAGE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).status).toBe(401);
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it("an upstream 429 reaches the SDK unchanged, as the provider's RateLimitError", async () => {
    const a = await agentFor('anthropic');
    const { viaProxy, direct } = anthropicClients(a.key);
    const opts = { headers: { 'x-mock-status': '429' } };
    const got = (await viaProxy.messages.create(MESSAGE, opts).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    const want = (await direct.messages.create(MESSAGE, opts).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(want).toBeInstanceOf(Anthropic.RateLimitError);
    expect(got).toBeInstanceOf(Anthropic.RateLimitError);
    expect({ status: got.status, error: got.error, message: got.message }).toEqual({ status: want.status, error: want.error, message: want.message });

    const streamed = await viaProxy.messages.stream(MESSAGE, opts).finalMessage().catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(Anthropic.RateLimitError);
    const rows = await tracesOfTenant(a.tenant.id, a.prefix);
    expect(rows.map((r) => r.http_status)).toEqual([429, 429]);
  });
});

// ---------------------------------------------------------------------------------------------
// MCP

async function mcpClient(url: string, key?: string): Promise<Client> {
  const client = new Client({ name: 'renlayer-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), key ? { requestInit: { headers: { Authorization: `Bearer ${key}` } } } : {});
  await client.connect(transport);
  return client;
}

describe('MCP SDK', () => {
  it('connect, listTools and callTool answer the same through the proxy; one trace per request', async () => {
    const a = await agentFor('mcp');
    const viaProxy = await mcpClient(proxy.url + '/mcp', a.key);
    const direct = await mcpClient(mock.url + '/mcp');
    try {
      expect(viaProxy.getServerVersion()).toEqual(direct.getServerVersion());
      expect(viaProxy.getServerCapabilities()).toEqual(direct.getServerCapabilities());

      const tools = await viaProxy.listTools();
      expect(tools).toEqual(await direct.listTools());
      expect(tools.tools.map((x) => x.name)).toEqual(['echo', 'add']);

      const echoed = await viaProxy.callTool({ name: 'echo', arguments: { text: 'hi' } });
      expect(echoed).toEqual(await direct.callTool({ name: 'echo', arguments: { text: 'hi' } }));
      expect(echoed.content).toEqual([{ type: 'text', text: 'hi' }]);

      // A JSON-RPC error from the server is the same error through the proxy.
      const unknownTool = { name: 'nope', arguments: {} };
      const gotErr = (await viaProxy.callTool(unknownTool).catch((e: unknown) => e)) as Error & { code?: number };
      const wantErr = (await direct.callTool(unknownTool).catch((e: unknown) => e)) as Error & { code?: number };
      expect(wantErr).toBeInstanceOf(Error);
      expect({ code: gotErr.code, message: gotErr.message }).toEqual({ code: wantErr.code, message: wantErr.message });
    } finally {
      await viaProxy.close();
      await direct.close();
    }

    const sent = await forwarded(a.prefix);
    const rpcMethods = sent.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body).method);
    expect(rpcMethods).toEqual(expect.arrayContaining(['initialize', 'notifications/initialized', 'tools/list', 'tools/call']));
    const rows = await tracesOfTenant(a.tenant.id, a.prefix);
    const toolCalls = rows.filter((r) => r.action_type === 'tool_call');
    expect(toolCalls).toHaveLength(rpcMethods.filter((m) => m === 'tools/call').length);
    expect(toolCalls).toHaveLength(2);
    expect(rows.filter((r) => r.action_type === 'mcp_request')).toHaveLength(rows.length - 2);
    expect(rows.every((r) => r.agent_id === a.agent.id && r.key_id === a.keyId && r.status === 'ALLOWED')).toBe(true);
  });

  it('an unknown key is refused with 401 and the client cannot connect', async () => {
    const err = await mcpClient(proxy.url + '/mcp', 'rl_live_' + 'A'.repeat(38)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamableHTTPError);
    expect((err as StreamableHTTPError).code).toBe(401);
    // The body is a JSON-RPC error, so the message the SDK shows says why.
    expect((err as Error).message).toContain('"code":"invalid_api_key"');
  });
});
