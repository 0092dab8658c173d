import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { openPostgres } from '../src/db/postgres.js';
import { createTenant } from '../src/store/tenants.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, TEST_ENCRYPTION_KEY } from './helpers/fixtures.js';
import { baseEnv, runCli, startServer, type Running } from './helpers/processes.js';

// The schema (src/db/migrations) and the migrator as operators and the other components rely on
// them: from empty, concurrently, refusing what it must refuse; and the guarantees the database
// itself enforces (append-only tables, change notifications, trace partitions).

let t: TestDatabase;

/** What a migration from empty applies and records, and the version it ends at. */
const MIGRATIONS = loadMigrations();
const ALL = MIGRATIONS.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`);
const RECORDED = MIGRATIONS.map((m) => ({ version: m.version, name: m.name }));
const LATEST = MIGRATIONS.at(-1)!.version;

const TABLES = [
  'tenants', 'operators', 'memberships', 'otp_codes', 'refresh_tokens', 'agents', 'api_keys', 'policies',
  'policy_versions', 'dlp_detector_overrides', 'dlp_patterns', 'dlp_allow_list', 'rate_limits', 'model_prices',
  'traces', 'audit_log', 'webhooks', 'webhook_outbox', 'proxy_instances', 'idempotency_keys', 'config_versions',
  'schema_migrations',
];

beforeAll(async () => {
  t = await createTestDatabase({ migrate: false });
});

afterAll(async () => {
  await t?.close();
});

/** Back to an empty database. */
async function dropSchema() {
  await t.db.exec('DROP SCHEMA IF EXISTS renlayer CASCADE');
}

async function recorded(): Promise<{ version: number; name: string }[]> {
  const r = await t.db.query<{ version: number; name: string }>('SELECT version, name FROM renlayer.schema_migrations ORDER BY version');
  return r.rows;
}

async function missingTables(): Promise<string[]> {
  const r = await t.db.query<{ name: string }>(
    `SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass('renlayer.' || name) IS NULL`, [TABLES]);
  return r.rows.map((row) => row.name);
}

function cliEnv() {
  return baseEnv({ RENLAYER_DATABASE_URL: t.url, RENLAYER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'), RENLAYER_LOG_LEVEL: 'warn' });
}

/** A trace row with only what the table requires. */
async function insertTrace(tenantId: string, startedAt: string): Promise<{ id: string; partition: string }> {
  const id = `trace_TEST${Math.random().toString(36).slice(2, 12).toUpperCase()}`;
  const r = await t.db.query<{ partition: string }>(
    `INSERT INTO renlayer.traces (id, tenant_id, action_type, method, path, status, http_status, started_at, ended_at, latency_ms)
     VALUES ($1, $2, 'chat_completion', 'POST', '/v1/chat/completions', 'ALLOWED', 200, $3, $3, 1)
     RETURNING tableoid::regclass::text AS partition`, [id, tenantId, startedAt]);
  return { id, partition: r.rows[0]!.partition };
}

/** Whether the server can compress with lz4 (PostgreSQL 14+ built with it; not the embedded database). */
async function lz4Offered(): Promise<boolean> {
  const r = await t.db.query<{ lz4: boolean }>(
    `SELECT 'lz4' = ANY (enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`);
  return r.rows[0]?.lz4 === true;
}

/** The compression set on each body column of renlayer.traces and of each partition ('l' lz4, '' the default). */
async function bodyCompression(): Promise<Map<string, string>> {
  const r = await t.db.query<{ rel: string; col: string; method: string }>(
    `SELECT c.relname AS rel, a.attname AS col, a.attcompression::text AS method
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE a.attrelid IN (SELECT 'renlayer.traces'::regclass UNION ALL
                           SELECT inhrelid FROM pg_inherits WHERE inhparent = 'renlayer.traces'::regclass)
        AND a.attname IN ('request_body', 'response_body', 'request_body_enc', 'response_body_enc')`);
  return new Map(r.rows.map((row) => [`${row.rel}.${row.col}`, row.method]));
}

/** A trace with a request body large enough to be compressed; returns how it was. */
async function traceWithLargeBody(tenantId: string, startedAt: string): Promise<string | null> {
  const { id } = await insertTrace(tenantId, startedAt);
  await t.db.query(`UPDATE renlayer.traces SET request_body = repeat('Summarise this conversation. ', 400) WHERE id = $1`, [id]);
  const r = await t.db.query<{ method: string | null }>('SELECT pg_column_compression(request_body) AS method FROM renlayer.traces WHERE id = $1', [id]);
  return r.rows[0]!.method;
}

describe('migrate', () => {
  it('applies every migration to an empty database and creates every table the schema promises', async () => {
    await dropSchema();
    const result = await migrate(t.db);
    expect(result.applied).toEqual(ALL);
    expect(ALL.slice(0, 2)).toEqual(['001_initial', '002_trace_bodies_lz4']);
    expect(result.version).toBe(LATEST);
    expect(await recorded()).toEqual(RECORDED);
    expect(await missingTables()).toEqual([]);

    // traces is partitioned by day, and today's partition exists.
    const kind = await t.db.query<{ relkind: string }>(`SELECT relkind FROM pg_class WHERE oid = 'renlayer.traces'::regclass`);
    expect(kind.rows[0]?.relkind).toBe('p');
    const today = await t.db.query<{ name: string; attached: boolean }>(
      `SELECT 'renlayer.traces_' || to_char(current_date, 'YYYYMMDD') AS name,
              EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'renlayer.traces'::regclass
                        AND inhrelid = to_regclass('renlayer.traces_' || to_char(current_date, 'YYYYMMDD'))) AS attached`);
    expect(today.rows[0]?.attached, `${today.rows[0]?.name} should be a partition of renlayer.traces`).toBe(true);
  });

  it('applies nothing when run again', async () => {
    await migrate(t.db);
    const again = await migrate(t.db);
    expect(again).toEqual({ applied: [], version: LATEST });
    expect(await recorded()).toHaveLength(ALL.length);
  });

  it('lets two `renlayer migrate` processes run at once: both succeed, the migration is recorded once', async () => {
    await dropSchema();
    const [a, b] = await Promise.all([runCli(['migrate', '--json'], cliEnv()), runCli(['migrate', '--json'], cliEnv())]);
    for (const r of [a, b]) {
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ version: LATEST });
    }
    expect(await recorded()).toEqual(RECORDED);
    expect(await missingTables()).toEqual([]);
  }, 60_000);

  it('lets two migrate() calls on separate connection pools run at once: one applies, the other waits and applies nothing', async () => {
    await dropSchema();
    const pools = [openPostgres({ connectionString: t.url, max: 2 }), openPostgres({ connectionString: t.url, max: 2 })];
    try {
      const results = await Promise.all(pools.map((db) => migrate(db)));
      expect(results.map((r) => r.applied).sort()).toEqual([[], ALL]);
    } finally {
      await Promise.all(pools.map((db) => db.close()));
    }
    expect(await recorded()).toEqual(RECORDED);
    expect(await missingTables()).toEqual([]);
  });

  it('upgrades a database with partitions and rows to lz4 for trace bodies where the server has it: every partition, later ones too; rows written keep pglz', async () => {
    const lz4 = await lz4Offered();
    await dropSchema();
    await migrate(t.db, MIGRATIONS.slice(0, 1));
    await t.db.query(`SELECT renlayer.ensure_trace_partitions('2093-01-01', 2)`);
    const tenant = await createTenant(t.db, `lz4-${process.pid}`);
    expect(await traceWithLargeBody(tenant.id, '2093-01-01T12:00:00Z')).toBe('pglz');
    const before = await bodyCompression();
    expect([...before.values()].every((m) => m === '')).toBe(true);

    expect((await migrate(t.db)).applied).toEqual(ALL.slice(1));
    await t.db.query(`SELECT renlayer.ensure_trace_partitions('2093-02-01', 1)`);
    const after = await bodyCompression();
    // The parent, the default partition, the two days made before and the one made after.
    for (const rel of ['traces', 'traces_default', 'traces_20930101', 'traces_20930102', 'traces_20930201']) {
      expect(after.get(`${rel}.request_body`), rel).toBe(lz4 ? 'l' : '');
    }
    expect(after.size).toBe(before.size + 4);
    for (const [col, method] of after) expect(method, col).toBe(lz4 ? 'l' : '');
    expect(await traceWithLargeBody(tenant.id, '2093-01-02T12:00:00Z')).toBe(lz4 ? 'lz4' : 'pglz');
    expect(await traceWithLargeBody(tenant.id, '2093-02-01T12:00:00Z')).toBe(lz4 ? 'lz4' : 'pglz');
    const old = await t.db.query<{ method: string }>(
      `SELECT pg_column_compression(request_body) AS method FROM renlayer.traces WHERE started_at = '2093-01-01T12:00:00Z'`);
    expect(old.rows.map((r) => r.method)).toEqual(['pglz']);
  });

  it('refuses a database whose schema is newer than this program (schema_too_new), also from the command line', async () => {
    await migrate(t.db);
    await t.db.query(`INSERT INTO renlayer.schema_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')`);
    try {
      await expect(migrate(t.db)).rejects.toMatchObject({ code: 'schema_too_new' });
      const r = await runCli(['migrate'], cliEnv());
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/schema_too_new/);
      expect(r.stderr).toMatch(/999/);
    } finally {
      await t.db.query('DELETE FROM renlayer.schema_migrations WHERE version = 999');
    }
    expect((await migrate(t.db)).applied).toEqual([]);
  }, 60_000);

  it('refuses a database where an applied migration differs from the code (schema_mismatch)', async () => {
    await migrate(t.db);
    const original = loadMigrations()[0]!.checksum;
    await t.db.query(`UPDATE renlayer.schema_migrations SET checksum = 'edited' WHERE version = 1`);
    try {
      await expect(migrate(t.db)).rejects.toMatchObject({ code: 'schema_mismatch' });
    } finally {
      await t.db.query('UPDATE renlayer.schema_migrations SET checksum = $1 WHERE version = 1', [original]);
    }
    expect((await migrate(t.db)).applied).toEqual([]);
  });
});

