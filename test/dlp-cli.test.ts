import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/core/ids.js';
import { loadTenantDlpConfig } from '../src/store/dlp.js';
import { createTenant } from '../src/store/tenants.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { baseEnv, runCli } from './helpers/processes.js';

// `renlayer dlp scan` (SPEC §1, issue 4 item 5) as a pre-commit hook or CI job runs it: the real
// program on standard input and files, JSON Lines out, the exit code as the verdict. Each spawn
// costs about half a second of CPU, so independent runs go in parallel.

const CARD = '4111 1111 1111 1111';
const EMAIL = 'maria.lopez@acme-corp.io';
const SLOW = 90_000;

let dir: string;
let t: TestDatabase;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rl-dlp-cli-'));
  t = await createTestDatabase();
});

afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Without --tenant no database may be opened: the URL points at a closed port and the data
 * directory of the embedded database must not come into being.
 */
function offlineEnv() {
  return baseEnv({ RENLAYER_DATABASE_URL: 'postgres://renlayer@127.0.0.1:1/none', RENLAYER_DATA_DIR: join(dir, 'never-created'), RENLAYER_LOG_LEVEL: 'warn' });
}

const scan = (args: string[], input?: string, env = offlineEnv()) => runCli(['dlp', 'scan', ...args], env, { input, timeoutMs: 30_000 });
const lines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l));

