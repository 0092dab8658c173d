import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { TEST_ENCRYPTION_KEY } from './helpers/fixtures.js';
import { baseEnv, startServer, type Running } from './helpers/processes.js';
import { openTcpGate, throughGate, type TcpGate } from './helpers/tcp-gate.js';

let t: TestDatabase;
let gate: TcpGate;
let api: Running;
let url: string;

beforeAll(async () => {
  t = await createTestDatabase();
  const u = new URL(t.url);
  gate = await openTcpGate(u.hostname, Number(u.port || 5432));
  api = await startServer(['api'], baseEnv({
    RENLAYER_DATABASE_URL: throughGate(t.url, gate),
    RENLAYER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
    RENLAYER_API_LISTEN_ADDR: '127.0.0.1:0',
  }), 'Platform API listening');
  url = `http://127.0.0.1:${api.port}`;
});

afterAll(async () => {
  await api?.stop();
  await gate?.close();
  await t?.close();
});

describe('renlayer api', () => {
  it('answers liveness and readiness', async () => {
    expect((await fetch(url + '/healthz')).status).toBe(200);
    const ready = await fetch(url + '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('serves an OpenAPI 3.1 document describing itself', async () => {
    const res = await fetch(url + '/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; info: { title: string; version: string } };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('RenLayer Platform API');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('is not ready while PostgreSQL cannot be reached, and ready again when it can', async () => {
    gate.cut();
    try {
      const res = await fetch(url + '/readyz');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'not_ready' });
      expect((await fetch(url + '/healthz')).status).toBe(200);
    } finally {
      gate.restore();
    }
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await fetch(url + '/readyz')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });

  it('exits 0 on SIGTERM', async () => {
    const other = await startServer(['api', '--no-migrate'], baseEnv({
      RENLAYER_DATABASE_URL: t.url,
      RENLAYER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
      RENLAYER_API_LISTEN_ADDR: '127.0.0.1:0',
    }), 'Platform API listening');
    expect(await other.stop('SIGTERM')).toBe(0);
  });
});