describe('renlayer migrate next to a running embedded server', () => {
  let dataDir: string;
  let api: Running | undefined;

  afterAll(async () => {
    await api?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('migrates the embedded database through the server that holds it', async () => {
    // A server told not to migrate, as when migrations run as a separate deployment step.
    dataDir = mkdtempSync('/tmp/rl-mig-');
    const env = baseEnv({ RENLAYER_DATA_DIR: dataDir, RENLAYER_EMBEDDED: '1', RENLAYER_API_LISTEN_ADDR: '127.0.0.1:0', RENLAYER_LOG_LEVEL: 'info' });
    api = await startServer(['api', '--no-migrate'], env, 'Platform API listening', 90_000);
    const r = await runCli(['migrate', '--json'], { ...env, RENLAYER_LOG_LEVEL: 'warn' });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ version: LATEST });
    // And the schema is there for the next admin command, through the same server.
    const tenant = await runCli(['tenant', 'create', '--name', 'after-migrate', '--json'], { ...env, RENLAYER_LOG_LEVEL: 'warn' });
    expect(tenant.code, tenant.stderr).toBe(0);
    expect(await api.stop()).toBe(0);
    api = undefined;
  }, 180_000);
});

describe('what the schema enforces', () => {
  beforeAll(async () => {
    await migrate(t.db);
  });

  it('keeps renlayer.audit_log append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const tenant = await createTenant(t.db, `audit-${process.pid}`);
    await t.db.query(
      `INSERT INTO renlayer.audit_log (id, tenant_id, seq, action, resource_type, prev_hash, hash)
       VALUES ('evt_TEST1', $1, 1, 'agent.create', 'agent', 'genesis', 'h1')`, [tenant.id]);
    await expect(t.db.query(`UPDATE renlayer.audit_log SET action = 'agent.delete' WHERE id = 'evt_TEST1'`)).rejects.toThrow(/append-only/);
    await expect(t.db.query(`DELETE FROM renlayer.audit_log WHERE id = 'evt_TEST1'`)).rejects.toThrow(/append-only/);
    await expect(t.db.query('TRUNCATE renlayer.audit_log')).rejects.toThrow(/append-only/);
    const row = await t.db.query<{ action: string }>(`SELECT action FROM renlayer.audit_log WHERE id = 'evt_TEST1'`);
    expect(row.rows).toEqual([{ action: 'agent.create' }]);
  });

  it('keeps renlayer.policy_versions immutable: UPDATE is refused', async () => {
    const tenant = await createTenant(t.db, `policy-${process.pid}`);
    await t.db.query(
      `INSERT INTO renlayer.policies (id, tenant_id, name, action, priority) VALUES ('pol_TEST1', $1, 'deny-all', 'DENY', 1)`, [tenant.id]);
    await t.db.query(
      `INSERT INTO renlayer.policy_versions (policy_id, version, tenant_id, definition) VALUES ('pol_TEST1', 1, $1, '{"action":"DENY"}')`, [tenant.id]);
    await expect(t.db.query(`UPDATE renlayer.policy_versions SET definition = '{"action":"ALLOW"}' WHERE policy_id = 'pol_TEST1'`))
      .rejects.toThrow(/append-only/);
    const row = await t.db.query<{ definition: unknown }>(`SELECT definition FROM renlayer.policy_versions WHERE policy_id = 'pol_TEST1'`);
    expect(row.rows[0]?.definition).toEqual({ action: 'DENY' });
  });

  it('bumps renlayer.config_versions for the tenant of a changed agent and announces it on renlayer_config', async () => {
    const tenant = await createTenant(t.db, `config-${process.pid}`);
    const bystander = await createTenant(t.db, `bystander-${process.pid}`);
    const version = async (tenantId: string) => Number((await t.db.query<{ version: number }>(
      'SELECT version FROM renlayer.config_versions WHERE tenant_id = $1', [tenantId])).rows[0]?.version ?? 0);
    const notes: { tenant_id: string; version: number; table: string }[] = [];
    // Cross-connection notifications are delivered by a PostgreSQL server, not by PGlite over a socket.
    const unlisten = t.kind === 'postgres' ? await t.db.listen('renlayer_config', (p) => notes.push(JSON.parse(p))) : undefined;
    try {
      const before = await version(tenant.id);
      const bystanderBefore = await version(bystander.id);
      expect(before).toBeGreaterThan(0);

      await t.db.query(`INSERT INTO renlayer.agents (id, tenant_id, name) VALUES ('agt_TEST1', $1, 'watched')`, [tenant.id]);
      const afterInsert = await version(tenant.id);
      expect(afterInsert).toBeGreaterThan(before);

      await t.db.query(`UPDATE renlayer.agents SET enabled = false WHERE id = 'agt_TEST1'`);
      const afterUpdate = await version(tenant.id);
      expect(afterUpdate).toBeGreaterThan(afterInsert);
      expect(await version(bystander.id)).toBe(bystanderBefore);

      if (unlisten) {
        await eventually(async () => notes.some((n) => n.version === afterUpdate));
        expect(notes).toContainEqual({ tenant_id: tenant.id, version: afterInsert, table: 'agents' });
        expect(notes).toContainEqual({ tenant_id: tenant.id, version: afterUpdate, table: 'agents' });
        expect(notes.filter((n) => n.tenant_id === bystander.id)).toEqual([]);
      }
    } finally {
      await unlisten?.();
    }
  });

  it('creates daily trace partitions with ensure_trace_partitions, once', async () => {
    const made = await t.db.query<{ n: number }>(`SELECT renlayer.ensure_trace_partitions('2090-01-01', 3) AS n`);
    expect(made.rows[0]?.n).toBe(3);
    const again = await t.db.query<{ n: number }>(`SELECT renlayer.ensure_trace_partitions('2090-01-01', 3) AS n`);
    expect(again.rows[0]?.n).toBe(0);
    const tenant = await createTenant(t.db, `partitions-${process.pid}`);
    expect((await insertTrace(tenant.id, '2090-01-02T12:00:00Z')).partition).toBe('renlayer.traces_20900102');
  });

  it('stores a trace for a day without a partition in the default partition instead of failing', async () => {
    const tenant = await createTenant(t.db, `default-part-${process.pid}`);
    const { id, partition } = await insertTrace(tenant.id, '2091-06-15T12:00:00Z');
    expect(partition).toBe('renlayer.traces_default');
    // Making partitions around that day later neither fails nor loses the row.
    const made = await t.db.query<{ n: number }>(`SELECT renlayer.ensure_trace_partitions('2091-06-14', 3) AS n`);
    expect(made.rows[0]?.n).toBe(2);
    const row = await t.db.query('SELECT 1 FROM renlayer.traces WHERE id = $1', [id]);
    expect(row.rowCount).toBe(1);
    expect((await insertTrace(tenant.id, '2091-06-16T12:00:00Z')).partition).toBe('renlayer.traces_20910616');
  });
});
