import { request } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mockOptionsFromEnv, startMockUpstream, type MockServer, type RecordedRequest } from './server.js';

let mock: MockServer;

beforeAll(async () => {
  mock = await startMockUpstream({ port: 0 });
});
afterAll(async () => {
  await mock.close();
});

function openai(headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'x', maxRetries: 0, defaultHeaders: headers });
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('mockOptionsFromEnv', () => {
  it('uses the documented defaults', () => {
    expect(mockOptionsFromEnv({})).toEqual({ host: '127.0.0.1', port: 9090, latencyMs: 0, chunks: 8, chunkDelayMs: 0 });
  });

  it('reads the variables, and the listen argument overrides MOCK_LISTEN_ADDR', () => {
    const env = { MOCK_LISTEN_ADDR: '0.0.0.0:7000', MOCK_LATENCY_MS: '5', MOCK_CHUNKS: '3', MOCK_CHUNK_DELAY_MS: '2' };
    expect(mockOptionsFromEnv(env)).toEqual({ host: '0.0.0.0', port: 7000, latencyMs: 5, chunks: 3, chunkDelayMs: 2 });
    expect(mockOptionsFromEnv(env, '[::1]:0')).toMatchObject({ host: '::1', port: 0 });
  });

  it('names the variable in a one-line error for malformed values', () => {
    expect(() => mockOptionsFromEnv({ MOCK_LISTEN_ADDR: 'localhost' })).toThrow(/^MOCK_LISTEN_ADDR must be HOST:PORT/);
    expect(() => mockOptionsFromEnv({ MOCK_LISTEN_ADDR: 'h:70000' })).toThrow(/MOCK_LISTEN_ADDR/);
    expect(() => mockOptionsFromEnv({}, 'nope')).toThrow(/^--listen must be HOST:PORT/);
    expect(() => mockOptionsFromEnv({ MOCK_LATENCY_MS: '-1' })).toThrow(/^MOCK_LATENCY_MS must be an integer/);
    expect(() => mockOptionsFromEnv({ MOCK_CHUNKS: '0' })).toThrow(/^MOCK_CHUNKS must be an integer from 1/);
    expect(() => mockOptionsFromEnv({ MOCK_CHUNK_DELAY_MS: '1.5' })).toThrow(/^MOCK_CHUNK_DELAY_MS/);
    try {
      mockOptionsFromEnv({ MOCK_CHUNKS: 'many' });
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });
});

describe('per-request headers', () => {
  const secret = 'my card is 4111 1111 1111 1111, keep it\nsafe 🙂';

  it('echo mode returns the last user text verbatim, plain and streamed', async () => {
    const client = openai({ 'x-mock-echo': '1' });
    const messages = [
      { role: 'user' as const, content: 'first question' },
      { role: 'assistant' as const, content: 'first answer' },
      { role: 'user' as const, content: secret },
    ];
    const plain = await client.chat.completions.create({ model: 'm', messages });
    expect(plain.choices[0]!.message.content).toBe(secret);

    const stream = await client.chat.completions.create({ model: 'm', messages, stream: true }, { headers: { 'x-mock-chunks': '5' } });
    const pieces: string[] = [];
    for await (const c of stream) if (c.choices[0]?.delta.content) pieces.push(c.choices[0].delta.content);
    expect(pieces).toHaveLength(5);
    expect(pieces.join('')).toBe(secret);

    const anthropic = new Anthropic({ baseURL: mock.url, apiKey: 'x', maxRetries: 0, defaultHeaders: { 'x-mock-echo': '1' } });
    const final = await anthropic.messages.stream({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: secret }] }).finalMessage();
    expect(final.content[0]).toEqual({ type: 'text', text: secret });
  });

  it('x-mock-chunks with a chunk delay yields exactly that many content deltas', async () => {
    const client = openai({ 'x-mock-chunks': '4', 'x-mock-chunk-delay-ms': '15' });
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'pace me' }] });
    const deltas: string[] = [];
    for await (const c of stream) if (c.choices[0]?.delta.content) deltas.push(c.choices[0].delta.content);
    expect(deltas).toHaveLength(4);
    expect(deltas.join('')).toContain('pace me');
  });

  it('x-mock-status answers that status with a dialect-shaped body', async () => {
    const err = await openai({ 'x-mock-status': '429' })
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('rate_limit_exceeded');

    const res = await post('/v1/messages', { model: 'c', max_tokens: 1, messages: [] }, { 'x-mock-status': '529' });
    expect(res.status).toBe(529);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('rejects a malformed x-mock header with a 400 naming it', async () => {
    const res = await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-mock-chunks': 'lots' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('x-mock-chunks');
  });

  it('x-mock-fail: cut starts a stream and breaks it midway', async () => {
    const client = openai({ 'x-mock-fail': 'cut' });
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'cut me' }] });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const c of stream) if (c.choices[0]?.delta.content) seen.push(c.choices[0].delta.content);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(8);
  });

  it('x-mock-fail: cut truncates a JSON answer', async () => {
    const res = await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-mock-fail': 'cut' });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('x-mock-latency-ms holds the answer back, and a small value still answers', async () => {
    const held = await fetch(`${mock.url}/v1/models`, { headers: { 'x-mock-latency-ms': '10000' }, signal: AbortSignal.timeout(200) }).then(
      () => 'answered',
      (e: unknown) => (e as Error).name,
    );
    expect(held).toBe('TimeoutError');
    const quick = await fetch(`${mock.url}/v1/models`, { headers: { 'x-mock-latency-ms': '10' } });
    expect(quick.status).toBe(200);
    await quick.body?.cancel();
  });

  it('x-mock-fail: hang never answers, so the client times out', async () => {
    const err = await fetch(`${mock.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-fail': 'hang' },
      body: '{}',
      signal: AbortSignal.timeout(200),
    }).then(
      () => 'answered',
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('TimeoutError');
  });
});

describe('errors and routing', () => {
  it('answers bad JSON with the OpenAI error shape', async () => {
    const res = await post('/v1/chat/completions', '{not json');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: null, param: null } });
  });

  it('answers an unknown path with 404 JSON', async () => {
    const res = await post('/v2/unknown', {});
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('/v2/unknown');
  });

  it('serves an upstream base URL that carries a path prefix', async () => {
    const client = new OpenAI({ baseURL: `${mock.url}/tenant-a/v1`, apiKey: 'x', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'prefixed' }] });
    expect(r.choices[0]!.message.content).toContain('prefixed');
  });

  it('keeps idle connections for 65 s so pooled clients close first', async () => {
    const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
      const req = request(`${mock.url}/v1/models`, { agent: false, headers: { connection: 'keep-alive' } }, (res) => {
        const header = res.headers['keep-alive'];
        res.resume();
        res.on('end', () => req.destroy());
        resolve(typeof header === 'string' ? header : undefined);
      });
      req.on('error', reject);
      req.end();
    });
    expect(keepAlive).toBe('timeout=65');
  });
});

describe('request recorder', () => {
  beforeEach(async () => {
    const res = await fetch(`${mock.url}/_mock/requests`, { method: 'DELETE' });
    expect(res.status).toBe(204);
  });

  async function recorded(): Promise<RecordedRequest[]> {
    return (await (await fetch(`${mock.url}/_mock/requests`)).json()) as RecordedRequest[];
  }

  it('records method, url, headers and body, newest last', async () => {
    await post('/v1/embeddings?trace=1', { input: 'one' }, { 'x-test': 'a' });
    await post('/v1/embeddings', { input: 'two' });
    const list = await recorded();
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ method: 'POST', url: '/v1/embeddings?trace=1', body: '{"input":"one"}' });
    expect(list[0]!.headers['x-test']).toBe('a');
    expect(JSON.parse(list[1]!.body)).toEqual({ input: 'two' });
  });

  it('keeps only the last 200 requests and clears on DELETE', async () => {
    for (let i = 0; i < 210; i += 30) {
      await Promise.all(Array.from({ length: Math.min(30, 210 - i) }, (_, j) => post('/v1/embeddings', { input: `n${i + j}` })));
    }
    await post('/v1/embeddings', { input: 'last' });
    const list = await recorded();
    expect(list).toHaveLength(200);
    expect(list.at(-1)!.body).toBe('{"input":"last"}');
    await fetch(`${mock.url}/_mock/requests`, { method: 'DELETE' });
    expect(await recorded()).toEqual([]);
  });
});
