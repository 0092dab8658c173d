import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { createTenant } from '../src/store/tenants.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, tenantWithAgent, TEST_ENCRYPTION_KEY } from './helpers/fixtures.js';
import { baseEnv, ROOT, runCli, type RunResult } from './helpers/processes.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';

// The command-line contract (SPEC §1 "Command-line contract", §2) as scripts and operators see
// it from the real `renlayer` program. Each spawn costs about half a second of CPU, so set-up
// that is not itself under test is done in-process, and independent runs go in parallel.

let t: TestDatabase;
let mock: MockServer;
let proxy: ProxyProcess;
let dataDir: string;

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const KEY_B64 = TEST_ENCRYPTION_KEY.toString('base64');
let unique = 0;
const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${++unique}`;
/** For tests that run a batch of commands: each spawn is CPU-bound, and CI machines are shared. */
const SLOW = 90_000;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'rl-cli-'));
  t = await createTestDatabase();
  mock = await startMockUpstream();
  proxy = await startProxyProcess(t);
});

afterAll(async () => {
  await proxy?.stop();
  await mock?.close();
  await t?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The environment of an operator pointed at the test database. */
function env(extra: Record<string, string | undefined> = {}) {
  return baseEnv({
    RENLAYER_DATABASE_URL: t.url,
    RENLAYER_ENCRYPTION_KEY: KEY_B64,
    RENLAYER_DATA_DIR: dataDir,
    RENLAYER_LOG_LEVEL: 'warn',
    ...extra,
  });
}

/** Every API key secret the CLI printed in this file, to look for in the database afterwards. */
const printedSecrets = new Set<string>();

/** Runs a command that must succeed with --json: exactly one JSON document on stdout. */
async function cliJson<T = Record<string, any>>(args: string[]): Promise<T> {
  const r = await runCli([...args, '--json'], env());
  expect(r.code, `renlayer ${args.join(' ')} failed:\n${r.stderr}`).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines, `stdout of renlayer ${args.join(' ')}`).toHaveLength(1);
  for (const m of lines[0]!.matchAll(/rl_live_[0-9A-Za-z]{38}/g)) printedSecrets.add(m[0]);
  return JSON.parse(lines[0]!) as T;
}

/** A command that must fail: non-zero, nothing on stdout, the reason on stderr. */
async function cliFails(args: string[], reason: RegExp | string): Promise<RunResult> {
  const r = await runCli(args, env());
  expect(r.code, `renlayer ${args.join(' ')} should have failed`).not.toBe(0);
  expect(r.stdout, `stdout of renlayer ${args.join(' ')}`).toBe('');
  if (typeof reason === 'string') expect(r.stderr).toContain(reason);
  else expect(r.stderr).toMatch(reason);
  return r;
}


async function chat(key: string, headers: Record<string, string> = {}) {
  const res = await fetch(proxy.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  });
  await res.arrayBuffer();
  return { status: res.status, traceId: res.headers.get('x-renlayer-trace-id') };
}

/** Set-up that is not under test: straight into the database. */
const newTenant = () => createTenant(t.db, uniqueName('cli'));

/** Commands these tests expect to end: killed (and reported as hung) after 20 s. */
const runCliWithin = (args: string[], e: NodeJS.ProcessEnv) => runCli(args, e, { timeoutMs: 20_000 });

describe('help, version and usage errors', () => {
  it('answers --help with exit 0 on stdout for the top level, every group and every command', async () => {
    const forms = [
      [], ['up'], ['proxy'], ['api'], ['migrate'], ['mock-upstream'],
      ['tenant'], ['tenant', 'create'], ['operator'], ['operator', 'add'], ['agent'], ['agent', 'create'],
      ['key'], ['key', 'create'], ['key', 'revoke'], ['traces'], ['traces', 'tail'],
    ];
    // No database configured: help must not need one.
    const results = await Promise.all(forms.map((words) => runCli([...words, '--help'], baseEnv())));
    results.forEach((r, i) => {
      const words = forms[i]!.join(' ');
      expect(r.code, `renlayer ${words} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout, `renlayer ${words} --help`).toContain(`Usage: renlayer ${words}`);
      expect(r.stderr, `renlayer ${words} --help`).toBe('');
    });
    const help = (words: string) => results[forms.findIndex((f) => f.join(' ') === words)]!.stdout;
    expect(help('agent create')).toContain('--upstream-type');
    expect(help('key')).toContain('key revoke');
    expect(help('')).toContain('RENLAYER_DATABASE_URL');
  }, SLOW);

  it('prints the package version with --version', async () => {
    const r = await runCli(['--version'], baseEnv());
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('exits 2 on wrong usage with the reason on stderr, nothing on stdout, and does nothing', async () => {
    const cases: { args: string[]; reason: RegExp }[] = [
      { args: ['frobnicate'], reason: /unknown command "frobnicate"/ },
      { args: ['tenant', 'delete', '--name', 'x'], reason: /unknown subcommand "tenant delete"/ },
      { args: ['tenant'], reason: /tenant create/ },
      { args: [], reason: /Usage: renlayer/ },
      { args: ['tenant', 'create', '--name', 'never-created', '--colour', 'red'], reason: /colour/ },
      { args: ['tenant', 'create'], reason: /--name is required/ },
      { args: ['tenant', 'create', '--name'], reason: /--name/ },
      { args: ['operator', 'add', '--tenant', 'x', '--email', 'a@b.example', '--role', 'god'], reason: /--role must be one of owner, admin, editor, viewer/ },
      { args: ['agent', 'create', '--tenant', 'x', '--name', 'never-created', '--upstream-type', 'grpc'], reason: /--upstream-type must be one of/ },
      { args: ['key', 'create', '--tenant', 'x'], reason: /--agent is required/ },
      { args: ['key', 'revoke', '--tenant', 'x'], reason: /missing KEY_ID/ },
      { args: ['traces', 'tail', '--limit', '0'], reason: /--limit must be a whole number from 1 to 1000/ },
      { args: ['migrate', 'now'], reason: /unexpected argument "now"/ },
    ];
    const results = await Promise.all(cases.map(({ args }) => runCli(args, env())));
    results.forEach((r, i) => {
      const { args, reason } = cases[i]!;
      const what = `renlayer ${args.join(' ')}`;
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stdout, what).toBe('');
      expect(r.stderr, what).toMatch(reason);
    });
    const created = await t.db.query(`SELECT 1 FROM renlayer.tenants WHERE name = 'never-created'
      UNION ALL SELECT 1 FROM renlayer.agents WHERE name = 'never-created'`);
    expect(created.rowCount).toBe(0);
  }, SLOW);
});

