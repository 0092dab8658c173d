import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';

function wrap(db: PGlite | Transaction): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await db.query<R>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
  };
}

/**
 * PGlite is one PostgreSQL session in this process. Its transaction() already holds PGlite's
 * own lock; withConnection() gets a lock of ours, because session-level advisory locks cannot
 * exclude two callers who share the one session.
 */
export async function openPglite(dataDir: string | undefined): Promise<Database & { readonly pglite: PGlite }> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const base = wrap(db);
  let exclusive: Promise<unknown> = Promise.resolve();

  return {
    kind: 'pglite',
    pglite: db,
    query: base.query,
    exec: base.exec,
    transaction(fn) {
      return db.transaction((tx) => fn(wrap(tx)));
    },
    withConnection<T>(fn: (conn: Queryable) => Promise<T>): Promise<T> {
      const run = exclusive.then(() => fn(base));
      exclusive = run.catch(() => {});
      return run;
    },
    async listen(channel, onMessage) {
      const unsubscribe = await db.listen(channel, onMessage);
      return async () => {
        await unsubscribe();
      };
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}
