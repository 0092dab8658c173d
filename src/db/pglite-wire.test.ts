import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteWireServer } from './pglite-wire.js';

let db: PGlite;
let server: PgliteWireServer;
let url: string;

beforeAll(async () => {
  db = await PGlite.create();
  server = new PgliteWireServer(db);
  await server.listen({ host: '127.0.0.1', port: 0 });
  url = `postgres://postgres@127.0.0.1:${server.port}/postgres`;
});

afterAll(async () => {
  await server.close();
  await db.close();
});

describe('PgliteWireServer', () => {
  it('keeps concurrent clients\u2019 extended-protocol queries apart', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => pool.query<{ v: number }>('SELECT $1::int * 2 AS v', [i])));
    expect(results.map((r) => r.rows[0]!.v)).toEqual(Array.from({ length: 64 }, (_, i) => i * 2));
    await pool.end();
  });

  it('keeps a client\u2019s transaction whole while others query', async () => {
    const a = new pg.Client(url);
    const b = new pg.Client(url);
    await a.connect();
    await b.connect();
    await a.query('CREATE TABLE t (v int)');
    await a.query('BEGIN');
    await a.query('INSERT INTO t VALUES (1)');
    // b waits for a's transaction instead of running inside it
    const bCount = b.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
    await a.query('ROLLBACK');
    expect((await bCount).rows[0]!.n).toBe(0);
    await a.end();
    await b.end();
  });

  it('refuses COPY FROM STDIN as not supported (0A000) and keeps the session usable', async () => {
    const client = new pg.Client(url);
    await client.connect();
    await client.query('CREATE TABLE copied (v text)');
    const copy = client.query(copyFrom('COPY copied (v) FROM STDIN'));
    const refused = await new Promise<Error & { code?: string }>((resolve, reject) => {
      copy.on('error', resolve);
      copy.on('finish', () => reject(new Error('COPY was accepted')));
      copy.end('a\n');
    });
    expect(refused.code).toBe('0A000');
    expect((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM copied')).rows[0]!.n).toBe(0);
    await client.end();
  });

  it('delivers a NOTIFY to the other clients that LISTEN on its channel, and to in-process subscribers', async () => {
    const listener = new pg.Client(url);
    const sender = new pg.Client(url);
    await listener.connect();
    await sender.connect();
    const got: string[] = [];
    const inProcess: string[] = [];
    listener.on('notification', (n) => got.push(`${n.channel}:${n.payload}`));
    const stop = server.onNotification((c, p) => inProcess.push(`${c}:${p}`));
    await listener.query('LISTEN "renlayer_config"');
    await sender.query(`SELECT pg_notify('renlayer_config', 'v1')`);
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['renlayer_config:v1']);
    expect(inProcess).toEqual(['renlayer_config:v1']);
    stop();
    await listener.query('UNLISTEN "renlayer_config"');
    await sender.query(`SELECT pg_notify('renlayer_config', 'v2')`);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['renlayer_config:v1']);
    await listener.end();
    await sender.end();
  });
});
