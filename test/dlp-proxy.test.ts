import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { open } from '../src/core/secretbox.js';
import { bodyContext } from '../src/proxy/bodies.js';
import { eventually, TEST_ENCRYPTION_KEY, tenantWithAgent } from './helpers/fixtures.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';

// Request-side DLP through the real proxy: block, warn, redact, flag-only, and configuration
// changes applied to the next request.
let t: TestDatabase;
let mock: MockServer;
let proxy: ProxyProcess;

const AWS_KEY = ['AKIA', 'J7Q3R5T2', 'W6Y4Z2PL'].join('');
const SSN = '536-22-1948';
const EMAIL = 'jane.doe@acme-corp.io';

beforeAll(async () => {
  t = await createTestDatabase();
  mock = await startMockUpstream();
  proxy = await startProxyProcess(t);
});

afterAll(async () => {
  await proxy?.stop();
  await mock?.close();
  await t?.close();
});

async function chat(key: string, content: string, path = '/v1/chat/completions') {
  const anthropic = path === '/v1/messages';
  const res = await fetch(proxy.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(anthropic
      ? { model: 'claude-sonnet-4', max_tokens: 50, messages: [{ role: 'user', content }] }
      : { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
  });
  const text = await res.text();
  return { res, text, json: JSON.parse(text) as Record<string, any>, id: res.headers.get('x-renlayer-trace-id')! };
}

async function trace(id: string) {
  return eventually(async () => (await t.db.query<Record<string, any>>('SELECT * FROM renlayer.traces WHERE id = $1', [id])).rows[0]);
}

async function upstreamBodies(): Promise<string[]> {
  return ((await (await fetch(mock.url + '/_mock/requests')).json()) as { body: string }[]).map((r) => r.body);
}

describe('request DLP through the proxy', () => {
  it('blocks a CRITICAL secret with 403 dlp_blocked, naming the finding but never the value', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await fetch(mock.url + '/_mock/requests', { method: 'DELETE' });
    const r = await chat(a.key, `deploy with ${AWS_KEY} please`);
    expect(r.res.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'dlp_blocked', type: 'renlayer_error' });
    expect(r.json.renlayer.findings).toEqual([
      expect.objectContaining({ class: 'secret.aws_access_key', severity: 'CRITICAL', direction: 'request' }),
    ]);
    expect(r.text).not.toContain(AWS_KEY);
    expect(await upstreamBodies()).toEqual([]);
    const row = await trace(r.id);
    expect(row).toMatchObject({ status: 'DLP_BLOCKED', reason: 'dlp_blocked_request', http_status: 403 });
    expect(row.dlp_findings[0]).toMatchObject({ class: 'secret.aws_access_key', location: { path: '$.messages[0].content' } });
    expect(JSON.stringify(row)).not.toContain(AWS_KEY);
  });

  it('answers a blocked Anthropic call in the Anthropic error shape', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url, type: 'anthropic' });
    const r = await chat(a.key, `key ${AWS_KEY}`, '/v1/messages');
    expect(r.res.status).toBe(403);
    expect(r.json).toMatchObject({ type: 'error', error: { type: 'permission_error' }, renlayer: { code: 'dlp_blocked' } });
  });

  it('forwards a HIGH finding and marks the call DLP_WARNED', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const r = await chat(a.key, `my ssn is ${SSN}`);
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get('x-renlayer-status')).toBe('DLP_WARNED');
    expect(await trace(r.id)).toMatchObject({ status: 'DLP_WARNED', reason: 'dlp_warned' });
  });

  it('redacts when the tenant says so: the upstream receives [REDACTED:<class>], not the value', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await t.db.query(`INSERT INTO renlayer.dlp_detector_overrides (tenant_id, class, action) VALUES ($1, 'pii.email', 'redact')`, [a.tenant.id]);
    await fetch(mock.url + '/_mock/requests', { method: 'DELETE' });
    // The override reaches the proxy within a second; until then the value goes through as is.
    const r = await eventually(async () => {
      const x = await chat(a.key, `write to ${EMAIL} today`);
      const last = JSON.parse((await upstreamBodies()).at(-1)!) as { messages: { content: string }[] };
      return last.messages[0]!.content === 'write to [REDACTED:pii.email] today' ? x : null;
    }, 2_000, 50);
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get('x-renlayer-status')).toBe('DLP_WARNED');
    expect(r.text).not.toContain(EMAIL);
    expect(await trace(r.id)).toMatchObject({ status: 'DLP_WARNED', reason: 'dlp_redacted' });
  });

  it('in flag-only mode forwards what it would block, recorded as DLP_WARNED / would_block', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await t.db.query(`UPDATE renlayer.tenants SET enforcement = 'flag_only' WHERE id = $1`, [a.tenant.id]);
    const r = await eventually(async () => {
      const x = await chat(a.key, `deploy with ${AWS_KEY}`);
      return x.res.status === 200 ? x : null;
    }, 2_000, 50);
    expect(r.res.headers.get('x-renlayer-status')).toBe('DLP_WARNED');
    expect(await trace(r.id)).toMatchObject({ status: 'DLP_WARNED', reason: 'would_block' });
  });

  it('applies a custom pattern added to the database to the next requests, without a restart', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    expect((await chat(a.key, 'codename nightjar is go')).res.status).toBe(200);
    await t.db.query(
      `INSERT INTO renlayer.dlp_patterns (id, tenant_id, name, type, keywords, severity) VALUES ($1, $2, 'codenames', 'keywords', ARRAY['nightjar'], 'CRITICAL')`,
      [`pat_${Date.now()}`, a.tenant.id]);
    const r = await eventually(async () => {
      const x = await chat(a.key, 'codename Nightjar is go');
      return x.res.status === 403 ? x : null;
    }, 1_000, 20);
    expect(r.json.renlayer.findings[0]).toMatchObject({ class: 'custom.codenames' });
  });

  it('lets an allow-listed value through', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await t.db.query(`INSERT INTO renlayer.dlp_allow_list (id, tenant_id, class, value) VALUES ($1, $2, 'payment.credit_card', '4111 1111 1111 1111')`,
      [`alw_${Date.now()}`, a.tenant.id]);
    const r = await eventually(async () => {
      const x = await chat(a.key, 'test card 4111-1111-1111-1111');
      return x.res.status === 200 ? x : null;
    }, 2_000, 50);
    expect(r.res.status).toBe(200);
    expect((await chat(a.key, 'real card 5555 5555 5555 4444')).res.status).toBe(403);
  });
});

