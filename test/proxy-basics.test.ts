import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { revokeKey } from '../src/store/keys.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, tenantWithAgent } from './helpers/fixtures.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';

let t: TestDatabase;
let mock: MockServer;
let proxy: ProxyProcess;

beforeAll(async () => {
  t = await createTestDatabase();
  mock = await startMockUpstream({ chunks: 4 });
  proxy = await startProxyProcess(t, { RENLAYER_MAX_BODY_BYTES: '64KiB' });
});

afterAll(async () => {
  await proxy?.stop();
  await mock?.close();
  await t?.close();
});

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };

async function post(path: string, key: string | null, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(proxy.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { res, json: (await res.json().catch(() => null)) as Record<string, any> | null };
}

async function traceRow(id: string) {
  return eventually(async () => (await t.db.query<Record<string, any>>('SELECT * FROM renlayer.traces WHERE id = $1', [id])).rows[0]);
}

describe('authentication', () => {
  it('answers 401 invalid_api_key in the OpenAI shape when the key is missing', async () => {
    const { res, json } = await post('/v1/chat/completions', null, chat);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-renlayer-trace-id')).toMatch(/^trace_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(json).toMatchObject({ error: { type: 'renlayer_error', code: 'invalid_api_key', param: null }, renlayer: { code: 'invalid_api_key' } });
  });

  it('answers 401 for a malformed key and for a well-formed key nobody minted', async () => {
    expect((await post('/v1/chat/completions', 'sk-not-ours', chat)).res.status).toBe(401);
    expect((await post('/v1/chat/completions', 'rl_live_' + 'A'.repeat(38), chat)).res.status).toBe(401);
  });

  it('answers in the Anthropic error shape on /v1/messages', async () => {
    const { res, json } = await post('/v1/messages', null, { model: 'claude', max_tokens: 10, messages: [] });
    expect(res.status).toBe(401);
    expect(json).toMatchObject({ type: 'error', error: { type: 'authentication_error' }, renlayer: { code: 'invalid_api_key' } });
  });

  it('refuses a revoked key', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    expect((await post('/v1/chat/completions', a.key, chat)).res.status).toBe(200);
    await revokeKey(t.db, a.tenant.id, a.keyId);
    await eventually(async () => (await post('/v1/chat/completions', a.key, chat)).res.status === 401, 1_000, 20);
  });

  it('accepts a key minted after the proxy started, on its first use', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const { res, json } = await post('/v1/chat/completions', a.key, chat);
    expect(res.status).toBe(200);
    expect(json?.choices?.[0]?.message?.content).toContain('hello');
  });

  it('answers 403 agent_disabled for a disabled agent', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await t.db.query('UPDATE renlayer.agents SET enabled = false WHERE id = $1', [a.agent.id]);
    await eventually(async () => (await post('/v1/chat/completions', a.key, chat)).res.status === 403, 1_000, 20);
    const { json } = await post('/v1/chat/completions', a.key, chat);
    expect(json?.error?.code).toBe('agent_disabled');
  });
});

