import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { eventually, TEST_ENCRYPTION_KEY, tenantWithAgent } from './helpers/fixtures.js';
import { baseEnv, startServer, type Running } from './helpers/processes.js';

let t: TestDatabase;
let mock: MockServer;
let proxy: Running;
let url: string;

function workerPids(stderr: string): number[] {
  const pids = new Set<number>();
  for (const line of stderr.split('\n')) {
    if (!line.includes('"proxy listening"')) continue;
    pids.add(JSON.parse(line).pid as number);
  }
  return [...pids];
}

beforeAll(async () => {
  t = await createTestDatabase();
  mock = await startMockUpstream();
  proxy = await startServer(['proxy'], baseEnv({
    RENLAYER_DATABASE_URL: t.url,
    RENLAYER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
    RENLAYER_LISTEN_ADDR: '127.0.0.1:0',
    RENLAYER_WORKERS: '2',
    RENLAYER_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'renlayer-spool-')),
  }), 'proxy listening');
  url = `http://127.0.0.1:${proxy.port}`;
  await eventually(async () => workerPids(proxy.stderr()).length === 2, 20_000);
  await eventually(async () => (await fetch(url + '/readyz')).status === 200, 20_000);
});

afterAll(async () => {
  await proxy?.stop();
  await mock?.close();
  await t?.close();
});

async function chat(key: string) {
  return fetch(url + '/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
}

function counterTotal(metrics: string, name: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) if (line.startsWith(name + '{') || line.startsWith(name + ' ')) total += Number(line.split(' ').pop());
  return total;
}

describe('RENLAYER_WORKERS=2', () => {
  it('runs its workers with an 8 MB young generation, keeping each worker\u2019s memory down', () => {
    const pids = workerPids(proxy.stderr());
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=8');
  });

  it('serves from two worker processes on one port and reports metrics for both in one scrape', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const before = counterTotal(await (await fetch(url + '/metrics')).text(), 'renlayer_requests_total');
    const n = 40;
    const statuses = await Promise.all(Array.from({ length: n }, async () => (await chat(a.key)).status));
    expect(statuses.every((s) => s === 200)).toBe(true);
    // Both workers took calls; whichever worker answers the scrape reports all of them.
    const metrics = await (await fetch(url + '/metrics')).text();
    expect(counterTotal(metrics, 'renlayer_requests_total') - before).toBe(n);
    await eventually(async () => Number((await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM renlayer.traces WHERE tenant_id = $1', [a.tenant.id])).rows[0]!.n) === n);
    const writers = await t.db.query<{ p: string }>('SELECT DISTINCT proxy_instance_id AS p FROM renlayer.traces WHERE tenant_id = $1', [a.tenant.id]);
    expect(writers.rows).toHaveLength(1);
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    const [victim] = workerPids(proxy.stderr());
    process.kill(victim!, 'SIGKILL');
    await eventually(async () => workerPids(proxy.stderr()).length === 3, 20_000);
    for (let i = 0; i < 10; i++) expect((await chat(a.key)).status).toBe(200);
  });

  it('registers the instance in the fleet table with its topology', async () => {
    const rows = await eventually(async () => {
      const r = await t.db.query<{ topology: string; workers: number }>('SELECT topology, workers FROM renlayer.proxy_instances WHERE stopped_at IS NULL');
      return r.rows.length > 0 ? r.rows : null;
    });
    expect(rows[0]).toMatchObject({ topology: 'gateway', workers: 2 });
  });
});