describe('response DLP through the proxy', () => {
  // A response-only custom pattern: the agent may send it (the mock echoes it back), the model
  // must not return it. CRITICAL, so it blocks.
  const CARD = 'ACCT-7731-2209-4417';
  const DIGITS = '773122094417';
  async function leakyTenant(type?: 'anthropic') {
    const a = await tenantWithAgent(t.db, { upstream: mock.url, type });
    await t.db.query(
      `INSERT INTO renlayer.dlp_patterns (id, tenant_id, name, type, pattern, severity, applies_to)
       VALUES ($1, $2, 'account-number', 'regex', 'ACCT-[0-9]{4}-[0-9]{4}-[0-9]{4}', 'CRITICAL', 'response')`,
      [`pat_${a.agent.id}`, a.tenant.id]);
    // Applied within a second: wait until a leaking answer is refused.
    await eventually(async () => (await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', 'x-mock-echo': '1' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: CARD }] }),
    })).status === 403, 2_000, 50);
    return a;
  }
  // Long enough that the answer flows past the hold-back window before the card appears.
  const PROSE = 'The quarterly report covers revenue, churn, hiring plans and the roadmap for next year. '.repeat(12);

  async function streamRaw(key: string, path: string, body: unknown, headers: Record<string, string>) {
    const res = await fetch(proxy.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const bytes = Buffer.from(await res.arrayBuffer()).toString('utf8');
    return { res, bytes, id: res.headers.get('x-renlayer-trace-id')! };
  }

  it('never lets a card number leaked by the upstream into an OpenAI stream reach the agent, even split across chunks', async () => {
    const a = await leakyTenant();
    const { res, bytes, id } = await streamRaw(a.key, '/v1/chat/completions',
      { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `${PROSE} The card is ${CARD} thanks.` }] },
      { 'x-mock-echo': '1', 'x-mock-chunks': '97' });
    expect(res.status).toBe(200);
    // Assert on the raw bytes, in every spelling the digits could arrive in.
    expect(bytes.replace(/[^0-9]/g, '')).not.toContain(DIGITS);
    // Not even the start of the value was released: the text the agent saw ends before it.
    const seen = bytes.split('\n').filter((l) => l.startsWith('data: {"id"'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');
    expect(seen).toContain('quarterly');
    expect(seen).not.toMatch(/A(C(C(T)?)?)?$|ACCT|7731/);
    expect(PROSE + ' The card is ').toContain(seen.slice(-20));
    expect(bytes).toContain('"code":"dlp_blocked"');
    expect(bytes).not.toContain('data: [DONE]');
    // The harmless text before it did flow.
    expect(bytes).toContain('quarterly');
    expect(await trace(id)).toMatchObject({ status: 'DLP_BLOCKED', reason: 'dlp_blocked_response' });
  });

  it('ends a leaking Anthropic stream with an error event', async () => {
    const a = await leakyTenant('anthropic');
    const { bytes } = await streamRaw(a.key, '/v1/messages',
      { model: 'claude-sonnet-4', max_tokens: 500, stream: true, messages: [{ role: 'user', content: `${PROSE} card ${CARD}` }] },
      { 'x-mock-echo': '1', 'x-mock-chunks': '61' });
    expect(bytes.replace(/[^0-9]/g, '')).not.toContain(DIGITS);
    expect(bytes).toContain('event: error');
    expect(bytes).not.toContain('message_stop');
  });

  it('blocks a complete JSON answer that leaks, in the agent dialect', async () => {
    const a = await leakyTenant();
    const { res, bytes, id } = await streamRaw(a.key, '/v1/chat/completions',
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `card ${CARD}` }] }, { 'x-mock-echo': '1' });
    expect(res.status).toBe(403);
    expect(JSON.parse(bytes)).toMatchObject({ error: { code: 'dlp_blocked' }, renlayer: { findings: [{ class: 'custom.account-number', direction: 'response' }] } });
    expect(bytes.replace(/[^0-9]/g, '')).not.toContain(DIGITS);
    expect(await trace(id)).toMatchObject({ status: 'DLP_BLOCKED', reason: 'dlp_blocked_response', http_status: 403 });
  });

  /** Like leakyTenant, but the pattern redacts; ready once an echoed JSON answer comes back redacted. */
  async function redactingTenant() {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await t.db.query(
      `INSERT INTO renlayer.dlp_patterns (id, tenant_id, name, type, pattern, severity, applies_to, action)
       VALUES ($1, $2, 'account-number', 'regex', 'ACCT-[0-9]{4}-[0-9]{4}-[0-9]{4}', 'CRITICAL', 'response', 'redact')`,
      [`pat_${a.agent.id}`, a.tenant.id]);
    await eventually(async () => (await (await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', 'x-mock-echo': '1' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: CARD }] }),
    })).text()).includes(MARKER), 2_000, 50);
    const client = new OpenAI({ baseURL: proxy.url + '/v1', apiKey: a.key, maxRetries: 0 });
    return { ...a, client };
  }
  const MARKER = '[REDACTED:custom.account-number]';

  it('redacts a value leaked into an OpenAI stream in flight: the SDK assembles the marker, the raw bytes never carry the digits', async () => {
    const a = await redactingTenant();
    const prompt = `${PROSE} The card is ${CARD} thanks.`;
    const { bytes, id } = await streamRaw(a.key, '/v1/chat/completions',
      { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: prompt }] },
      { 'x-mock-echo': '1', 'x-mock-chunks': '97' });
    expect(bytes.replace(/[^0-9]/g, '')).not.toContain(DIGITS);
    expect(bytes).toContain('data: [DONE]');
    expect(await trace(id)).toMatchObject({ status: 'DLP_WARNED', reason: 'dlp_redacted' });

    const stream = await a.client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: prompt }] },
      { headers: { 'x-mock-echo': '1', 'x-mock-chunks': '53' } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain(prompt.replace(CARD, MARKER));
  });

  it('redacts a Responses API stream, deltas and the final output alike', async () => {
    const a = await redactingTenant();
    const input = `${PROSE} Account ${CARD} is overdue.`;
    const { bytes } = await streamRaw(a.key, '/v1/responses', { model: 'gpt-4o-mini', stream: true, input },
      { 'x-mock-echo': '1', 'x-mock-chunks': '31' });
    expect(bytes.replace(/[^0-9]/g, '')).not.toContain(DIGITS);
    expect(bytes).toContain('response.completed');

    const final = await a.client.responses.stream({ model: 'gpt-4o-mini', input }, { headers: { 'x-mock-echo': '1', 'x-mock-chunks': '17' } }).finalResponse();
    expect(final.output_text).toContain(input.replace(CARD, MARKER));
    expect(JSON.stringify(final)).not.toContain(CARD);
  });

  it('passes a clean long stream through unchanged, starting before the upstream has finished', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const body = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: PROSE + PROSE }] };
    const headers = { 'x-mock-echo': '1', 'x-mock-chunks': '40', 'x-mock-chunk-delay-ms': '25' };
    const direct = await fetch(mock.url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const directText = (await direct.text()).replace(/"(id|created)":("[^"]*"|\d+)/g, '');
    const res = await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
    });
    const reader = res.body!.getReader();
    let text = '';
    let readsBeforeDone = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      if (!text.includes('[DONE]')) readsBeforeDone++;
    }
    // Held back by at most the window, then released as the answer grows: several reads came
    // in before the end of the stream.
    expect(readsBeforeDone).toBeGreaterThan(3);
    expect(text.replace(/"(id|created)":("[^"]*"|\d+)/g, '')).toBe(directText);
  });
});