describe('renlayer dlp scan', () => {
  it('answers --help and refuses unknown options with exit 2', async () => {
    const [help, group, wrong] = await Promise.all([scan(['--help']), runCli(['dlp', '--help'], offlineEnv()), scan(['--bogus'], 'x')]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: renlayer dlp scan [FILE ...] [--jsonl] [--tenant T]');
    expect(group.code).toBe(0);
    expect(group.stdout).toContain('dlp scan');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--bogus');
    expect(wrong.stdout).toBe('');
  }, SLOW);

  it('scans standard input: exact findings and exit 1 on a blocking one; clean text exits 0', async () => {
    const text = `Please charge ${CARD} and send the receipt to ${EMAIL}.`;
    const [dirty, clean] = await Promise.all([scan([], text), scan([], 'Summarise the meeting notes from Tuesday.\n')]);
    expect(dirty.code, dirty.stderr).toBe(1);
    expect(lines(dirty.stdout)).toEqual([{
      id: 'stdin',
      findings: [
        { class: 'payment.credit_card', severity: 'CRITICAL', start: 14, end: 33, confidence: 0.9 },
        { class: 'pii.email', severity: 'MEDIUM', start: 58, end: 82, confidence: 0.9 },
      ],
    }]);
    expect(text.slice(14, 33)).toBe(CARD);
    expect(text.slice(58, 82)).toBe(EMAIL);
    expect(clean.code, clean.stderr).toBe(0);
    expect(lines(clean.stdout)).toEqual([{ id: 'stdin', findings: [] }]);
    expect(existsSync(join(dir, 'never-created'))).toBe(false);
  }, SLOW);

  it('with --jsonl answers one line per input line, ids kept, indices in JavaScript string units', async () => {
    const input = [
      JSON.stringify({ id: 'greeting', text: 'Hello there' }),
      '',
      // The emoji is two UTF-16 units: the e-mail address starts at index 8, not 7 (code points) or 10 (bytes).
      JSON.stringify({ id: 42, text: `😀 mail ${EMAIL}` }),
      JSON.stringify({ text: 'no id, no findings' }),
    ].join('\n') + '\n';
    const r = await scan(['--jsonl'], input);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual([
      { id: 'greeting', findings: [] },
      { id: 42, findings: [{ class: 'pii.email', severity: 'MEDIUM', start: 8, end: 32, confidence: 0.9 }] },
      { id: 'stdin:4', findings: [] },
    ]);
  });

  it('scans file arguments under their names; an unreadable file exits 2 with the reason', async () => {
    const dirty = join(dir, 'notes.txt');
    const clean = join(dir, 'clean.txt');
    const missing = join(dir, 'missing.txt');
    writeFileSync(dirty, `card on file: ${CARD}\n`);
    writeFileSync(clean, 'nothing to see\n');
    const [both, onlyClean, gone, badLine] = await Promise.all([
      scan([clean, dirty]),
      scan([clean]),
      scan([clean, missing]),
      scan(['--jsonl'], '{"id": "a", "text": "fine"}\nnot json\n'),
    ]);
    expect(both.code, both.stderr).toBe(1);
    expect(lines(both.stdout)).toEqual([
      { id: clean, findings: [] },
      { id: dirty, findings: [{ class: 'payment.credit_card', severity: 'CRITICAL', start: 14, end: 33, confidence: 0.9 }] },
    ]);
    expect(onlyClean.code, onlyClean.stderr).toBe(0);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`cannot read ${missing}`);
    expect(gone.stderr).toContain('ENOENT');
    // The readable file is still reported.
    expect(lines(gone.stdout)).toEqual([{ id: clean, findings: [] }]);
    expect(badLine.code).toBe(2);
    expect(badLine.stderr).toContain('stdin:2: not JSON');
  }, SLOW);

  it("applies a tenant's custom patterns, allow list, overrides and action mapping with --tenant", async () => {
    const tenant = await createTenant(t.db, `dlp-cli-${process.pid}`);
    await t.db.query(
      `INSERT INTO renlayer.dlp_patterns (id, tenant_id, name, type, pattern, severity) VALUES ($1, $2, 'employee-id', 'regex', 'EMP-[0-9]{6}', 'HIGH')`,
      [newId('pat'), tenant.id]);
    await t.db.query(
      `INSERT INTO renlayer.dlp_patterns (id, tenant_id, name, type, keywords, severity, applies_to) VALUES ($1, $2, 'codenames', 'keywords', ARRAY['bluebird'], 'MEDIUM', 'response')`,
      [newId('pat'), tenant.id]);
    await t.db.query(
      `INSERT INTO renlayer.dlp_allow_list (id, tenant_id, class, value) VALUES ($1, $2, 'payment.credit_card', $3)`,
      [newId('alw'), tenant.id, CARD]);
    await t.db.query(`INSERT INTO renlayer.dlp_detector_overrides (tenant_id, class, severity) VALUES ($1, 'pii.email', 'LOW')`, [tenant.id]);
    // HIGH blocks for this tenant, so the custom pattern decides the exit code.
    await t.db.query(`UPDATE renlayer.tenants SET settings = '{"dlp_actions": {"HIGH": "block"}}' WHERE id = $1`, [tenant.id]);

    const text = `Test card ${CARD} for EMP-123456 (${EMAIL}), project Bluebird`;
    const env = baseEnv({ RENLAYER_DATABASE_URL: t.url, RENLAYER_LOG_LEVEL: 'warn' });
    const [withTenant, byId, without, unknown] = await Promise.all([
      scan(['--tenant', tenant.name], text, env),
      scan(['--tenant', tenant.id, '--jsonl'], JSON.stringify({ id: 'x', text: 'mail ' + EMAIL }) + '\n', env),
      scan([], text),
      scan(['--tenant', 'no-such-tenant'], text, env),
    ]);
    expect(withTenant.code, withTenant.stderr).toBe(1);
    // The allowed card is gone, the e-mail is LOW, the response-only keyword list does not apply.
    expect(lines(withTenant.stdout)).toEqual([{
      id: 'stdin',
      findings: [
        { class: 'custom.employee-id', severity: 'HIGH', start: 34, end: 44, confidence: 0.9 },
        { class: 'pii.email', severity: 'LOW', start: 46, end: 70, confidence: 0.9 },
      ],
    }]);
    expect(text.slice(34, 44)).toBe('EMP-123456');
    expect(byId.code, byId.stderr).toBe(0);
    expect(lines(byId.stdout)).toEqual([{ id: 'x', findings: [{ class: 'pii.email', severity: 'LOW', start: 5, end: 29, confidence: 0.9 }] }]);
    // Without the tenant: the built-ins alone.
    expect(lines(without.stdout)[0].findings.map((f: { class: string }) => f.class)).toEqual(['payment.credit_card', 'pii.email']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no-such-tenant');
    expect(unknown.stdout).toBe('');
  }, SLOW);

  it('loads exactly what the tables hold (store/dlp.ts), ignoring malformed action settings', async () => {
    const tenant = await createTenant(t.db, `dlp-load-${process.pid}`);
    await t.db.query(
      `INSERT INTO renlayer.dlp_detector_overrides (tenant_id, class, enabled, disabled_agents, action) VALUES ($1, 'code.source', NULL, ARRAY['agt_1', 'agt_2'], 'redact')`,
      [tenant.id]);
    await t.db.query(
      `INSERT INTO renlayer.dlp_patterns (id, tenant_id, name, type, keywords, severity, action, enabled) VALUES ($1, $2, 'words', 'keywords', ARRAY['a', 'b'], 'LOW', 'warn', false)`,
      [newId('pat'), tenant.id]);
    await t.db.query(`UPDATE renlayer.tenants SET settings = '{"dlp_actions": {"LOW": "warn", "HIGH": "explode", "NOPE": "block"}}' WHERE id = $1`, [tenant.id]);
    expect(await loadTenantDlpConfig(t.db, tenant.id)).toEqual({
      overrides: { 'code.source': { disabledAgents: ['agt_1', 'agt_2'], action: 'redact' } },
      patterns: [{ name: 'words', type: 'keywords', keywords: ['a', 'b'], severity: 'LOW', appliesTo: 'both', action: 'warn', enabled: false }],
      allow: [],
      actions: { LOW: 'warn' },
    });
  });
});
