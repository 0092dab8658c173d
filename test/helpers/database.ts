import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { PgliteWireServer } from '../../src/db/pglite-wire.js';
import { openPostgres } from '../../src/db/postgres.js';

/**
 * A fresh, migrated database for one test file, reachable both in-process (`db`) and by URL for
 * the renlayer processes a test starts. With RENLAYER_TEST_DATABASE_URL (CI) it is a new
 * database on that PostgreSQL server, dropped afterwards; otherwise an in-memory PGlite served
 * on a loopback port — the same SQL on both.
 */
export interface TestDatabase {
  url: string;
  db: Database;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export const TEST_SERVER_URL = process.env.RENLAYER_TEST_DATABASE_URL || undefined;

export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const t = TEST_SERVER_URL ? await serverDatabase(TEST_SERVER_URL) : await pgliteDatabase();
  if (opts.migrate !== false) await migrate(t.db);
  return t;
}

async function serverDatabase(base: string): Promise<TestDatabase> {
  const name = `renlayer_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = '/' + name;
  const url = u.toString();
  const db = openPostgres({ connectionString: url, max: 5, applicationName: 'renlayer-test' });
  return {
    url,
    db,
    kind: 'postgres',
    async close() {
      await db.close();
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

async function pgliteDatabase(): Promise<TestDatabase> {
  const pglite = await PGlite.create();
  const server = new PgliteWireServer(pglite);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = server.port;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // The test talks to PGlite through the socket like the renlayer processes do: notifications
  // raised by its writes then reach their listening connections, as on a real server.
  const db = openPostgres({ connectionString: url, max: 4, applicationName: 'renlayer-test' });
  return {
    url,
    db,
    kind: 'pglite',
    async close() {
      await db.close();
      await server.close().catch(() => {});
      await pglite.close();
    },
  };
}
