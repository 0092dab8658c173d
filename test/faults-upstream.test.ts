/**
 * Fault injection between the real `renlayer proxy` process and its upstreams: refused
 * connections, an upstream that never answers, one that breaks off mid-answer, an agent that
 * goes away mid-stream, fallback upstreams. Each asserts what the agent sees and what is traced.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { createAgent } from '../src/store/agents.js';
import { createTenant } from '../src/store/tenants.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, tenantWithAgent } from './helpers/fixtures.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';

let t: TestDatabase;
let mock: MockServer;
let proxy: ProxyProcess;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  mock = await startMockUpstream({ chunks: 4 });
  proxy = await startProxyProcess(t);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await proxy?.stop();
  await mock?.close();
  await t?.close();
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };
const messages = { model: 'claude-3-5-haiku-latest', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] };

interface Answer {
  status: number;
  traceId: string;
  json: Record<string, any> | null;
  text: string;
}

async function call(p: ProxyProcess, key: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(p.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  // A stream cut short may end in a reset; keep what arrived.
  let text = '';
  const reader = res.body!.getReader();
  try {
    for (let i = 0; i < 10_000; i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } catch {
    // connection reset after the error event
  }
  let json: Record<string, any> | null = null;
  try {
    json = JSON.parse(text);
  } catch {
    // SSE
  }
  return { status: res.status, traceId: res.headers.get('x-renlayer-trace-id') ?? '', json, text };
}

async function traceRow(id: string): Promise<Record<string, any>> {
  return eventually(async () => (await t.db.query<Record<string, any>>('SELECT * FROM renlayer.traces WHERE id = $1', [id])).rows[0]);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** SSE `data:` payloads, in order. */
function dataLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
}

/**
 * A TCP forwarder to the mock that remembers, per connection, what the upstream sent and whether
 * the proxy's side hung up — the way to see that the proxy stopped reading an upstream.
 */
interface Watched {
  received: string;
  closedByProxy: boolean;
}
async function watchedUpstream(): Promise<{ url: string; conns: Watched[] }> {
  const conns: Watched[] = [];
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    const w: Watched = { received: '', closedByProxy: false };
    conns.push(w);
    const upstream = connect(mock.port, '127.0.0.1');
    sockets.add(client).add(upstream);
    upstream.on('data', (d: Buffer) => {
      w.received += d.toString('latin1');
      client.write(d);
    });
    client.on('data', (d: Buffer) => upstream.write(d));
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      w.closedByProxy = true;
      closeBoth();
    });
    client.on('error', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, conns };
}

/** An upstream on its own port that answers each request, once read whole, with `answer`; closed after the file. */
async function httpUpstream(answer: (res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** One OpenAI chat chunk as an SSE event. */
function chatChunk(delta: unknown, finish: string | null): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

/** An upstream that answers every request with `status`. */
function failingUpstream(status: number): Promise<string> {
  return httpUpstream((res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'primary is down', type: 'server_error', code: null, param: null } }));
  });
}

/** An OpenAI-style upstream that streams an answer and its [DONE], then never closes the response. */
function lingeringUpstream(): Promise<string> {
  return httpUpstream((res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chatChunk({ role: 'assistant', content: 'Hello' }, null) + chatChunk({}, 'stop') + 'data: [DONE]\n\n');
  });
}

/**
 * An OpenAI-style upstream that sends its stream's headers at once and its events only when told
 * (a model slow to its first token).
 */
async function pausedUpstream(): Promise<{ url: string; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const url = await httpUpstream((res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    void released.then(() => res.end(chatChunk({ role: 'assistant', content: 'At last' }, 'stop') + 'data: [DONE]\n\n'));
  });
  return { url, release };
}

