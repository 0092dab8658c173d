import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJson } from '../src/core/secretbox.js';
import { agentHeadersContext } from '../src/store/agents.js';
import { appendAudit, verifyAuditChain } from '../src/store/audit.js';
import { createKey } from '../src/store/keys.js';
import { createTenant } from '../src/store/tenants.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { TEST_ENCRYPTION_KEY } from './helpers/fixtures.js';
import { baseEnv, runCli } from './helpers/processes.js';

// `renlayer apply` and `renlayer export` (SPEC §13) from the real program against a real
// database: what a file creates, that a second apply is a no-op, versions and audit rows for
// changes, dry runs and prune, refusals before any write, and secrets that never reach output.

const SLOW = 120_000;
const OPENAI_KEY = 'sk-proj-Zq8vN3xLw2Tt5Rb7Yc9Hd1Fg4Jk6Mp0Q';
const ANTHROPIC_KEY = 'sk-ant-api03-Xw7Qe2Rt9Yu4Io1Pa5Sd8Fg3Hj6Kl0Zx';

let t: TestDatabase;
let dir: string;
let unique = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rl-apply-'));
  t = await createTestDatabase();
});

afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function env(extra: Record<string, string | undefined> = {}) {
  return baseEnv({
    RENLAYER_DATABASE_URL: t.url,
    RENLAYER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
    RENLAYER_LOG_LEVEL: 'warn',
    OPENAI_API_KEY: OPENAI_KEY,
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    ...extra,
  });
}

const tenantName = () => `apply-${process.pid}-${++unique}`;

function file(content: string): string {
  const path = join(dir, `config-${++unique}.yaml`);
  writeFileSync(path, content);
  return path;
}

const run = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(args, env(extra), { timeoutMs: 60_000 });

async function apply(path: string, flags: string[] = [], extra: Record<string, string | undefined> = {}) {
  const r = await run(['apply', '-f', path, ...flags], extra);
  expect(r.code, `renlayer apply ${flags.join(' ')} failed:\n${r.stderr}`).toBe(0);
  expect(r.stdout).not.toContain(OPENAI_KEY);
  expect(r.stdout).not.toContain(ANTHROPIC_KEY);
  return r;
}

async function applyJson(path: string, flags: string[] = [], extra: Record<string, string | undefined> = {}) {
  const r = await apply(path, [...flags, '--json'], extra);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as { tenant: { id: string; name: string; created: boolean }; dry_run: boolean; changes: { op: string; kind: string; name: string; id: string | null; fields: { field: string; before: unknown; after: unknown }[]; note?: string }[]; summary: Record<string, number>; not_in_file: { kind: string; name: string }[] };
}

/** The SPEC §13 example, with the agent the detector override names. */
function fullConfig(tenant: string, o: { priority?: number; keyVar?: string; withCodenames?: boolean; withHelper?: boolean } = {}) {
  return `apiVersion: renlayer/v1
tenant: ${tenant}
settings:
  default_action: ALLOW
  enforcement: enforce
  store_bodies: redacted
agents:
  - name: support-bot
    description: Answers customers
    upstream:
      type: openai
      base_url: https://api.openai.com
      headers:
        Authorization: "Bearer \${${o.keyVar ?? 'OPENAI_API_KEY'}}"
      model: null
    limits:
      - {scope: per_user, dimension: requests, window: minute, limit: 60}
  - name: coding-bot
    upstream:
      type: anthropic
      base_url: https://api.anthropic.com/
      headers:
        x-api-key: \${ANTHROPIC_API_KEY}
        anthropic-version: "2023-06-01"
      model: claude-sonnet-4
${o.withHelper ? `  - name: helper-bot
    upstream: {type: http, base_url: "http://helper.internal:9000/base"}
` : ''}policies:
  - name: no-secrets-to-external-models
    action: DENY
    priority: ${o.priority ?? 10}
    message: Secrets must not leave the company.
    scope: {agents: [support-bot]}
    conditions:
      - {field: dlp_category, op: in, value: [secret]}
      - {field: provider, op: in, value: [openai, anthropic]}
  - name: flag-big-prompts
    action: FLAG
    priority: 50
    conditions:
      - {field: request_bytes, op: gt, value: 100000}
dlp:
  detectors:
    pii.email: {severity: LOW}
    code.source: {enabled: false, agents: [coding-bot]}
  patterns:
    - {name: employee-id, type: regex, pattern: 'EMP-[0-9]{6}', severity: HIGH, applies_to: both}
${o.withCodenames === false ? '' : '    - {name: codenames, type: keywords, keywords: [bluebird, nightjar], severity: CRITICAL}\n'}  allow:
    - {class: payment.credit_card, value: "4111 1111 1111 1111"}
  actions: {CRITICAL: redact}
limits:
  - {scope: per_tenant, dimension: cost_usd, window: day, limit: 500}
`;
}

