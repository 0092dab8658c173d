/**
 * Fault injection against the real `renlayer proxy` process: the database going away while
 * traffic flows, the process killed or stopped, the trace journal reaching its bound. Every
 * outage is made with a TCP gate between the proxy and PostgreSQL, never by stopping a server.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { createKey, revokeKey } from '../src/store/keys.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, tenantWithAgent } from './helpers/fixtures.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';
import { openTcpGate, throughGate, type TcpGate } from './helpers/tcp-gate.js';

let t: TestDatabase;
let mock: MockServer;
const gates: TcpGate[] = [];
const proxies: ProxyProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  mock = await startMockUpstream({ chunks: 4 });
});

afterAll(async () => {
  for (const p of proxies) await p.stop('SIGKILL').catch(() => {});
  for (const g of gates) await g.close().catch(() => {});
  for (const p of proxies) dirs.push(p.spoolDir);
  for (const d of new Set(dirs)) rmSync(d, { recursive: true, force: true });
  await mock?.close();
  await t?.close();
});

async function gate(): Promise<TcpGate> {
  const u = new URL(t.url);
  const g = await openTcpGate(u.hostname, Number(u.port || 5432));
  gates.push(g);
  return g;
}

/** A proxy whose only way to PostgreSQL is through `g`. */
async function proxyThrough(g: TcpGate, env: Record<string, string> = {}): Promise<ProxyProcess> {
  const p = await startProxyProcess(t, { RENLAYER_DATABASE_URL: throughGate(t.url, g), ...env });
  proxies.push(p);
  return p;
}

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };

interface Answer {
  status: number;
  traceId: string;
  json: Record<string, any> | null;
  text: string;
}

async function call(proxy: ProxyProcess, key: string, body: unknown = chat, headers: Record<string, string> = {}, path = '/v1/chat/completions'): Promise<Answer> {
  const res = await fetch(proxy.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, any> | null = null;
  try {
    json = JSON.parse(text);
  } catch {
    // SSE or empty
  }
  return { status: res.status, traceId: res.headers.get('x-renlayer-trace-id') ?? '', json, text };
}

/** n calls, `concurrency` at a time; answers in order. */
async function calls(proxy: ProxyProcess, key: string, n: number, concurrency = 8): Promise<Answer[]> {
  const out: Answer[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await call(proxy, key);
    }
  }));
  return out;
}

async function readyz(proxy: ProxyProcess): Promise<number> {
  return (await fetch(proxy.url + '/readyz')).status;
}

async function journalBytes(proxy: ProxyProcess): Promise<number> {
  const text = await (await fetch(proxy.url + '/metrics')).text();
  const m = /^renlayer_trace_journal_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
  if (!m) throw new Error('renlayer_trace_journal_bytes not in /metrics');
  return Number(m[1]);
}

async function traceIds(tenantId: string): Promise<string[]> {
  const r = await t.db.query<{ id: string }>('SELECT id FROM renlayer.traces WHERE tenant_id = $1', [tenantId]);
  return r.rows.map((x) => x.id);
}

async function duplicates(tenantId: string): Promise<{ id: string; n: number }[]> {
  const r = await t.db.query<{ id: string; n: number }>(
    'SELECT id, count(*)::int AS n FROM renlayer.traces WHERE tenant_id = $1 GROUP BY id HAVING count(*) > 1', [tenantId]);
  return r.rows;
}

/** Waits until the tenant has exactly the expected trace ids, each once. */
async function expectTracedExactlyOnce(tenantId: string, expected: string[], timeoutMs = 15_000): Promise<void> {
  expect(new Set(expected).size).toBe(expected.length);
  await eventually(async () => (await traceIds(tenantId)).length >= expected.length, timeoutMs);
  // Give a late duplicate (a second replay) the chance to show up before counting for good.
  await new Promise((r) => setTimeout(r, 300));
  const ids = await traceIds(tenantId);
  expect(ids.length).toBe(expected.length);
  expect(new Set(ids)).toEqual(new Set(expected));
  expect(await duplicates(tenantId)).toEqual([]);
}

