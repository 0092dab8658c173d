import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, tenantWithAgent } from './helpers/fixtures.js';
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
    const r = await eventually(async () => {
      const x = await chat(a.key, `write to ${EMAIL} today`);
      return x.res.headers.get('x-renlayer-status') === 'DLP_WARNED' ? x : null;
    }, 2_000, 50);
    expect(r.res.status).toBe(200);
    const bodies = await upstreamBodies();
    const last = JSON.parse(bodies.at(-1)!) as { messages: { content: string }[] };
    expect(last.messages[0]!.content).toBe('write to [REDACTED:pii.email] today');
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