/**
 * A stream whose mock upstream sends its first delta (whole words and a blank) and then waits an
 * hour before the next: what the agent gets before the deadline is what the proxy did not hold.
 */
async function firstStreamedText(key: string): Promise<{ first: string; id: string }> {
  const abort = new AbortController();
  const res = await fetch(proxy.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-mock-chunks': '4', 'x-mock-chunk-delay-ms': '3600000' },
    body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hello there' }] }),
    signal: abort.signal,
  });
  const id = res.headers.get('x-renlayer-trace-id')!;
  const reader = res.body!.getReader();
  let text = '';
  const firstText = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'ended';
      text += new TextDecoder().decode(value);
      const content = text.split('\n').filter((l) => l.startsWith('data: {'))
        .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');
      if (content) return content;
    }
  })();
  const deadline = new Promise<'held back'>((resolve) => setTimeout(() => resolve('held back'), 10_000).unref());
  const first = await Promise.race([firstText, deadline]);
  abort.abort();
  return { first, id };
}

describe('streams of a tenant whose response DLP cannot stop them', () => {
  it('are relayed as they arrive: with every class set to warn or record, no text is held back', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    await t.db.query(
      `UPDATE renlayer.tenants SET settings = settings || '{"dlp_actions": {"CRITICAL": "warn", "HIGH": "warn", "MEDIUM": "record", "LOW": "record"}}' WHERE id = $1`,
      [a.tenant.id]);
    // Applied once a CRITICAL secret is forwarded with a warning instead of refused.
    await eventually(async () => (await chat(a.key, `deploy with ${AWS_KEY} please`)).res.status === 200, 5_000, 50);
    const { first, id } = await firstStreamedText(a.key);
    expect(first).toMatch(/^This /);
    expect(await trace(id)).toMatchObject({ status: 'ALLOWED', reason: 'client_closed', stream: true });
  });
});