describe('tenant create', () => {
  it('prints exactly one JSON document {id, name} and creates the tenant', async () => {
    const name = uniqueName('acme');
    const r = await runCli(['tenant', 'create', '--name', name, '--json'], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['id', 'name']);
    expect(doc.name).toBe(name);
    expect(doc.id).toMatch(/^ten_/);
    const row = await t.db.query<{ name: string }>('SELECT name FROM renlayer.tenants WHERE id = $1', [doc.id]);
    expect(row.rows[0]?.name).toBe(name);

    // Twice: refused with a clear message, and still one tenant of that name.
    await cliFails(['tenant', 'create', '--name', name, '--json'], `tenant "${name}" already exists`);
    expect((await t.db.query('SELECT 1 FROM renlayer.tenants WHERE name = $1', [name])).rowCount).toBe(1);
  });

  it('prints a sentence naming the tenant without --json, and refuses an invalid name', async () => {
    const name = uniqueName('plain');
    const [plain] = await Promise.all([
      runCli(['tenant', 'create', '--name', name], env()),
      cliFails(['tenant', 'create', '--name', 'no spaces!', '--json'], /tenant name "no spaces!" is not valid/),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(name);
    expect(() => JSON.parse(plain.stdout)).toThrow();
  });
});

describe('operator add', () => {
  const roleOf = (tenantId: string, email: string) => t.db.query<{ role: string }>(
    `SELECT m.role FROM renlayer.memberships m JOIN renlayer.operators o ON o.id = m.operator_id
      WHERE m.tenant_id = $1 AND o.email = $2`, [tenantId, email]).then((r) => r.rows[0]?.role);

  it('accepts the tenant by name or by id and prints the membership', async () => {
    const tenant = await newTenant();
    const [owner, viewer] = await Promise.all([
      cliJson(['operator', 'add', '--tenant', tenant.name, '--email', 'Owner@Example.COM', '--role', 'owner']),
      cliJson(['operator', 'add', '--tenant', tenant.id, '--email', 'viewer@example.com', '--role', 'viewer']),
    ]);
    expect(owner).toMatchObject({ email: 'owner@example.com', tenant_id: tenant.id, role: 'owner' });
    expect(owner.id).toMatch(/^op_/);
    expect(viewer).toMatchObject({ email: 'viewer@example.com', tenant_id: tenant.id, role: 'viewer' });
    expect(await roleOf(tenant.id, 'owner@example.com')).toBe('owner');
    expect(await roleOf(tenant.id, 'viewer@example.com')).toBe('viewer');
  });

  it("refuses to demote the tenant's last owner, and allows it once there is another", async () => {
    const tenant = await newTenant();
    await cliJson(['operator', 'add', '--tenant', tenant.name, '--email', 'alice@example.com', '--role', 'owner']);
    await cliFails(['operator', 'add', '--tenant', tenant.name, '--email', 'alice@example.com', '--role', 'admin', '--json'], /last owner/);
    expect(await roleOf(tenant.id, 'alice@example.com')).toBe('owner');

    await cliJson(['operator', 'add', '--tenant', tenant.name, '--email', 'bob@example.com', '--role', 'owner']);
    expect(await cliJson(['operator', 'add', '--tenant', tenant.name, '--email', 'alice@example.com', '--role', 'admin']))
      .toMatchObject({ role: 'admin' });
    expect(await roleOf(tenant.id, 'alice@example.com')).toBe('admin');
  });

  it('refuses an address that is not an e-mail address', async () => {
    const tenant = await newTenant();
    await cliFails(['operator', 'add', '--tenant', tenant.name, '--email', 'not-an-address', '--role', 'viewer'], /not an e-mail address/);
    expect((await t.db.query('SELECT 1 FROM renlayer.memberships WHERE tenant_id = $1', [tenant.id])).rowCount).toBe(0);
  });
});

describe('agent create, key create, key revoke', () => {
  it('creates an agent and its first key, by tenant name or id; the key works through the proxy', async () => {
    const tenant = await newTenant();
    const [byName, byId] = await Promise.all([
      cliJson(['agent', 'create', '--tenant', tenant.name, '--name', 'claude-bot', '--upstream', mock.url, '--upstream-type', 'anthropic']),
      cliJson(['agent', 'create', '--tenant', tenant.id, '--name', 'gpt-bot', '--upstream', mock.url + '/', '--upstream-type', 'openai']),
    ]);
    for (const doc of [byName, byId]) {
      expect(Object.keys(doc).sort()).toEqual(['id', 'key', 'name']);
      expect(Object.keys(doc.key).sort()).toEqual(['id', 'secret']);
      expect(doc.id).toMatch(/^agt_/);
      expect(doc.key.id).toMatch(/^key_/);
      expect(doc.key.secret).toMatch(/^rl_live_[0-9A-Za-z]{38}$/);
    }
    expect(byName.name).toBe('claude-bot');
    const rows = await t.db.query<Record<string, unknown>>(
      'SELECT name, tenant_id, upstream_type, upstream_url FROM renlayer.agents WHERE tenant_id = $1 ORDER BY name', [tenant.id]);
    expect(rows.rows).toEqual([
      { name: 'claude-bot', tenant_id: tenant.id, upstream_type: 'anthropic', upstream_url: mock.url },
      { name: 'gpt-bot', tenant_id: tenant.id, upstream_type: 'openai', upstream_url: mock.url },
    ]);
    expect((await chat(byId.key.secret)).status).toBe(200);
  });

  it('key create accepts --tenant and --agent as names or ids, only within the tenant', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const other = await newTenant();
    const [byNameAndId, byIdAndName] = await Promise.all([
      cliJson(['key', 'create', '--tenant', a.tenant.name, '--agent', a.agent.id]),
      cliJson(['key', 'create', '--tenant', a.tenant.id, '--agent', a.agent.name]),
      cliFails(['key', 'create', '--tenant', other.name, '--agent', a.agent.name, '--json'],
        `no agent named or with id "${a.agent.name}"`),
    ]);
    for (const k of [byNameAndId, byIdAndName]) {
      expect(k.id).toMatch(/^key_/);
      expect(k.secret).toMatch(/^rl_live_[0-9A-Za-z]{38}$/);
      expect((await chat(k.secret)).status).toBe(200);
    }
    const rows = await t.db.query<{ tenant_id: string; agent_id: string }>(
      'SELECT tenant_id, agent_id FROM renlayer.api_keys WHERE id = ANY($1)', [[byNameAndId.id, byIdAndName.id]]);
    expect(rows.rows).toEqual([{ tenant_id: a.tenant.id, agent_id: a.agent.id }, { tenant_id: a.tenant.id, agent_id: a.agent.id }]);
  });

  it('refuses a bad upstream URL with a message and creates nothing', async () => {
    const tenant = await newTenant();
    const create = (upstream: string) => ['agent', 'create', '--tenant', tenant.name, '--name', 'bad-upstream', '--upstream', upstream, '--json'];
    await Promise.all([
      cliFails(create('not a url'), /is not a URL/),
      cliFails(create('https://user:pass@models.example.com'), /must not carry credentials/),
    ]);
    expect((await t.db.query('SELECT 1 FROM renlayer.agents WHERE tenant_id = $1', [tenant.id])).rowCount).toBe(0);
  });

  it('revokes a key: a running proxy then refuses it, while the agent keeps its other keys', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const extra = await cliJson<{ id: string; secret: string }>(['key', 'create', '--tenant', a.tenant.name, '--agent', a.agent.name]);
    expect((await chat(extra.secret)).status).toBe(200);

    const revoked = await cliJson(['key', 'revoke', '--tenant', a.tenant.name, extra.id]);
    expect(revoked.id).toBe(extra.id);
    expect(Number.isNaN(Date.parse(revoked.revoked_at))).toBe(false);
    await eventually(async () => (await chat(extra.secret)).status === 401, 5_000, 50);
    expect((await chat(a.key)).status).toBe(200);

    // A key is revoked only through its own tenant.
    const other = await newTenant();
    await cliFails(['key', 'revoke', '--tenant', other.name, a.keyId], `no key with id "${a.keyId}"`);
    expect((await chat(a.key)).status).toBe(200);
  });

  it('stores keys only as hashes: no secret the CLI printed appears in renlayer.api_keys', async () => {
    // The keys minted by agent create and key create above, plus one of our own.
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const minted = await cliJson<{ id: string; secret: string }>(['key', 'create', '--tenant', a.tenant.name, '--agent', a.agent.name]);
    expect(printedSecrets.has(minted.secret)).toBe(true);
    const all = JSON.stringify((await t.db.query('SELECT * FROM renlayer.api_keys')).rows);
    for (const secret of printedSecrets) {
      expect(all).not.toContain(secret);
      // Nor its random part without the rl_live_ prefix.
      expect(all).not.toContain(secret.slice('rl_live_'.length));
    }
    const row = await t.db.query<{ key_hash: string }>('SELECT key_hash FROM renlayer.api_keys WHERE id = $1', [minted.id]);
    expect(row.rows[0]?.key_hash).toBe(createHash('sha256').update(minted.secret).digest('hex'));
  });
});