describe('upstream refusing connections', () => {
  it('answers 502 upstream_unavailable in the OpenAI shape and traces it', async () => {
    const upstream = `http://127.0.0.1:${await closedPort()}`;
    const a = await tenantWithAgent(t.db, { upstream });
    const r = await call(proxy, a.key, '/v1/chat/completions', chat);
    expect(r.status).toBe(502);
    expect(r.json).toMatchObject({
      error: { type: 'renlayer_error', code: 'upstream_unavailable', param: null },
      renlayer: { code: 'upstream_unavailable', trace_id: r.traceId },
    });
    expect(typeof r.json?.error?.message).toBe('string');
    expect(await traceRow(r.traceId)).toMatchObject({
      tenant_id: a.tenant.id, status: 'ALLOWED', reason: 'upstream_unavailable', http_status: 502, upstream_url: upstream,
    });
  });

  it('answers in the Anthropic shape on /v1/messages', async () => {
    const a = await tenantWithAgent(t.db, { upstream: `http://127.0.0.1:${await closedPort()}`, type: 'anthropic' });
    const r = await call(proxy, a.key, '/v1/messages', messages);
    expect(r.status).toBe(502);
    expect(r.json).toMatchObject({ type: 'error', error: { type: 'api_error' }, renlayer: { code: 'upstream_unavailable' } });
    expect(await traceRow(r.traceId)).toMatchObject({ reason: 'upstream_unavailable', http_status: 502 });
  });
});

describe('upstream hanging', () => {
  let slow: ProxyProcess;
  beforeAll(async () => {
    slow = await startProxyProcess(t, { RENLAYER_UPSTREAM_TIMEOUT_MS: '500' });
    closers.push(() => slow.stop());
  });

  it('answers 504 upstream_timeout when no byte comes within RENLAYER_UPSTREAM_TIMEOUT_MS, and traces it', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const r = await call(slow, a.key, '/v1/chat/completions', chat, { 'x-mock-fail': 'hang' });
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ error: { type: 'renlayer_error', code: 'upstream_timeout', param: null }, renlayer: { code: 'upstream_timeout' } });
    expect(await traceRow(r.traceId)).toMatchObject({ status: 'ALLOWED', reason: 'upstream_timeout', http_status: 504, upstream_url: mock.url });
    // The proxy is fine afterwards.
    expect((await call(slow, a.key, '/v1/chat/completions', chat)).status).toBe(200);
  });
});