describe('streams of a tenant whose response DLP blocks', () => {
  it('relay words as they arrive: only text that could still begin a value waits for the next', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    // The first delta ends with a blank, which begins no secret or card number.
    const { first, id } = await firstStreamedText(a.key);
    expect(first).toMatch(/^This .* $/);
    expect(await trace(id)).toMatchObject({ status: 'ALLOWED', reason: 'client_closed', stream: true });
  });
});

describe('bodies on the trace', () => {
  // The SSN is HIGH: the call is forwarded (DLP_WARNED) and the mock echoes it back.
  const prompt = `Please file this for the customer with SSN ${SSN}, thanks.`;
  async function tenantStoring(store: 'none' | 'redacted' | 'redacted_and_encrypted') {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    if (store !== 'redacted') {
      await t.db.query('UPDATE renlayer.tenants SET store_bodies = $2 WHERE id = $1', [a.tenant.id, store]);
      // Applied within a second: the trace of a call made now says so.
      await eventually(async () => {
        const r = await chat(a.key, 'ping');
        const row = await trace(r.id);
        return store === 'none' ? row.request_body === null : row.request_body_enc !== null;
      }, 3_000, 100);
    }
    return a;
  }
  async function echoed(key: string, stream = false) {
    const res = await fetch(proxy.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-mock-echo': '1', 'x-mock-chunks': '9' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: prompt }] }),
    });
    await res.arrayBuffer();
    return trace(res.headers.get('x-renlayer-trace-id')!);
  }

  it('stores the request and the answer redacted by default, never the value, and no originals', async () => {
    const a = await tenantStoring('redacted');
    const row = await echoed(a.key);
    expect(row.status).toBe('DLP_WARNED');
    expect(JSON.parse(row.request_body).messages[0].content).toBe(prompt.replace(SSN, '[REDACTED:gov.us_ssn]'));
    expect(JSON.parse(row.response_body).choices[0].message.content).toContain('[REDACTED:gov.us_ssn]');
    for (const column of ['request_body', 'response_body']) expect(row[column]).not.toContain(SSN);
    expect(row.request_body_enc).toBeNull();
    expect(row.response_body_enc).toBeNull();
  });

  it('keeps no request body for a call refused before its scan: nothing unscanned is stored in clear', async () => {
    const a = await tenantStoring('redacted');
    await t.db.query(`INSERT INTO renlayer.rate_limits (id, tenant_id, scope, dimension, "window", limit_value) VALUES ($1, $2, 'per_tenant', 'requests', 'minute', 1)`,
      [`lim_${a.agent.id}`, a.tenant.id]);
    // Applied within a second: once the limit is loaded, the second call of the minute is refused.
    let row: Record<string, unknown> = {};
    await eventually(async () => {
      row = await echoed(a.key);
      return row.reason === 'rate_limit_exceeded';
    }, 5_000, 100);
    expect(row).toMatchObject({ status: 'DENIED', http_status: 429, request_body: null });
    expect(JSON.stringify(row)).not.toContain(SSN);
  });

  it('stores a streamed answer as its redacted text per stream', async () => {
    const a = await tenantStoring('redacted');
    const row = await echoed(a.key, true);
    const stored = JSON.parse(row.response_body) as { stream: boolean; texts: Record<string, string> };
    expect(stored.stream).toBe(true);
    expect(stored.texts['choice:0:content']).toContain(prompt.replace(SSN, '[REDACTED:gov.us_ssn]'));
    expect(row.response_body).not.toContain(SSN);
  });

  it('seals the originals for tenants that keep them, bound to the trace: only the key and the right trace open them', async () => {
    const a = await tenantStoring('redacted_and_encrypted');
    const row = await echoed(a.key);
    expect(row.request_body).not.toContain(SSN);
    expect(row.request_body_enc).not.toContain(SSN);
    const request = open(TEST_ENCRYPTION_KEY, row.request_body_enc, bodyContext(a.tenant.id, row.id, 'request')).toString('utf8');
    expect(JSON.parse(request).messages[0].content).toBe(prompt);
    const response = open(TEST_ENCRYPTION_KEY, row.response_body_enc, bodyContext(a.tenant.id, row.id, 'response')).toString('utf8');
    expect(JSON.parse(response).choices[0].message.content).toContain(SSN);
    expect(() => open(TEST_ENCRYPTION_KEY, row.request_body_enc, bodyContext(a.tenant.id, 'trace_other', 'request'))).toThrow();
  });

  it('keeps no bodies when the tenant says none', async () => {
    const a = await tenantStoring('none');
    const row = await echoed(a.key);
    expect([row.request_body, row.response_body, row.request_body_enc, row.response_body_enc]).toEqual([null, null, null, null]);
  });

  it('stores a blocked request redacted too', async () => {
    const a = await tenantStoring('redacted');
    const r = await chat(a.key, `deploy with ${AWS_KEY} please`);
    expect(r.res.status).toBe(403);
    const row = await trace(r.id);
    expect(row.request_body).toContain('[REDACTED:secret.aws_access_key]');
    expect(row.request_body).not.toContain(AWS_KEY);
    expect(row.response_body).toBeNull();
  });
});