async function tenantId(name: string): Promise<string> {
  return (await t.db.query<{ id: string }>('SELECT id FROM renlayer.tenants WHERE name = $1', [name])).rows[0]!.id;
}

/** Row counts that must not move when nothing changes. */
async function counters(tid: string) {
  const q = async (sql: string) => Number((await t.db.query<{ n: string }>(sql, [tid])).rows[0]!.n);
  return {
    audit: await q('SELECT count(*) AS n FROM renlayer.audit_log WHERE tenant_id = $1'),
    versions: await q('SELECT count(*) AS n FROM renlayer.policy_versions WHERE tenant_id = $1'),
    config: await q('SELECT coalesce(max(version), 0) AS n FROM renlayer.config_versions WHERE tenant_id = $1'),
    agents: await q('SELECT count(*) AS n FROM renlayer.agents WHERE tenant_id = $1'),
    patterns: await q('SELECT count(*) AS n FROM renlayer.dlp_patterns WHERE tenant_id = $1'),
    limits: await q('SELECT count(*) AS n FROM renlayer.rate_limits WHERE tenant_id = $1'),
  };
}

async function auditText(tid: string): Promise<string> {
  const r = await t.db.query('SELECT * FROM renlayer.audit_log WHERE tenant_id = $1 ORDER BY seq', [tid]);
  return JSON.stringify(r.rows);
}

