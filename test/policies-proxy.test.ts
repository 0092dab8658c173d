import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { savePolicy } from '../src/store/policies.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, tenantWithAgent } from './helpers/fixtures.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';

// Policies and limits through the real proxy, driven by the official SDKs (SPEC §3, §5, §7).
let t: TestDatabase;
let mock: MockServer;
let proxy: ProxyProcess;

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

const EMAIL = 'anna.berg@nordlicht-logistik.de';

async function trace(id: string) {
  return eventually(async () => (await t.db.query<Record<string, any>>('SELECT * FROM renlayer.traces WHERE id = $1', [id])).rows[0]);
}

async function post(key: string, body: unknown, headers: Record<string, string> = {}, path = '/v1/chat/completions') {
  const res = await fetch(proxy.url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { res, text, id: res.headers.get('x-renlayer-trace-id')! };
}

const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });

/** A tenant with an agent on the mock and the given policies, ready once a probe call shows them applied. */
async function tenantWith(policies: unknown[], ready: (key: string) => Promise<boolean>) {
  const a = await tenantWithAgent(t.db, { upstream: mock.url });
  const ids: string[] = [];
  await t.db.transaction(async (tx) => {
    for (const p of policies) ids.push((await savePolicy(tx, a.tenant.id, p, 'test')).id);
  });
  await eventually(() => ready(a.key), 3_000, 50);
  return { ...a, policyIds: ids, openai: new OpenAI({ baseURL: proxy.url + '/v1', apiKey: a.key, maxRetries: 0 }) };
}

