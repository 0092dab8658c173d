import pg from 'pg';
import type { Database, Queryable, QueryResult } from './database.js';
import { from as copyStream } from 'pg-copy-streams';

// int8 as a JavaScript number (counters and sizes stay far below 2^53), like PGlite does, so
// callers see the same types from both engines. numeric stays a string in both.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

function wrap(client: pg.Pool | pg.PoolClient | pg.Client): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await client.query(sql, params as unknown[] | undefined);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  };
}

/**
 * A client checked out of the pool has no 'error' listener: pg-pool removes its own until the
 * client is released. A connection lost meanwhile (network cut, server restart) would then be
 * an unhandled 'error' event, which ends the process. The query in progress is rejected anyway,
 * so the event only has to be absorbed — and the dead client kept out of the pool.
 */
async function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; release(): void }> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost = err;
  };
  client.on('error', onError);
  return {
    client,
    release() {
      client.off('error', onError);
      client.release(lost);
    },
  };
}

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
}

export function openPostgres(opts: PostgresOptions): Database {
  const clientConfig = {
    connectionString: opts.connectionString,
    types,
    application_name: opts.applicationName ?? 'renlayer',
    connectionTimeoutMillis: 5_000,
  };
  const pool = new pg.Pool({ ...clientConfig, max: opts.max ?? 10, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const base = wrap(pool);

  return {
    kind: 'postgres',
    query: base.query,
    exec: base.exec,
    async transaction(fn) {
      const { client, release } = await checkout(pool);
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        release();
      }
    },
    async withConnection(fn) {
      const { client, release } = await checkout(pool);
      try {
        return await fn(wrap(client));
      } finally {
        release();
      }
    },
    async copyFrom(sql, data) {
      const { client, release } = await checkout(pool);
      try {
        const copy = client.query(copyStream(sql));
        await new Promise<void>((resolve, reject) => {
          copy.on('finish', resolve);
          copy.on('error', reject);
          copy.end(data);
        });
        return copy.rowCount;
      } finally {
        release();
      }
    },
    async listen(channel, onMessage, onLost) {
      // A dedicated client: LISTEN is per session and must outlive pool checkouts.
      const client = new pg.Client(clientConfig);
      let closed = false;
      client.on('notification', (n) => {
        if (n.channel === channel) onMessage(n.payload ?? '');
      });
      client.on('error', (err) => {
        if (!closed) onLost?.(err);
      });
      client.on('end', () => {
        if (!closed) onLost?.(new Error('notification connection ended'));
        closed = true;
      });
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        closed = true;
        await client.end().catch(() => {});
      };
    },
    async close() {
      await pool.end();
    },
  };
}