describe('traces tail', () => {
  let a: Awaited<ReturnType<typeof tenantWithAgent>>;
  let b: Awaited<ReturnType<typeof tenantWithAgent>>;
  /** Trace ids of tenant a's calls, oldest first. */
  const sent: string[] = [];
  let otherTrace: string;

  beforeAll(async () => {
    a = await tenantWithAgent(t.db, { upstream: mock.url });
    b = await tenantWithAgent(t.db, { upstream: mock.url });
    for (let i = 0; i < 3; i++) {
      const r = await chat(a.key);
      expect(r.status).toBe(200);
      sent.push(r.traceId!);
    }
    // A denied call, so that one trace has a reason.
    const denied = await chat(a.key, { 'x-renlayer-user': 'x'.repeat(300) });
    expect(denied.status).toBe(400);
    sent.push(denied.traceId!);
    otherTrace = (await chat(b.key)).traceId!;
    // Traces are written off the request path: wait until they are all stored.
    await eventually(async () => {
      const r = await t.db.query('SELECT 1 FROM renlayer.traces WHERE id = ANY($1)', [[...sent, otherTrace]]);
      return r.rowCount === sent.length + 1;
    }, 15_000);
  });

  it('lists the calls made through the proxy, newest first, with the trace id each response carried', async () => {
    const rows = await cliJson<Record<string, any>[]>(['traces', 'tail', '--tenant', a.tenant.name]);
    expect(rows.map((r) => r.id)).toEqual([...sent].reverse());
    const [denied, ...allowed] = rows;
    expect(denied).toMatchObject({ status: 'DENIED', reason: 'invalid_header', agent_id: a.agent.id, http_status: 400 });
    expect(typeof denied!.action_type).toBe('string');
    for (const r of allowed) {
      expect(r).toMatchObject({ status: 'ALLOWED', reason: null, agent_id: a.agent.id, action_type: 'chat_completion', http_status: 200 });
    }
  });

  it("returns the N newest with --limit N, and never another tenant's traces", async () => {
    const [limited, mine, theirs] = await Promise.all([
      cliJson<{ id: string }[]>(['traces', 'tail', '--tenant', a.tenant.id, '--limit', '2']),
      cliJson<{ id: string; tenant_id: string }[]>(['traces', 'tail', '--tenant', a.tenant.id, '--limit', '1000']),
      cliJson<{ id: string }[]>(['traces', 'tail', '--tenant', b.tenant.name]),
    ]);
    expect(limited.map((r) => r.id)).toEqual([sent[3], sent[2]]);
    expect(mine.map((r) => r.id)).not.toContain(otherTrace);
    expect(new Set(mine.map((r) => r.tenant_id))).toEqual(new Set([a.tenant.id]));
    expect(theirs.map((r) => r.id)).toEqual([otherTrace]);
  });

  it('prints one line per trace without --json, and refuses a tenant that does not exist', async () => {
    const [plain] = await Promise.all([
      runCli(['traces', 'tail', '--tenant', a.tenant.name], env()),
      cliFails(['traces', 'tail', '--tenant', 'no-such-tenant', '--json'], /no tenant named or with id "no-such-tenant"/),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stdout.trim().split('\n');
    expect(lines).toHaveLength(sent.length);
    expect(lines[0]).toContain(sent[3]);
    expect(lines[0]).toContain('DENIED');
  });
});

describe('configuration errors stop the program', () => {
  const PASSWORD = 'Sup3r-Secret-Passw0rd';
  const KEY_SECRET = 'Sup3rSecretKeyMaterial';

  it('stops at an unknown or malformed RENLAYER_* variable with one line naming it, never showing a secret', async () => {
    const cases: { variable: string; value: string; secret?: string; args?: string[] }[] = [
      { variable: 'RENLAYER_LISTEN_ADRR', value: '127.0.0.1:8080' },
      { variable: 'RENLAYER_LISTEN_ADDR', value: 'localhost' },
      { variable: 'RENLAYER_LOG_LEVEL', value: 'loud' },
      { variable: 'RENLAYER_DATABASE_URL', value: `postgres://renlayer:${PASSWORD}@[db/renlayer`, secret: PASSWORD },
      { variable: 'RENLAYER_ENCRYPTION_KEY', value: `${KEY_SECRET}!!`, secret: KEY_SECRET },
      // Admin commands read the same configuration.
      { variable: 'RENLAYER_DATABASE_URL', value: `postgres://renlayer:${PASSWORD}@[db/renlayer`, secret: PASSWORD, args: ['tenant', 'create', '--name', 'never-created'] },
    ];
    const results = await Promise.all(cases.map(({ variable, value, args }) =>
      runCliWithin(args ?? ['proxy'], env({ RENLAYER_LISTEN_ADDR: '127.0.0.1:0', RENLAYER_WORKERS: '1', [variable]: value }))));
    results.forEach((r, i) => {
      const { variable, value, secret, args } = cases[i]!;
      const what = `${variable}=${value} renlayer ${(args ?? ['proxy']).join(' ')}`;
      expect(r.hung, `${what} kept running:\n${r.stderr}`).toBe(false);
      expect(r.code, what).not.toBe(0);
      expect(r.stdout, what).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines, `${what}:\n${r.stderr}`).toHaveLength(1);
      expect(lines[0], what).toContain(variable);
      if (secret) expect(r.stderr, what).not.toContain(secret);
    });
  }, SLOW);

  it('reports an unreachable database in one line, without the password in its URL', async () => {
    const r = await runCliWithin(['tenant', 'create', '--name', 'never-created'],
      env({ RENLAYER_DATABASE_URL: `postgres://renlayer:${PASSWORD}@127.0.0.1:1/renlayer` }));
    expect(r.hung).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain('RENLAYER_DATABASE_URL');
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it('refuses to run proxy or api without RENLAYER_DATABASE_URL unless RENLAYER_EMBEDDED=1, naming both', async () => {
    const results = await Promise.all(['proxy', 'api'].map((command) => runCliWithin([command], env({
      RENLAYER_DATABASE_URL: undefined, RENLAYER_LISTEN_ADDR: '127.0.0.1:0', RENLAYER_API_LISTEN_ADDR: '127.0.0.1:0',
    }))));
    for (const r of results) {
      expect(r.hung, r.stderr).toBe(false);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('RENLAYER_DATABASE_URL');
      expect(r.stderr).toContain('RENLAYER_EMBEDDED');
    }
  });

  it('refuses to run the proxy on PostgreSQL without RENLAYER_ENCRYPTION_KEY, with one worker or several', async () => {
    const results = await Promise.all(['1', '2'].map((workers) => runCliWithin(['proxy', '--no-migrate'], env({
      RENLAYER_ENCRYPTION_KEY: undefined, RENLAYER_WORKERS: workers, RENLAYER_LISTEN_ADDR: '127.0.0.1:0',
    }))));
    results.forEach((r, i) => {
      const what = `RENLAYER_WORKERS=${i + 1}`;
      expect(r.hung, `${what}: the proxy kept running without listening:\n${r.stderr}`).toBe(false);
      expect(r.code, what).not.toBe(0);
      expect(r.stderr, what).toContain('RENLAYER_ENCRYPTION_KEY');
    });
  });
});
