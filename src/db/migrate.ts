import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RenLayerError } from '../core/errors.js';
import type { Database, Queryable } from './database.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

// Any fixed 64-bit number; every RenLayer process that migrates takes this one lock.
const MIGRATION_LOCK = 7_303_190_477_001;
const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(dir + file, 'utf8');
      return {
        version: Number(file.slice(0, 3)),
        name: file.slice(4, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

/**
 * On a server the migration runs on the connection holding the lock (a pool of one is enough);
 * PGlite is one session, where db.transaction() is what keeps other callers out meanwhile.
 */
async function inTransaction<T>(db: Database, conn: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  if (db.kind === 'pglite') return db.transaction(fn);
  await conn.query('BEGIN');
  try {
    const result = await fn(conn);
    await conn.query('COMMIT');
    return result;
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export interface MigrateResult {
  applied: string[];
  version: number;
}

async function appliedVersions(c: Queryable): Promise<Map<number, string>> {
  const r = await c.query<{ version: number; checksum: string }>('SELECT version, checksum FROM renlayer.schema_migrations');
  return new Map(r.rows.map((row) => [Number(row.version), row.checksum]));
}

/**
 * Applies pending migrations, each in its own transaction. Safe when several processes start at
 * once: they queue on one advisory lock, and each migration re-checks inside its transaction.
 * Refuses a database whose schema is newer than this program, or whose applied migrations were
 * edited after the fact (checksum mismatch).
 */
export async function migrate(db: Database, migrations: Migration[] = loadMigrations()): Promise<MigrateResult> {
  const latest = migrations.at(-1)?.version ?? 0;
  return db.withConnection(async (conn) => {
    await conn.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await conn.exec(`
        CREATE SCHEMA IF NOT EXISTS renlayer;
        CREATE TABLE IF NOT EXISTS renlayer.schema_migrations (
          version    integer PRIMARY KEY,
          name       text NOT NULL,
          checksum   text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        );`);
      const done = await appliedVersions(conn);
      const newest = Math.max(0, ...done.keys());
      if (newest > latest) {
        throw new RenLayerError('schema_too_new',
          `the database schema is at version ${newest} but this renlayer knows only up to ${latest}; upgrade renlayer before running it against this database`);
      }
      for (const m of migrations) {
        const seen = done.get(m.version);
        if (seen !== undefined && seen !== m.checksum) {
          throw new RenLayerError('schema_mismatch',
            `migration ${m.version}_${m.name} was changed after it was applied to this database; restore the original file`);
        }
      }
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        const ran = await inTransaction(db, conn, async (tx) => {
          const again = await tx.query('SELECT 1 FROM renlayer.schema_migrations WHERE version = $1', [m.version]);
          if (again.rowCount > 0) return false;
          await tx.exec(m.sql);
          await tx.query('INSERT INTO renlayer.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
            [m.version, m.name, m.checksum]);
          return true;
        });
        if (ran) applied.push(`${String(m.version).padStart(3, '0')}_${m.name}`);
      }
      // Partitions for yesterday (late rows) through the coming week; the trace writer keeps
      // extending this window while it runs.
      await conn.query('SELECT renlayer.ensure_trace_partitions(current_date - 1, 8)');
      return { applied, version: latest };
    } finally {
      await conn.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    }
  });
}