describe('upstream slow to its first event', () => {
  it('gives the agent the response headers while the upstream is still to send its first event', async () => {
    const upstream = await pausedUpstream();
    const a = await tenantWithAgent(t.db, { upstream: upstream.url });
    // fetch settles on the headers: the upstream sends no event until it has.
    const res = await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}` },
      body: JSON.stringify({ ...chat, stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    upstream.release();
    const data = dataLines(await res.text());
    expect(JSON.parse(data[0]!).choices[0].delta.content).toBe('At last');
    expect(data.at(-1)).toBe('[DONE]');
  });
});

describe('upstream breaking off an answer', () => {
  it('ends an OpenAI stream with an error event and no [DONE], traced as upstream_error', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const r = await call(proxy, a.key, '/v1/chat/completions', { ...chat, stream: true }, { 'x-mock-fail': 'cut', 'x-mock-chunks': '8' });
    expect(r.status).toBe(200);
    const data = dataLines(r.text);
    expect(data).not.toContain('[DONE]');
    // The first events arrived as they were, then the error event closes the stream.
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.length).toBeGreaterThan(0);
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    expect(JSON.parse(data.at(-1)!)).toMatchObject({ error: { code: 'upstream_error', type: 'renlayer_error' }, renlayer: { code: 'upstream_error', trace_id: r.traceId } });
    expect(await traceRow(r.traceId)).toMatchObject({ status: 'ALLOWED', reason: 'upstream_error', stream: true, http_status: 200 });
  });

  it('ends a stream whose upstream keeps the response open after [DONE], as complete, without waiting for its timeout', async () => {
    const a = await tenantWithAgent(t.db, { upstream: await lingeringUpstream() });
    const r = await call(proxy, a.key, '/v1/chat/completions', { ...chat, stream: true });
    const data = dataLines(r.text);
    expect(data.at(-1)).toBe('[DONE]');
    expect(JSON.parse(data[0]!).choices[0].delta.content).toBe('Hello');
    expect(await traceRow(r.traceId)).toMatchObject({ status: 'ALLOWED', reason: null, stream: true, http_status: 200 });
  });

  it('ends an Anthropic stream with event: error, traced as upstream_error', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url, type: 'anthropic' });
    const r = await call(proxy, a.key, '/v1/messages', { ...messages, stream: true }, { 'x-mock-fail': 'cut', 'x-mock-chunks': '8' });
    expect(r.status).toBe(200);
    expect(r.text).toContain('event: message_start');
    expect(r.text).not.toContain('event: message_stop');
    const events = r.text.trim().split('\n\n');
    const last = events.at(-1)!;
    expect(last).toMatch(/^event: error\n/);
    expect(JSON.parse(dataLines(last)[0]!)).toMatchObject({ type: 'error', error: { type: 'api_error' }, renlayer: { code: 'upstream_error' } });
    expect(await traceRow(r.traceId)).toMatchObject({ reason: 'upstream_error', stream: true });
  });

  it('answers 502 in the agent\'s dialect when a non-streamed answer breaks off, and traces the status sent', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url, type: 'anthropic' });
    const openai = await call(proxy, a.key, '/v1/chat/completions', chat, { 'x-mock-fail': 'cut' });
    expect(openai.status).toBe(502);
    expect(openai.json).toMatchObject({ error: { code: 'upstream_error', type: 'renlayer_error' }, renlayer: { code: 'upstream_error' } });
    expect(await traceRow(openai.traceId)).toMatchObject({ reason: 'upstream_error', http_status: 502 });

    const anthropic = await call(proxy, a.key, '/v1/messages', messages, { 'x-mock-fail': 'cut' });
    expect(anthropic.status).toBe(502);
    expect(anthropic.json).toMatchObject({ type: 'error', error: { type: 'api_error' }, renlayer: { code: 'upstream_error' } });
    expect(await traceRow(anthropic.traceId)).toMatchObject({ reason: 'upstream_error', http_status: 502 });
  });
});

describe('agent disconnecting', () => {
  it('traces client_closed and stops reading the upstream when the agent leaves mid-stream', async () => {
    const watched = await watchedUpstream();
    const a = await tenantWithAgent(t.db, { upstream: watched.url });
    const abort = new AbortController();
    const res = await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}`, 'x-mock-chunks': '50', 'x-mock-chunk-delay-ms': '50' },
      body: JSON.stringify({ ...chat, stream: true }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const traceId = res.headers.get('x-renlayer-trace-id')!;
    const first = await res.body!.getReader().read();
    expect(new TextDecoder().decode(first.value)).toContain('data: ');
    abort.abort();

    expect(await traceRow(traceId)).toMatchObject({ tenant_id: a.tenant.id, reason: 'client_closed', stream: true });
    // The proxy hung up on the upstream before the stream was over: it was not read to the end.
    // The connection that carried the call was hung up by the proxy, before the stream was over.
    await eventually(async () => watched.conns[0]?.closedByProxy);
    expect(watched.conns[0]!.received).toContain('chat.completion.chunk');
    for (const c of watched.conns) expect(c.received).not.toContain('[DONE]');
    // And it serves the next call normally.
    const next = await call(proxy, a.key, '/v1/chat/completions', { ...chat, stream: true });
    expect(next.status).toBe(200);
    expect(dataLines(next.text)).toContain('[DONE]');
  });

  it('traces client_closed and aborts the upstream call when the agent leaves before the upstream answers', async () => {
    const watched = await watchedUpstream();
    const a = await tenantWithAgent(t.db, { upstream: watched.url });
    const abort = new AbortController();
    await fetch(mock.url + '/_mock/requests', { method: 'DELETE' });
    const pending = fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}`, 'x-mock-fail': 'hang', 'x-renlayer-session': 'leaves-early' },
      body: JSON.stringify(chat),
      signal: abort.signal,
    }).catch((err: Error) => err);
    // Leave once the upstream has the request.
    await eventually(async () => ((await (await fetch(mock.url + '/_mock/requests')).json()) as unknown[]).length > 0);
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    const row = await eventually(async () => (await t.db.query<Record<string, any>>(
      'SELECT * FROM renlayer.traces WHERE tenant_id = $1', [a.tenant.id])).rows[0]);
    expect(row).toMatchObject({ reason: 'client_closed', session_id: 'leaves-early', http_status: 499 });
    // The upstream call was aborted: its connection hung up rather than left waiting for an answer.
    await eventually(async () => watched.conns[0]?.closedByProxy);
  });
});

let fallbackAgents = 0;
/** An agent created with its fallbacks in one transaction: no snapshot ever sees it without them. */
async function agentWithFallbacks(primary: string, fallbacks: string[]) {
  const n = `fb-${process.pid}-${++fallbackAgents}`;
  const tenant = await createTenant(t.db, n);
  return t.db.transaction(async (tx) => {
    const { agent, key } = await createAgent(tx, undefined, { tenantId: tenant.id, name: n, upstreamUrl: primary });
    await tx.query('UPDATE renlayer.agents SET fallbacks = $2::jsonb WHERE id = $1', [agent.id, JSON.stringify(fallbacks.map((url) => ({ url })))]);
    return { tenant, agent, key: key.secret };
  });
}

describe('fallback upstreams', () => {
  it('answers from the fallback when the primary refuses connections, tracing the fallback URL', async () => {
    const a = await agentWithFallbacks(`http://127.0.0.1:${await closedPort()}`, [mock.url]);
    const r = await call(proxy, a.key, '/v1/chat/completions', chat);
    expect(r.status).toBe(200);
    expect(r.json?.object).toBe('chat.completion');
    expect(await traceRow(r.traceId)).toMatchObject({ status: 'ALLOWED', reason: null, http_status: 200, upstream_url: mock.url });

    const s = await call(proxy, a.key, '/v1/chat/completions', { ...chat, stream: true });
    expect(s.status).toBe(200);
    expect(dataLines(s.text)).toContain('[DONE]');
    expect(await traceRow(s.traceId)).toMatchObject({ upstream_url: mock.url, stream: true });
  });

  it('uses a fallback added to a running agent within a second', async () => {
    const a = await tenantWithAgent(t.db, { upstream: `http://127.0.0.1:${await closedPort()}` });
    expect((await call(proxy, a.key, '/v1/chat/completions', chat)).status).toBe(502);
    await t.db.query('UPDATE renlayer.agents SET fallbacks = $2::jsonb WHERE id = $1', [a.agent.id, JSON.stringify([{ url: mock.url }])]);
    await eventually(async () => (await call(proxy, a.key, '/v1/chat/completions', chat)).status === 200, 1_000, 20);
  });

  it('answers from the fallback when the primary answers 5xx', async () => {
    const a = await agentWithFallbacks(await failingUpstream(503), [mock.url]);
    const r = await call(proxy, a.key, '/v1/chat/completions', chat);
    expect(r.status).toBe(200);
    expect(await traceRow(r.traceId)).toMatchObject({ http_status: 200, upstream_url: mock.url });
  });

  it('answers 502 upstream_unavailable when the primary and every fallback refuse', async () => {
    const a = await agentWithFallbacks(`http://127.0.0.1:${await closedPort()}`, [`http://127.0.0.1:${await closedPort()}`]);
    const r = await call(proxy, a.key, '/v1/chat/completions', chat);
    expect(r.status).toBe(502);
    expect(r.json?.error?.code).toBe('upstream_unavailable');
    expect(await traceRow(r.traceId)).toMatchObject({ reason: 'upstream_unavailable', http_status: 502 });
  });
});