describe('renlayer apply', () => {
  it('answers --help (apply and export) and refuses a missing -f with exit 2', async () => {
    const [help, missing, exportHelp] = await Promise.all([runCli(['apply', '--help'], baseEnv()), runCli(['apply'], baseEnv()), runCli(['export', '--help'], baseEnv())]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: renlayer apply -f FILE [--dry-run] [--prune] [--json]');
    expect(help.stdout).toContain('-f, --file VALUE');
    expect(exportHelp.code).toBe(0);
    expect(exportHelp.stdout).toContain('Usage: renlayer export --tenant T [-o FILE] [--json]');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--file is required');
  });

  it('creates the tenant and everything the file lists, with one audit row per change and a valid chain', async () => {
    const name = tenantName();
    const out = await applyJson(file(fullConfig(name)));
    expect(out.tenant.created).toBe(true);
    expect(out.dry_run).toBe(false);
    const kinds = out.changes.map((c) => `${c.op} ${c.kind} ${c.name}`);
    expect(kinds).toEqual([
      `create tenant ${name}`,
      'update settings settings',
      'create agent support-bot',
      'create agent coding-bot',
      'create policy no-secrets-to-external-models',
      'create policy flag-big-prompts',
      'create pattern employee-id',
      'create pattern codenames',
      'create detector pii.email',
      'create detector code.source',
      'create allow payment.credit_card "4111 1111 1111 1111"',
      'create limit support-bot per_user requests/minute',
      'create limit tenant per_tenant cost_usd/day',
    ]);
    // Header values are never in the output, only that they are set.
    const support = out.changes.find((c) => c.name === 'support-bot')!;
    expect(support.fields).toContainEqual({ field: 'upstream.headers.Authorization', before: null, after: '(set)' });

    const tid = await tenantId(name);
    expect(out.tenant.id).toBe(tid);
    const agents = (await t.db.query<{ id: string; name: string; description: string; upstream_type: string; upstream_url: string; model_pin: string | null; upstream_headers_enc: string }>(
      'SELECT id, name, description, upstream_type, upstream_url, model_pin, upstream_headers_enc FROM renlayer.agents WHERE tenant_id = $1 ORDER BY name', [tid])).rows;
    expect(agents.map((a) => [a.name, a.upstream_type, a.upstream_url, a.model_pin])).toEqual([
      ['coding-bot', 'anthropic', 'https://api.anthropic.com', 'claude-sonnet-4'],
      ['support-bot', 'openai', 'https://api.openai.com', null],
    ]);
    const [coding, supportRow] = agents;
    expect(supportRow!.description).toBe('Answers customers');
    expect(openJson(TEST_ENCRYPTION_KEY, supportRow!.upstream_headers_enc, agentHeadersContext(tid, supportRow!.id))).toEqual({ Authorization: `Bearer ${OPENAI_KEY}` });
    expect(openJson(TEST_ENCRYPTION_KEY, coding!.upstream_headers_enc, agentHeadersContext(tid, coding!.id))).toEqual({ 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' });
    // Keys are not part of the file: none minted.
    expect((await t.db.query('SELECT 1 FROM renlayer.api_keys WHERE tenant_id = $1', [tid])).rows).toHaveLength(0);

    const policies = (await t.db.query<{ name: string; priority: number; scope: { agents: string[] }; current_version: number }>(
      'SELECT name, priority, scope, current_version FROM renlayer.policies WHERE tenant_id = $1 ORDER BY priority', [tid])).rows;
    expect(policies).toEqual([
      { name: 'no-secrets-to-external-models', priority: 10, scope: { agents: [supportRow!.id] }, current_version: 1 },
      { name: 'flag-big-prompts', priority: 50, scope: { agents: [] }, current_version: 1 },
    ]);
    const detectors = (await t.db.query('SELECT class, severity, enabled, disabled_agents FROM renlayer.dlp_detector_overrides WHERE tenant_id = $1 ORDER BY class', [tid])).rows;
    expect(detectors).toEqual([
      { class: 'code.source', severity: null, enabled: null, disabled_agents: [coding!.id] },
      { class: 'pii.email', severity: 'LOW', enabled: null, disabled_agents: [] },
    ]);
    const patterns = (await t.db.query('SELECT name, type, pattern, keywords, severity, applies_to FROM renlayer.dlp_patterns WHERE tenant_id = $1 ORDER BY name', [tid])).rows;
    expect(patterns).toEqual([
      { name: 'codenames', type: 'keywords', pattern: null, keywords: ['bluebird', 'nightjar'], severity: 'CRITICAL', applies_to: 'both' },
      { name: 'employee-id', type: 'regex', pattern: 'EMP-[0-9]{6}', keywords: null, severity: 'HIGH', applies_to: 'both' },
    ]);
    expect((await t.db.query('SELECT class, value FROM renlayer.dlp_allow_list WHERE tenant_id = $1', [tid])).rows)
      .toEqual([{ class: 'payment.credit_card', value: '4111 1111 1111 1111' }]);
    const limits = (await t.db.query<{ agent_id: string | null; scope: string; dimension: string; window: string; limit_value: string }>(
      'SELECT agent_id, scope, dimension, "window", limit_value FROM renlayer.rate_limits WHERE tenant_id = $1 ORDER BY scope', [tid])).rows;
    expect(limits.map((l) => [l.agent_id, l.scope, l.dimension, l.window, Number(l.limit_value)])).toEqual([
      [null, 'per_tenant', 'cost_usd', 'day', 500],
      [supportRow!.id, 'per_user', 'requests', 'minute', 60],
    ]);
    const tenant = (await t.db.query<{ settings: Record<string, unknown> }>('SELECT settings FROM renlayer.tenants WHERE id = $1', [tid])).rows[0]!;
    expect(tenant.settings.dlp_actions).toEqual({ CRITICAL: 'redact' });

    const audit = (await t.db.query<{ seq: string; action: string; operator_email: string; operator_role: string }>(
      'SELECT seq, action, operator_email, operator_role FROM renlayer.audit_log WHERE tenant_id = $1 ORDER BY seq', [tid])).rows;
    expect(audit.map((a) => a.action)).toEqual([
      'tenant.create', 'settings.update', 'agent.create', 'agent.create', 'dlp_pattern.create', 'dlp_pattern.create',
      'dlp_detector.create', 'dlp_detector.create', 'dlp_allow.create', 'policy.create', 'policy.create', 'limit.create', 'limit.create',
    ]);
    expect(audit.map((a) => Number(a.seq))).toEqual(audit.map((_, i) => i + 1));
    expect(audit[0]!.operator_email).toMatch(/^cli:.+@.+/);
    expect(audit[0]!.operator_role).toBe('cli');
    const text = await auditText(tid);
    expect(text).not.toContain(OPENAI_KEY);
    expect(text).not.toContain(ANTHROPIC_KEY);
    expect(await verifyAuditChain(t.db, tid)).toBeNull();
  }, SLOW);

  it('applies the same file again as a no-op: no version, no audit row, no configuration change', async () => {
    const name = tenantName();
    const path = file(fullConfig(name));
    await apply(path);
    const tid = await tenantId(name);
    const before = await counters(tid);
    const again = await apply(path);
    expect(again.stdout.trim()).toBe(`no changes: tenant ${name} already matches the file (11 resources)`);
    const json = await applyJson(path);
    expect(json.changes).toEqual([]);
    expect(json.summary).toEqual({ create: 0, update: 0, delete: 0, unchanged: 11 });
    expect(await counters(tid)).toEqual(before);
  }, SLOW);

  it('a changed policy gets a new version and an audit row with before and after; a dry run writes nothing', async () => {
    const name = tenantName();
    await apply(file(fullConfig(name)));
    const tid = await tenantId(name);
    const start = await counters(tid);
    const changed = file(fullConfig(name, { priority: 20 }));

    const dry = await apply(changed, ['--dry-run']);
    expect(dry.stdout).toContain('~ policy no-secrets-to-external-models: priority 10 → 20');
    expect(dry.stdout).toContain('dry run: 0 to create, 1 to update, 0 to delete, 10 unchanged; nothing was written');
    expect(await counters(tid)).toEqual(start);

    const real = await applyJson(changed);
    expect(real.changes).toMatchObject([{ op: 'update', kind: 'policy', name: 'no-secrets-to-external-models', fields: [{ field: 'priority', before: 10, after: 20 }] }]);
    const after = await counters(tid);
    expect(after.versions).toBe(start.versions + 1);
    expect(after.audit).toBe(start.audit + 1);
    expect(after.config).toBeGreaterThan(start.config);
    const policy = (await t.db.query<{ id: string; current_version: number }>(
      `SELECT id, current_version FROM renlayer.policies WHERE tenant_id = $1 AND name = 'no-secrets-to-external-models'`, [tid])).rows[0]!;
    expect(policy.current_version).toBe(2);
    const row = (await t.db.query<{ action: string; resource_type: string; resource_id: string; diff: Record<string, unknown> }>(
      'SELECT action, resource_type, resource_id, diff FROM renlayer.audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1', [tid])).rows[0]!;
    expect(row).toMatchObject({ action: 'policy.update', resource_type: 'policy', resource_id: policy.id });
    expect(row.diff).toMatchObject({ before: { priority: 10 }, after: { priority: 20 }, changed: ['priority'], version: 2, via: 'renlayer apply' });
    expect(await verifyAuditChain(t.db, tid)).toBeNull();
  }, SLOW);

  it('a changed credential is reported as changed, never shown, and sealed anew', async () => {
    const name = tenantName();
    await apply(file(fullConfig(name)));
    const tid = await tenantId(name);
    const rotated = 'sk-proj-Rotated9Vn3xLw2Tt5Rb7Yc9Hd1Fg4Jk6';
    const path = file(fullConfig(name, { keyVar: 'ROTATED_KEY' }));
    const dry = await apply(path, ['--dry-run'], { ROTATED_KEY: rotated });
    expect(dry.stdout).toContain('~ agent support-bot: upstream.headers.Authorization (changed)');
    expect(dry.stdout).not.toContain(rotated);
    const real = await run(['apply', '-f', path], { ROTATED_KEY: rotated });
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout + real.stderr).not.toContain(rotated);
    const a = (await t.db.query<{ id: string; upstream_headers_enc: string }>(`SELECT id, upstream_headers_enc FROM renlayer.agents WHERE tenant_id = $1 AND name = 'support-bot'`, [tid])).rows[0]!;
    expect(openJson(TEST_ENCRYPTION_KEY, a.upstream_headers_enc, agentHeadersContext(tid, a.id))).toEqual({ Authorization: `Bearer ${rotated}` });
    expect(await auditText(tid)).not.toContain(rotated);
  }, SLOW);

  it('--prune deletes what the file no longer lists (an agent with its keys), and only then', async () => {
    const name = tenantName();
    await apply(file(fullConfig(name, { withHelper: true })));
    const tid = await tenantId(name);
    const helper = (await t.db.query<{ id: string }>(`SELECT id FROM renlayer.agents WHERE tenant_id = $1 AND name = 'helper-bot'`, [tid])).rows[0]!;
    await createKey(t.db, tid, helper.id);
    const smaller = file(fullConfig(name, { withCodenames: false }));

    const kept = await applyJson(smaller);
    expect(kept.changes).toEqual([]);
    expect(kept.not_in_file).toEqual([{ kind: 'agent', name: 'helper-bot' }, { kind: 'pattern', name: 'codenames' }]);
    const human = await apply(smaller);
    expect(human.stdout).toContain('kept, not in the file (--prune deletes them): agent helper-bot, pattern codenames');

    const before = await counters(tid);
    const dry = await apply(smaller, ['--prune', '--dry-run']);
    expect(dry.stdout).toContain('- pattern codenames');
    expect(dry.stdout).toContain('- agent helper-bot (deletes its 1 active API key)');
    expect(await counters(tid)).toEqual(before);

    const pruned = await applyJson(smaller, ['--prune']);
    expect(pruned.changes.map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual(['delete agent helper-bot', 'delete pattern codenames']);
    expect((await t.db.query(`SELECT 1 FROM renlayer.dlp_patterns WHERE tenant_id = $1 AND name = 'codenames'`, [tid])).rows).toHaveLength(0);
    expect((await t.db.query('SELECT 1 FROM renlayer.agents WHERE id = $1', [helper.id])).rows).toHaveLength(0);
    expect((await t.db.query('SELECT 1 FROM renlayer.api_keys WHERE agent_id = $1', [helper.id])).rows).toHaveLength(0);
    const actions = (await t.db.query<{ action: string; diff: { note?: string } }>('SELECT action, diff FROM renlayer.audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 2', [tid])).rows;
    expect(actions.map((a) => a.action)).toEqual(['agent.delete', 'dlp_pattern.delete']);
    expect(actions[0]!.diff.note).toBe('deletes its 1 active API key');
    expect(await verifyAuditChain(t.db, tid)).toBeNull();

    // A file without a section does not manage it: --prune leaves it alone.
    const onlySettings = file(`apiVersion: renlayer/v1\ntenant: ${name}\nsettings: {enforcement: flag_only}\n`);
    const partial = await applyJson(onlySettings, ['--prune']);
    expect(partial.changes.map((c) => `${c.op} ${c.kind}`)).toEqual(['update settings']);
    expect((await counters(tid)).agents).toBe(2);
  }, SLOW);

  it('a partial file changes only what it says: agent keys left out keep their stored value', async () => {
    const name = tenantName();
    await apply(file(fullConfig(name)));
    const tid = await tenantId(name);
    const read = async () => (await t.db.query('SELECT name, description, enabled, upstream_type, upstream_url, model_pin, upstream_headers_enc FROM renlayer.agents WHERE tenant_id = $1 ORDER BY name', [tid])).rows;
    const before = await read();
    // The shape docs/rate-limits.md shows: an agent with nothing but its limits.
    const limitsOnly = file(`apiVersion: renlayer/v1
tenant: ${name}
agents:
  - name: support-bot
    limits:
      - {scope: per_user, dimension: requests, window: minute, limit: 60}
      - {scope: per_agent, dimension: tokens, window: hour, limit: 2000000}
`);
    const out = await applyJson(limitsOnly);
    expect(out.changes.map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual(['create limit support-bot per_agent tokens/hour']);
    expect(out.not_in_file).toEqual([{ kind: 'agent', name: 'coding-bot' }]);
    expect(await read()).toEqual(before);

    const clear = file(`apiVersion: renlayer/v1
tenant: ${name}
agents:
  - name: coding-bot
    enabled: false
    upstream: {model: null}
`);
    const cleared = await applyJson(clear);
    expect(cleared.changes).toMatchObject([{ op: 'update', kind: 'agent', name: 'coding-bot', fields: [
      { field: 'enabled', before: true, after: false }, { field: 'upstream.model', before: 'claude-sonnet-4', after: null },
    ] }]);
    const coding = (await read()).find((a) => a.name === 'coding-bot')!;
    expect(coding).toMatchObject({ enabled: false, model_pin: null, upstream_type: 'anthropic', upstream_url: 'https://api.anthropic.com' });
    expect(coding.upstream_headers_enc).toBe(before.find((a) => a.name === 'coding-bot')!.upstream_headers_enc);
  }, SLOW);

  it('refuses an invalid file as a whole, with every problem located, before any write', async () => {
    const name = tenantName();
    const path = file(`apiVersion: renlayer/v1
tenant: ${name}
settings: {default_action: MAYBE}
agents:
  - name: bot
    upstream: {type: openai, base_url: "ftp://example.com"}
    limits:
      - {scope: per_week, dimension: requests, window: minute, limit: 5}
policies:
  - name: fine
    action: ALLOW
    priority: 1
  - name: broken
    action: DENY
    priority: 2
    conditions:
      - {field: model, op: regex, value: "gpt-.*"}
dlp:
  patterns:
    - {name: bad-regex, type: regex, pattern: '(?<=x)y'}
  detectors:
    pii.nonsense: {severity: HIGH}
`);
    const r = await run(['apply', '-f', path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('the configuration file is not valid; nothing was changed (validation_failed)');
    expect(r.stderr).toContain('settings.default_action (line 3): must be one of ALLOW, DENY');
    expect(r.stderr).toContain('agents[0].upstream.base_url (line 6): upstream must be an http:// or https:// URL');
    expect(r.stderr).toContain('agents[0].limits[0].scope (line 8): must be one of per_agent, per_user, per_tenant, per_key');
    expect(r.stderr).toContain('policies[1].conditions[0].op (line 17): model takes in or glob');
    expect(r.stderr).toMatch(/dlp\.patterns\[0\]\.pattern \(line 20\): custom pattern "bad-regex": pattern does not compile/);
    expect(r.stderr).toContain('dlp.detectors["pii.nonsense"] (line 22): "pii.nonsense" is not a built-in DLP class');
    expect((await t.db.query('SELECT 1 FROM renlayer.tenants WHERE name = $1', [name])).rows).toHaveLength(0);
  }, SLOW);

  it('refuses unknown agent names and missing variables, naming them, and writes nothing', async () => {
    const name = tenantName();
    const unknownAgent = file(`apiVersion: renlayer/v1
tenant: ${name}
agents:
  - {name: known-bot}
policies:
  - {name: p, action: DENY, priority: 1, scope: {agents: [known-bot, ghost-bot]}}
`);
    const r1 = await run(['apply', '-f', unknownAgent]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain(`policies[0].scope.agents[1] (line 6): no agent named ghost-bot in the file or in tenant ${name}`);

    // An agent that exists but that --prune would delete cannot be referred to either.
    const existing = tenantName();
    await apply(file(fullConfig(existing)));
    const pruneReferenced = file(`apiVersion: renlayer/v1
tenant: ${existing}
agents:
  - {name: support-bot}
policies:
  - {name: p, action: DENY, priority: 1, scope: {agents: [coding-bot]}}
`);
    const kept = await applyJson(pruneReferenced, ['--dry-run']);
    expect(kept.changes.map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual(['create policy p']);
    const r3 = await run(['apply', '-f', pruneReferenced, '--prune']);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toContain('policies[0].scope.agents[0] (line 6): agent coding-bot is not in the file, so --prune would delete it');

    const missingVar = file(fullConfig(name, { keyVar: 'NOT_SET_ANYWHERE' }));
    const r2 = await run(['apply', '-f', missingVar]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('agents[0].upstream.headers.Authorization (line 14): environment variable NOT_SET_ANYWHERE is not set');
    expect((await t.db.query('SELECT 1 FROM renlayer.tenants WHERE name = $1', [name])).rows).toHaveLength(0);
  }, SLOW);

  it('exports the same format without secrets; applying the export changes nothing and keeps the credentials', async () => {
    const name = tenantName();
    await apply(file(fullConfig(name)));
    const tid = await tenantId(name);
    const out = join(dir, `export-${unique}.yaml`);
    const exp = await run(['export', '--tenant', name, '-o', out]);
    expect(exp.code, exp.stderr).toBe(0);
    const exported = readFileSync(out, 'utf8');
    expect(exported).not.toContain(OPENAI_KEY);
    expect(exported).not.toContain(ANTHROPIC_KEY);
    expect(exported).toContain('Authorization: ${RENLAYER_KEEP}');
    expect(exported).toContain('scope: { agents: [ support-bot ] }');

    const before = await counters(tid);
    // No credentials in the environment: the kept headers need none.
    const noEnv = { OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined };
    const dry = await applyJson(out, ['--dry-run', '--prune'], noEnv);
    expect(dry.changes).toEqual([]);
    const real = await applyJson(out, ['--prune'], noEnv);
    expect(real.changes).toEqual([]);
    expect(await counters(tid)).toEqual(before);
    const a = (await t.db.query<{ id: string; upstream_headers_enc: string }>(`SELECT id, upstream_headers_enc FROM renlayer.agents WHERE tenant_id = $1 AND name = 'support-bot'`, [tid])).rows[0]!;
    expect(openJson(TEST_ENCRYPTION_KEY, a.upstream_headers_enc, agentHeadersContext(tid, a.id))).toEqual({ Authorization: `Bearer ${OPENAI_KEY}` });

    // --json writes the same configuration as JSON, which apply reads too.
    const json = await run(['export', '--tenant', name, '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).not.toContain(OPENAI_KEY);
    const jsonFile = join(dir, `export-${unique}.json`);
    writeFileSync(jsonFile, json.stdout);
    expect((await applyJson(jsonFile, ['--dry-run'], noEnv)).changes).toEqual([]);

    // Keeping a header that is not stored is refused.
    const bad = file(exported.replace('x-api-key: ${RENLAYER_KEEP}', 'x-api-key: ${RENLAYER_KEEP}\n        x-extra: ${RENLAYER_KEEP}'));
    const r = await run(['apply', '-f', bad], noEnv);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agents[1].upstream.headers["x-extra"]');
    expect(r.stderr).toContain('agent coding-bot has no stored header x-extra');
  }, SLOW);
});

describe('audit chain', () => {
  it('serialises concurrent writers of one tenant and detects an edited row', async () => {
    const tenant = await createTenant(t.db, tenantName());
    await Promise.all(Array.from({ length: 8 }, (_, i) => t.db.transaction((tx) => appendAudit(tx, {
      tenantId: tenant.id, actor: { email: 'ops@example.com', role: 'admin' }, action: 'test.write', resourceType: 'test', resourceId: String(i), diff: { i, nested: { b: 1, a: [1, 'x'] } },
    }))));
    const seqs = (await t.db.query<{ seq: string }>('SELECT seq FROM renlayer.audit_log WHERE tenant_id = $1 ORDER BY seq', [tenant.id])).rows.map((r) => Number(r.seq));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await verifyAuditChain(t.db, tenant.id)).toBeNull();

    // The table refuses edits; someone who disables the trigger is still found out by the chain.
    await expect(t.db.query(`UPDATE renlayer.audit_log SET action = 'x' WHERE tenant_id = $1 AND seq = 3`, [tenant.id])).rejects.toThrow(/append-only/);
    await t.db.transaction(async (tx) => {
      await tx.query('ALTER TABLE renlayer.audit_log DISABLE TRIGGER audit_log_append_only');
      await tx.query(`UPDATE renlayer.audit_log SET diff = '{"i": 99}' WHERE tenant_id = $1 AND seq = 5`, [tenant.id]);
      await tx.query('ALTER TABLE renlayer.audit_log ENABLE TRIGGER audit_log_append_only');
    });
    expect(await verifyAuditChain(t.db, tenant.id)).toBe(5);
  });
});
