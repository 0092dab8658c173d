import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { TEST_ENCRYPTION_KEY } from './helpers/fixtures.js';
import { baseEnv, runCli } from './helpers/processes.js';

// `renlayer policy test` and `renlayer policy list` from the real program: the tenant is set up
// with `renlayer apply`, and the test's verdict is the proxy's own (src/proxy/playground.ts).

const SLOW = 90_000;
const EMAIL = 'maria.lopez@acme-corp.io';

let t: TestDatabase;
let dir: string;
const TENANT = `policy-cli-${process.pid}`;

const env = () => baseEnv({
  RENLAYER_DATABASE_URL: t.url,
  RENLAYER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
  RENLAYER_LOG_LEVEL: 'warn',
});
const run = (args: string[], input?: string) => runCli(args, env(), { timeoutMs: 60_000, input });

function write(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const chat = (text: string) => ({ path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] } });

let denyId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rl-policy-cli-'));
  t = await createTestDatabase();
  const config = write('tenant.yaml', `apiVersion: renlayer/v1
tenant: ${TENANT}
agents:
  - name: support-bot
    upstream: {type: openai, base_url: "https://api.openai.com"}
  - name: other-bot
    upstream: {type: anthropic, base_url: "https://api.anthropic.com"}
policies:
  - name: no-emails-out
    action: DENY
    priority: 10
    message: Customer e-mail addresses stay inside.
    scope: {agents: [support-bot]}
    conditions:
      - {field: dlp_class, op: in, value: [pii.email]}
  - name: flag-everything-from-support
    action: FLAG
    priority: 20
    scope: {agents: [support-bot]}
  - name: deny-leaked-answers
    action: DENY
    priority: 30
    conditions:
      - {field: dlp_category, op: in, value: [secret], direction: response}
`);
  const r = await run(['apply', '-f', config]);
  expect(r.code, r.stderr).toBe(0);
  denyId = (await t.db.query<{ id: string }>(`SELECT p.id FROM renlayer.policies p JOIN renlayer.tenants t ON t.id = p.tenant_id WHERE t.name = $1 AND p.name = 'no-emails-out'`, [TENANT])).rows[0]!.id;
}, SLOW);

afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('renlayer policy test', () => {
  it('answers --help; wrong usage exits 2', async () => {
    const [help, group, missing] = await Promise.all([
      runCli(['policy', 'test', '--help'], baseEnv()), runCli(['policy', '--help'], baseEnv()), runCli(['policy', 'test', '--tenant', 'x'], baseEnv()),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: renlayer policy test --tenant T --agent A --request FILE [--json]');
    expect(group.stdout).toContain('policy list');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--agent is required');
  });

  it('a request carrying an e-mail address is DENIED (403) by the DLP-class policy, which wins; the address is never printed', async () => {
    const req = write('email.json', chat(`Please write to ${EMAIL} about the refund.`));
    const [json, human] = await Promise.all([
      run(['policy', 'test', '--tenant', TENANT, '--agent', 'support-bot', '--request', req, '--json']),
      run(['policy', 'test', '--tenant', TENANT, '--agent', 'support-bot', '--request', req]),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout);
    expect(r.status).toBe('DENIED');
    expect(r.reason).toBe('policy_denied');
    expect(r.http_status).toBe(403);
    expect(r.action).toBe('DENY');
    expect(r.winner).toMatchObject({ id: denyId, name: 'no-emails-out', action: 'DENY', priority: 10 });
    expect(r.matched.map((p: { name: string }) => p.name)).toEqual(['no-emails-out', 'flag-everything-from-support']);
    expect(r.findings).toEqual([expect.objectContaining({ class: 'pii.email', severity: 'MEDIUM', direction: 'request' })]);
    expect(r.error).toMatchObject({ code: 'policy_denied', message: 'Customer e-mail addresses stay inside.' });
    expect(r.response_policies.map((p: { name: string }) => p.name)).toEqual(['deny-leaked-answers']);
    expect(json.stdout).not.toContain(EMAIL);

    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`1. no-emails-out (${denyId}) DENY, priority 10  ← winner`);
    expect(human.stdout).toContain('2. flag-everything-from-support');
    expect(human.stdout).toContain('pii.email MEDIUM');
    expect(human.stdout).toContain(`winner: no-emails-out (${denyId}) → DENY`);
    expect(human.stdout).toContain('status: DENIED (policy_denied), HTTP 403');
    expect(human.stdout).not.toContain(EMAIL);
  }, SLOW);

  it('a clean request is FLAGGED for one agent and ALLOWED for another; the verdict exits 0 either way', async () => {
    const req = write('clean.json', chat('Summarise the meeting notes from Tuesday.'));
    const [support, other] = await Promise.all([
      run(['policy', 'test', '--tenant', TENANT, '--agent', 'support-bot', '--request', req, '--json']),
      run(['policy', 'test', '--tenant', TENANT, '--agent', 'other-bot', '--request', req, '--json']),
    ]);
    expect(support.code, support.stderr).toBe(0);
    expect(JSON.parse(support.stdout)).toMatchObject({ status: 'FLAGGED', http_status: 200, winner: { name: 'flag-everything-from-support' } });
    expect(other.code, other.stderr).toBe(0);
    const r = JSON.parse(other.stdout);
    expect(r).toMatchObject({ status: 'ALLOWED', reason: null, http_status: 200, winner: null, matched: [], findings: [], action: 'ALLOW', defaulted: true, error: null });

    const human = await run(['policy', 'test', '--tenant', TENANT, '--agent', 'other-bot', '--request', '-'], JSON.stringify(chat('hello')));
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('winner: none; the tenant default decides → ALLOW');
    expect(human.stdout).toContain('status: ALLOWED, HTTP 200');
  }, SLOW);

  it('exits 1 with the reason when the test cannot run', async () => {
    const [badJson, noPath, noAgent] = await Promise.all([
      run(['policy', 'test', '--tenant', TENANT, '--agent', 'support-bot', '--request', write('bad.json', '{nope')]),
      run(['policy', 'test', '--tenant', TENANT, '--agent', 'support-bot', '--request', write('nopath.json', { body: {} })]),
      run(['policy', 'test', '--tenant', TENANT, '--agent', 'ghost', '--request', write('ok.json', chat('hi'))]),
    ]);
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain('is not JSON');
    expect(noPath.code).toBe(1);
    expect(noPath.stderr).toContain('"path" must be a string starting with /');
    expect(noAgent.code).toBe(1);
    expect(noAgent.stderr).toContain('no agent named or with id "ghost"');
    for (const r of [badJson, noPath, noAgent]) expect(r.stdout).toBe('');
  }, SLOW);
});

describe('renlayer policy list', () => {
  it('lists the policies in evaluation order with their plain-language summary', async () => {
    const [human, json] = await Promise.all([
      run(['policy', 'list', '--tenant', TENANT]),
      run(['policy', 'list', '--tenant', TENANT, '--json']),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/10 {2}DENY {3}no-emails-out {2}v1\n {8}Deny .*support-bot.*\.\n/);
    const r = JSON.parse(json.stdout);
    expect(r.policies.map((p: { name: string }) => p.name)).toEqual(['no-emails-out', 'flag-everything-from-support', 'deny-leaked-answers']);
    expect(r.policies[0].summary).toContain('support-bot');
    expect(r.policies[0].summary).not.toContain('agt_');
  }, SLOW);
});