describe('forwarding and traces', () => {
  it('forwards to the agent upstream and writes one trace with the id it sent', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const { res, json } = await post('/v1/chat/completions', a.key, chat, { 'x-renlayer-user': 'u-1', 'x-renlayer-session': 's-1' });
    expect(res.status).toBe(200);
    expect(json?.object).toBe('chat.completion');
    const id = res.headers.get('x-renlayer-trace-id')!;
    const row = await traceRow(id);
    expect(row).toMatchObject({
      tenant_id: a.tenant.id, agent_id: a.agent.id, key_id: a.keyId, end_user: 'u-1', session_id: 's-1',
      action_type: 'chat_completion', status: 'ALLOWED', http_status: 200, method: 'POST', path: '/v1/chat/completions',
    });
  });

  it('never forwards the RenLayer key or X-RenLayer headers to the upstream', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await fetch(mock.url + '/_mock/requests', { method: 'DELETE' });
    await post('/v1/chat/completions', a.key, chat, { 'x-renlayer-user': 'u-2', 'x-custom': 'kept' });
    const seen = (await (await fetch(mock.url + '/_mock/requests')).json()) as { headers: Record<string, string> }[];
    const last = seen.at(-1)!;
    expect(JSON.stringify(last.headers)).not.toContain(a.key);
    expect(last.headers['x-renlayer-user']).toBeUndefined();
    expect(last.headers['x-custom']).toBe('kept');
  });

  it('streams SSE chunk by chunk instead of buffering the answer', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const res = await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', 'x-mock-chunks': '5', 'x-mock-chunk-delay-ms': '300' },
      body: JSON.stringify({ ...chat, stream: true }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // With the answer buffered, the first read would already hold the end of the stream.
    expect(first).not.toContain('[DONE]');
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain('data: [DONE]');
  });

  it('answers 400 invalid_header for an over-long X-RenLayer-User and traces it as DENIED', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const { res, json } = await post('/v1/chat/completions', a.key, chat, { 'x-renlayer-user': 'x'.repeat(300) });
    expect(res.status).toBe(400);
    expect(json?.error?.code).toBe('invalid_header');
    const row = await traceRow(res.headers.get('x-renlayer-trace-id')!);
    expect(row).toMatchObject({ status: 'DENIED', reason: 'invalid_header', http_status: 400 });
  });

  it('answers 413 payload_too_large over RENLAYER_MAX_BODY_BYTES', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const big = { ...chat, messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] };
    const { res, json } = await post('/v1/chat/completions', a.key, big);
    expect(res.status).toBe(413);
    expect(json?.error?.code).toBe('payload_too_large');
  });

  it('answers 413 to a chunked body that outgrows the limit, and closes the connection', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const answer = await new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      const req = request(proxy.url + '/v1/chat/completions', {
        method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
      });
      req.on('error', reject);
      // Sent in pieces with no length declared: only reading can find it too large.
      const piece = 'x'.repeat(8 * 1024);
      const send = (left: number) => (left === 0 ? req.end() : req.write(piece, () => setImmediate(() => send(left - 1))));
      send(10);
    });
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe('close');
    expect(JSON.parse(answer.body).error.code).toBe('payload_too_large');
  });

  it('traces a call whose agent leaves before sending the whole body as client_closed (499)', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const req = request(proxy.url + '/v1/chat/completions', {
      method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', 'content-length': '1000' },
    });
    req.on('error', () => {});
    req.write('{"model":', () => setTimeout(() => req.destroy(), 100));
    const row = await eventually(async () => (await t.db.query<Record<string, any>>('SELECT * FROM renlayer.traces WHERE agent_id = $1', [a.agent.id])).rows[0]);
    expect(row).toMatchObject({ reason: 'client_closed', http_status: 499 });
    expect(proxy.stderr()).not.toContain('unexpected error in the proxy pipeline');
  });

  it('answers 400 invalid_request for unparseable JSON', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const { res, json } = await post('/v1/chat/completions', a.key, '{"model": ');
    expect(res.status).toBe(400);
    expect(json?.error?.code).toBe('invalid_request');
  });

  it('answers 502 no_upstream when neither the agent nor the default names an upstream', async () => {
    const a = await tenantWithAgent(t.db);
    const { res, json } = await post('/v1/chat/completions', a.key, chat);
    expect(res.status).toBe(502);
    expect(json?.error?.code).toBe('no_upstream');
  });

  it('keeps the base path of the upstream URL', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url + '/tenant-a' });
    await fetch(mock.url + '/_mock/requests', { method: 'DELETE' });
    expect((await post('/v1/chat/completions', a.key, chat)).res.status).toBe(200);
    const seen = (await (await fetch(mock.url + '/_mock/requests')).json()) as { url: string }[];
    expect(seen.at(-1)!.url).toBe('/tenant-a/v1/chat/completions');
  });
});