describe('policies through the proxy', () => {
  it('a DENY policy answers 403 policy_denied with its id and custom message, in the OpenAI SDK and the trace', async () => {
    // E-mail addresses are MEDIUM (warn): without the policy the call would go through.
    const a = await tenantWith([{
      name: 'no-emails-to-openai', action: 'DENY', priority: 10, message: 'Customer addresses must not leave the company.',
      conditions: [{ field: 'dlp_class', op: 'in', value: ['pii.email'] }, { field: 'model', op: 'glob', value: ['gpt-4o*'] }],
    }], async (key) => (await post(key, chatBody(`mail ${EMAIL}`))).res.status === 403);
    const err = await a.openai.chat.completions.create(chatBody(`Please write to ${EMAIL}`) as never).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(403);
    expect(e.code).toBe('policy_denied');
    expect(e.message).toContain('Customer addresses must not leave the company.');
    const raw = await post(a.key, chatBody(`Please write to ${EMAIL}`));
    const json = JSON.parse(raw.text);
    expect(json.error).toMatchObject({ code: 'policy_denied', type: 'renlayer_error', message: 'Customer addresses must not leave the company.' });
    expect(json.renlayer).toMatchObject({ code: 'policy_denied', policy_id: a.policyIds[0], message: 'Customer addresses must not leave the company.' });
    expect(raw.text).not.toContain(EMAIL);
    expect(await trace(raw.id)).toMatchObject({ status: 'DENIED', reason: 'policy_denied', http_status: 403, winning_policy_id: a.policyIds[0], policy_ids: [a.policyIds[0]] });
    // The same call without the address, or to another model, goes through.
    expect((await post(a.key, chatBody('hello'))).res.status).toBe(200);
    const other = await post(a.key, { ...chatBody(`mail ${EMAIL}`), model: 'o3-mini' });
    expect(other.res.status).toBe(200);
    expect(await trace(other.id)).toMatchObject({ status: 'DLP_WARNED', policy_ids: [] });
  });

  it('answers a denied Anthropic call in the Anthropic error shape', async () => {
    const a = await tenantWith([{ name: 'no-claude', action: 'DENY', priority: 1, message: 'Not this provider.', conditions: [{ field: 'model', op: 'glob', value: ['claude-*'] }] }],
      async (key) => (await post(key, { model: 'claude-sonnet-4', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, {}, '/v1/messages')).res.status === 403);
    const client = new Anthropic({ baseURL: proxy.url, apiKey: a.key, maxRetries: 0 });
    const err = await client.messages.create({ model: 'claude-sonnet-4', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(403);
    expect((err as InstanceType<typeof Anthropic.APIError>).message).toContain('Not this provider.');
  });

  it('a FLAG policy forwards the call, marks it FLAGGED and says so in a header', async () => {
    const a = await tenantWith([{ name: 'flag-big', action: 'FLAG', priority: 5, conditions: [{ field: 'request_bytes', op: 'gt', value: 2000 }] }],
      async (key) => (await post(key, chatBody('x'.repeat(3000)))).res.headers.get('x-renlayer-status') === 'FLAGGED');
    const r = await post(a.key, chatBody('y'.repeat(3000)));
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get('x-renlayer-status')).toBe('FLAGGED');
    expect(await trace(r.id)).toMatchObject({ status: 'FLAGGED', reason: 'policy_flagged', winning_policy_id: a.policyIds[0] });
    const small = await post(a.key, chatBody('small'));
    expect(await trace(small.id)).toMatchObject({ status: 'ALLOWED', policy_ids: [] });
  });

  it('first match by priority wins, every match is on the trace, and disabled policies do not count', async () => {
    const a = await tenantWith([
      { name: 'allow-support', action: 'ALLOW', priority: 1, conditions: [{ field: 'user', op: 'glob', value: 'support-*' }] },
      { name: 'deny-all-chat', action: 'DENY', priority: 2, conditions: [{ field: 'action_type', op: 'in', value: ['chat_completion'] }] },
      { name: 'deny-disabled', action: 'DENY', priority: 0, enabled: false, conditions: [] },
    ], async (key) => (await post(key, chatBody('x'))).res.status === 403);
    const ok = await post(a.key, chatBody('hello'), { 'x-renlayer-user': 'support-anna' });
    expect(ok.res.status).toBe(200);
    expect(await trace(ok.id)).toMatchObject({ status: 'ALLOWED', winning_policy_id: a.policyIds[0], policy_ids: [a.policyIds[0], a.policyIds[1]] });
    const denied = await post(a.key, chatBody('hello'), { 'x-renlayer-user': 'sales-bob' });
    expect(denied.res.status).toBe(403);
    expect(await trace(denied.id)).toMatchObject({ winning_policy_id: a.policyIds[1], policy_ids: [a.policyIds[1]] });
  });

  it('a default-deny tenant refuses what no policy allows', async () => {
    const a = await tenantWith([{ name: 'allow-mini', action: 'ALLOW', priority: 1, conditions: [{ field: 'model', op: 'in', value: ['gpt-4o-mini'] }] }], async () => true);
    await t.db.query(`UPDATE renlayer.tenants SET default_action = 'DENY' WHERE id = $1`, [a.tenant.id]);
    await eventually(async () => (await post(a.key, { ...chatBody('x'), model: 'gpt-4o' })).res.status === 403, 3_000, 50);
    const r = await post(a.key, { ...chatBody('x'), model: 'gpt-4o' });
    expect(JSON.parse(r.text).renlayer).toMatchObject({ code: 'policy_denied', policy_id: null, default_action: 'DENY' });
    expect(await trace(r.id)).toMatchObject({ status: 'DENIED', reason: 'policy_denied', winning_policy_id: null });
    expect((await post(a.key, chatBody('x'))).res.status).toBe(200);
  });

  it('in flag-only mode a DENY is forwarded and recorded as FLAGGED / would_deny', async () => {
    const a = await tenantWith([{ name: 'deny-everything', action: 'DENY', priority: 1, conditions: [] }], async (key) => (await post(key, chatBody('x'))).res.status === 403);
    await t.db.query(`UPDATE renlayer.tenants SET enforcement = 'flag_only' WHERE id = $1`, [a.tenant.id]);
    await eventually(async () => (await post(a.key, chatBody('x'))).res.status === 200, 3_000, 50);
    const r = await post(a.key, chatBody('x'));
    expect(r.res.headers.get('x-renlayer-status')).toBe('FLAGGED');
    expect(await trace(r.id)).toMatchObject({ status: 'FLAGGED', reason: 'would_deny', winning_policy_id: a.policyIds[0] });
  });

  it('DENIED wins over DLP_BLOCKED, and both are on the trace', async () => {
    const AWS = ['AKIA', 'J7Q3R5T2', 'W6Y4Z2PL'].join('');
    const a = await tenantWith([{ name: 'deny-secrets', action: 'DENY', priority: 1, message: 'No secrets.', conditions: [{ field: 'dlp_category', op: 'in', value: ['secret'] }] }],
      async (key) => (await post(key, chatBody(`key ${AWS}`))).res.status === 403 && (await post(key, chatBody(`key ${AWS}`))).text.includes('policy_denied'));
    const r = await post(a.key, chatBody(`deploy with ${AWS}`));
    expect(JSON.parse(r.text).error.code).toBe('policy_denied');
    const row = await trace(r.id);
    expect(row).toMatchObject({ status: 'DENIED', reason: 'policy_denied' });
    expect(row.dlp_findings).toEqual([expect.objectContaining({ class: 'secret.aws_access_key', action: 'block' })]);
  });

  it('a response-stage DENY withholds a JSON answer and ends a stream with an error event', async () => {
    const a = await tenantWith([{
      name: 'no-emails-back', action: 'DENY', priority: 1, message: 'Answers must not contain e-mail addresses.',
      conditions: [{ field: 'dlp_class', op: 'in', value: ['pii.email'], direction: 'response' }],
    }], async (key) => (await post(key, chatBody('write to anna@example.org'), { 'x-mock-echo': '1' })).res.status === 403);
    const r = await post(a.key, chatBody('write to anna@example.org'), { 'x-mock-echo': '1' });
    expect(JSON.parse(r.text).error).toMatchObject({ code: 'policy_denied' });
    expect(r.text).not.toContain('anna@example.org');
    expect(await trace(r.id)).toMatchObject({ status: 'DENIED', reason: 'policy_denied', winning_policy_id: a.policyIds[0] });
    const s = await post(a.key, chatBody(`${'Some harmless prose to stream first. '.repeat(20)} write to anna@example.org`, { stream: true }), { 'x-mock-echo': '1', 'x-mock-chunks': '40' });
    expect(s.text).toContain('"code":"policy_denied"');
    expect(s.text).not.toContain('anna@example.org');
    expect(s.text).not.toContain('[DONE]');
    // An answer without an address goes through.
    expect((await post(a.key, chatBody('hello'), { 'x-mock-echo': '1' })).res.status).toBe(200);
  });

  it('a stream is refused by the first finding a DENY matches, even when a later one in the same read matches a higher-priority ALLOW', async () => {
    const PHONE = '+44 (0)20 7946 0958';
    const a = await tenantWith([
      { name: 'phones-are-fine', action: 'ALLOW', priority: 1, conditions: [{ field: 'dlp_class', op: 'in', value: ['pii.phone'], direction: 'response' }] },
      { name: 'no-emails-back', action: 'DENY', priority: 2, conditions: [{ field: 'dlp_class', op: 'in', value: ['pii.email'], direction: 'response' }] },
    ], async (key) => (await post(key, chatBody(`write to ${EMAIL}`), { 'x-mock-echo': '1' })).res.status === 403);
    // No delay between chunks: the mock writes the whole stream at once, so the proxy reads the
    // address and the number together.
    const s = await post(a.key, chatBody(`Write to ${EMAIL} today. Or call ${PHONE} tomorrow.`, { stream: true }), { 'x-mock-echo': '1', 'x-mock-chunks': '6' });
    expect(s.text).toContain('"code":"policy_denied"');
    expect(s.text).not.toContain(EMAIL);
    expect(await trace(s.id)).toMatchObject({ status: 'DENIED', reason: 'policy_denied', winning_policy_id: a.policyIds[1] });
  });

  it('a policy saved in the database is enforced by the running proxy within a second', async () => {
    const a = await tenantWith([], async () => true);
    expect((await post(a.key, chatBody('deploy now'))).res.status).toBe(200);
    await t.db.transaction((tx) => savePolicy(tx, a.tenant.id, { name: 'freeze', action: 'DENY', priority: 1, conditions: [{ field: 'prompt', op: 'contains', value: 'DEPLOY', case_insensitive: true }] }, 'test'));
    const saved = Date.now();
    await eventually(async () => (await post(a.key, chatBody('deploy now'))).res.status === 403, 1_000, 20);
    expect(Date.now() - saved).toBeLessThan(5_000);
  });
});

describe('rate limits through the proxy', () => {
  async function limited(rows: { scope: string; dimension: string; window: string; limit: number }[]) {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    for (const [i, r] of rows.entries()) {
      await t.db.query(`INSERT INTO renlayer.rate_limits (id, tenant_id, scope, dimension, "window", limit_value) VALUES ($1, $2, $3, $4, $5, $6)`,
        [`lim_${a.agent.id}_${i}`, a.tenant.id, r.scope, r.dimension, r.window, r.limit]);
    }
    return a;
  }

  it('a per-user request limit answers 429 with Retry-After and the limit, traced DENIED / rate_limit_exceeded', async () => {
    const a = await limited([{ scope: 'per_user', dimension: 'requests', window: 'minute', limit: 3 }]);
    // Applied within a second: the fourth call of a fresh user is refused once the limit is loaded.
    await eventually(async () => {
      const user = `probe-${Math.random()}`;
      for (let i = 0; i < 3; i++) await post(a.key, chatBody('x'), { 'x-renlayer-user': user });
      return (await post(a.key, chatBody('x'), { 'x-renlayer-user': user })).res.status === 429;
    }, 3_000, 50);
    for (let i = 0; i < 3; i++) expect((await post(a.key, chatBody('x'), { 'x-renlayer-user': 'alice' })).res.status).toBe(200);
    const r = await post(a.key, chatBody('x'), { 'x-renlayer-user': 'alice' });
    expect(r.res.status).toBe(429);
    const retry = Number(r.res.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    // Sliding windows count the bucket holding now − 1 min whole: at most one second more.
    expect(retry).toBeLessThanOrEqual(61);
    expect(JSON.parse(r.text)).toMatchObject({
      error: { code: 'rate_limit_exceeded' },
      renlayer: { code: 'rate_limit_exceeded', limit: { scope: 'per_user', dimension: 'requests', window: 'minute', limit: 3, retry_after_s: retry } },
    });
    expect(await trace(r.id)).toMatchObject({ status: 'DENIED', reason: 'rate_limit_exceeded', http_status: 429 });
    // Another user has their own bucket.
    expect((await post(a.key, chatBody('x'), { 'x-renlayer-user': 'bob' })).res.status).toBe(200);
    // The OpenAI SDK sees a RateLimitError.
    const client = new OpenAI({ baseURL: proxy.url + '/v1', apiKey: a.key, maxRetries: 0, defaultHeaders: { 'x-renlayer-user': 'alice' } });
    await expect(client.chat.completions.create(chatBody('x') as never)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('a token budget used up by streamed calls refuses the next call', async () => {
    // The mock reports usage on streams; a budget of 1 token per hour is used up by the first call.
    // Each attempt is a fresh user: one made before the proxy loaded the limit spends nothing of
    // the next attempt's budget.
    const a = await limited([{ scope: 'per_user', dimension: 'tokens', window: 'hour', limit: 1 }]);
    const client = new OpenAI({ baseURL: proxy.url + '/v1', apiKey: a.key, maxRetries: 0 });
    let user = '';
    await eventually(async () => {
      user = `streamer-${Math.random()}`;
      const stream = await client.chat.completions.create({ ...chatBody('count my tokens'), stream: true } as never, { headers: { 'x-renlayer-user': user } }) as unknown as AsyncIterable<unknown>;
      for await (const _ of stream) { /* drain */ }
      return (await post(a.key, chatBody('x'), { 'x-renlayer-user': user })).res.status === 429;
    }, 3_000, 100);
    const r = await post(a.key, chatBody('again'), { 'x-renlayer-user': user });
    expect(r.res.status).toBe(429);
    expect(JSON.parse(r.text).renlayer.limit).toMatchObject({ scope: 'per_user', dimension: 'tokens', window: 'hour', limit: 1 });
    const row = await trace(r.id);
    expect(row).toMatchObject({ status: 'DENIED', reason: 'rate_limit_exceeded' });
    expect(row.rate_limit).toEqual([expect.objectContaining({ dimension: 'tokens', limit: 1 })]);
  });
});