function exited(p: ProxyProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = p.child;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** True when a new TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

type Fixture = Awaited<ReturnType<typeof tenantWithAgent>>;

describe('database outage while traffic flows', () => {
  let g: TcpGate;
  let proxy: ProxyProcess;
  // Seeded before the proxy starts, so their keys come with the first snapshot.
  let steady: Fixture;
  let other: Fixture;

  beforeAll(async () => {
    steady = await tenantWithAgent(t.db, { upstream: mock.url });
    other = await tenantWithAgent(t.db, { upstream: mock.url });
    g = await gate();
    proxy = await proxyThrough(g);
  });

  it('accepts a key minted after start on its first call, and refuses a revoked one within a second', async () => {
    const minted = await createKey(t.db, other.tenant.id, other.agent.id);
    expect((await call(proxy, minted.secret)).status).toBe(200);
    await revokeKey(t.db, other.tenant.id, minted.id);
    await eventually(async () => (await call(proxy, minted.secret)).status === 401, 1_000, 20);
    expect((await call(proxy, minted.secret)).json?.error?.code).toBe('invalid_api_key');
    // The agent's other key is untouched.
    expect((await call(proxy, other.key)).status).toBe(200);
  });

  it('keeps answering from the snapshot while PostgreSQL is cut, and traces every call exactly once', async () => {
    expect(await readyz(proxy)).toBe(200);
    const before = await calls(proxy, steady.key, 40);
    expect(before.map((x) => x.status)).toEqual(Array(40).fill(200));

    g.cut();
    let during: Answer[] = [];
    try {
      expect(await readyz(proxy)).toBe(503);
      during = await calls(proxy, steady.key, 60);
      expect(during.map((x) => x.status)).toEqual(Array(60).fill(200));
      expect(await readyz(proxy)).toBe(503);
    } finally {
      g.restore();
    }
    await eventually(async () => (await readyz(proxy)) === 200);
    await expectTracedExactlyOnce(steady.tenant.id, [...before, ...during].map((x) => x.traceId));
  });

  it('answers 503 auth_unavailable, never 401, for a key it cannot check while PostgreSQL is cut', async () => {
    // Minted straight in the database (not through the gate): valid, but unknown to the proxy.
    const unseen = await createKey(t.db, other.tenant.id, other.agent.id);
    g.cut();
    try {
      const r = await call(proxy, unseen.secret);
      expect(r.status).toBe(503);
      expect(r.json).toMatchObject({ error: { type: 'renlayer_error', code: 'auth_unavailable', param: null }, renlayer: { code: 'auth_unavailable' } });
      expect(r.traceId).toMatch(/^trace_/);
      // Anthropic SDKs send x-api-key and read the Anthropic error shape.
      const res = await fetch(proxy.url + '/v1/messages', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': unseen.secret, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-3-5-haiku', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ type: 'error', renlayer: { code: 'auth_unavailable' } });
      // A key in the snapshot keeps working; a malformed one is still refused outright.
      expect((await call(proxy, other.key)).status).toBe(200);
      expect((await call(proxy, 'sk-not-a-renlayer-key')).status).toBe(401);
    } finally {
      g.restore();
    }
    // The key was valid all along: once the database answers, it is accepted.
    await eventually(async () => (await call(proxy, unseen.secret)).status === 200);
  });

  it('enforces a revocation within a second right after a database outage', async () => {
    const minted = await createKey(t.db, other.tenant.id, other.agent.id);
    expect((await call(proxy, minted.secret)).status).toBe(200);
    g.cut();
    try {
      expect((await call(proxy, minted.secret)).status).toBe(200);
      // An outage long enough for the notification connection to give up a few times.
      await new Promise((r) => setTimeout(r, 2_500));
    } finally {
      g.restore();
    }
    await eventually(async () => (await readyz(proxy)) === 200);
    await revokeKey(t.db, other.tenant.id, minted.id);
    await eventually(async () => (await call(proxy, minted.secret)).status === 401, 1_000, 20);
  });

  it('enforces a revocation committed during an outage, even behind a newer change it already saw', async () => {
    const doomed = await createKey(t.db, other.tenant.id, other.agent.id);
    expect((await call(proxy, doomed.secret)).status).toBe(200);
    if (t.kind === 'postgres') {
      // The revocation takes its config version; then a change with a later version commits and
      // reaches the proxy first; the revocation commits while the proxy is cut off, so its
      // notification is lost and only the version check can find it.
      await t.db.withConnection(async (conn) => {
        await conn.query('BEGIN');
        try {
          await revokeKey(conn, other.tenant.id, doomed.id);
          const newer = await createKey(t.db, steady.tenant.id, steady.agent.id);
          expect((await call(proxy, newer.secret)).status).toBe(200);
          g.cut();
          await conn.query('COMMIT');
        } catch (err) {
          await conn.query('ROLLBACK').catch(() => {});
          g.restore();
          throw err;
        }
      });
    } else {
      // PGlite runs one transaction at a time, so versions commit in order: no overlap to build.
      g.cut();
      await revokeKey(t.db, other.tenant.id, doomed.id);
    }
    try {
      // Still cut off: the proxy serves from its snapshot.
      expect((await call(proxy, steady.key)).status).toBe(200);
    } finally {
      g.restore();
    }
    await eventually(async () => (await readyz(proxy)) === 200);
    await eventually(async () => (await call(proxy, doomed.secret)).status === 401, 1_000, 20);
  });

  it('survives the database connection dropping in the middle of a configuration reload', async () => {
    // On PostgreSQL the reload is held mid-transaction by a table lock, then the connection is
    // cut under it. (PGlite cannot hold one client's transaction open while another reads: there
    // the cut lands wherever the reload happens to be.)
    const blocking = t.kind === 'postgres';
    const fresh = await t.db.withConnection(async (conn) => {
      await conn.query('BEGIN');
      try {
        if (blocking) await conn.query('LOCK TABLE renlayer.model_prices IN ACCESS EXCLUSIVE MODE');
        else await conn.query('COMMIT');
        // The new key is announced; the proxy reloads the tenant and, on PostgreSQL, waits on the lock.
        const key = await createKey(t.db, other.tenant.id, other.agent.id);
        if (blocking) {
          await eventually(async () => Number((await t.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%model_prices%'`)).rows[0]?.n) > 0);
        }
        g.cut();
        if (blocking) await conn.query('ROLLBACK');
        return key;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        g.restore();
        throw err;
      }
    });
    try {
      // Still up, still serving from its snapshot.
      expect((await fetch(proxy.url + '/healthz')).status).toBe(200);
      expect((await call(proxy, steady.key)).status).toBe(200);
      expect(proxy.child.exitCode).toBe(null);
    } finally {
      g.restore();
    }
    await eventually(async () => (await readyz(proxy)) === 200);
    await eventually(async () => (await call(proxy, fresh.secret)).status === 200);
  });
});

describe('crash after the responses were sent', () => {
  it('replays the journal of a SIGKILLed proxy once, from a new process on the same spool', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const g = await gate();
    const spool = mkdtempSync(join(tmpdir(), 'renlayer-faults-spool-'));
    dirs.push(spool);
    const first = await proxyThrough(g, { RENLAYER_SPOOL_DIR: spool });

    // Nothing can reach the database: every trace exists only in the journal when the process dies.
    g.cut();
    const answered = await calls(first, a.key, 30);
    expect(answered.map((x) => x.status)).toEqual(Array(30).fill(200));
    first.child.kill('SIGKILL');
    expect((await exited(first)).signal).toBe('SIGKILL');
    expect(await traceIds(a.tenant.id)).toEqual([]);
    expect(readdirSync(spool).some((f) => f.endsWith('.journal'))).toBe(true);

    g.restore();
    const second = await proxyThrough(g, { RENLAYER_SPOOL_DIR: spool });
    await expectTracedExactlyOnce(a.tenant.id, answered.map((x) => x.traceId));

    // Killed again with the database up (some rows written, some maybe not): still exactly once.
    const more = await calls(second, a.key, 30);
    expect(more.map((x) => x.status)).toEqual(Array(30).fill(200));
    second.child.kill('SIGKILL');
    await exited(second);
    await proxyThrough(g, { RENLAYER_SPOOL_DIR: spool });
    await expectTracedExactlyOnce(a.tenant.id, [...answered, ...more].map((x) => x.traceId));
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight streams on SIGTERM, refuses new connections, exits 0 with every trace written', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const proxy = await startProxyProcess(t);
    proxies.push(proxy);
    const streams = await Promise.all([0, 1, 2].map(async () => {
      const res = await fetch(proxy.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}`, 'x-mock-chunks': '12', 'x-mock-chunk-delay-ms': '100' },
        body: JSON.stringify({ ...chat, stream: true }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      return { traceId: res.headers.get('x-renlayer-trace-id')!, reader, text: new TextDecoder().decode(first.value) };
    }));
    const exit = exited(proxy);
    proxy.child.kill('SIGTERM');
    await eventually(() => refused(proxy.port));

    const bodies = await Promise.all(streams.map(async (s) => {
      let text = s.text;
      for (let i = 0; i < 1_000; i++) {
        const { value, done } = await s.reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      return text;
    }));
    for (const body of bodies) {
      expect(body).toContain('data: [DONE]');
      expect(body).not.toContain('"error"');
    }
    expect(await exit).toEqual({ code: 0, signal: null });
    // Drained before exit: no waiting needed.
    const rows = await t.db.query<{ id: string; status: string; reason: string | null; http_status: number }>(
      'SELECT id, status, reason, http_status FROM renlayer.traces WHERE tenant_id = $1', [a.tenant.id]);
    expect(new Set(rows.rows.map((r) => r.id))).toEqual(new Set(streams.map((s) => s.traceId)));
    for (const r of rows.rows) expect(r).toMatchObject({ status: 'ALLOWED', reason: null, http_status: 200 });
  });
});

describe('journal bound', () => {
  it('answers 503 trace_backlog_full once the journal is full, and traces everything it answered 200', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const g = await gate();
    const proxy = await proxyThrough(g, { RENLAYER_SPOOL_MAX_BYTES: '64KiB' });

    // A trace row is about 1 KiB. With the database up, rows leave the bound's count as they are
    // written: 150 KiB of traces go by a 64 KiB bound, and afterwards the journal is nearly empty.
    // (A burst faster than the database may briefly meet the bound; that is the bound working.)
    const served: Answer[] = [];
    for (let i = 0; i < 150; i++) {
      const r = await call(proxy, a.key);
      expect([200, 503]).toContain(r.status);
      if (r.status === 200) served.push(r);
      else expect(r.json?.error?.code).toBe('trace_backlog_full');
    }
    expect(served.length).toBeGreaterThan(64);
    await eventually(async () => (await journalBytes(proxy)) < 32 * 1024);
    const after = await call(proxy, a.key);
    expect(after.status).toBe(200);
    served.push(after);

    g.cut();
    const during: Answer[] = [];
    let full: Answer | undefined;
    try {
      for (let i = 0; i < 500 && !full; i++) {
        const r = await call(proxy, a.key);
        if (r.status === 200) during.push(r);
        else full = r;
      }
      expect(full?.status).toBe(503);
      expect(full?.json).toMatchObject({ error: { code: 'trace_backlog_full' }, renlayer: { code: 'trace_backlog_full' } });
      expect(during.length).toBeGreaterThan(0);
      // Still full: refused again, and refusals do not grow the journal past its bound.
      const journalBefore = await journalBytes(proxy);
      for (let i = 0; i < 5; i++) expect((await call(proxy, a.key)).status).toBe(503);
      expect(await journalBytes(proxy)).toBe(journalBefore);
    } finally {
      g.restore();
    }
    // Everything answered 200 is traced once the database is back (the refusals are not: they
    // were never served), and the proxy serves again.
    await expectTracedExactlyOnce(a.tenant.id, [...served, ...during].map((x) => x.traceId));
    await eventually(async () => (await call(proxy, a.key)).status === 200);
  });
});
