import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from '../src/mock/server.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { tenantWithAgent } from './helpers/fixtures.js';
import { startProxyProcess, type ProxyProcess } from './helpers/proxy.js';
import { REDIS_UNAVAILABLE, startTestRedis, type TestRedis } from './helpers/redis.js';

// SPEC §7: "Counters are exact across a fleet when RENLAYER_REDIS_URL is set." Three real proxy
// processes share one real Redis; a limit of 100 requests per minute holds for the fleet, not
// per proxy, under concurrent load.
describe.skipIf(REDIS_UNAVAILABLE !== null)('a fleet of three proxies sharing Redis', () => {
  let t: TestDatabase;
  let mock: MockServer;
  let redis: TestRedis;
  let proxies: ProxyProcess[] = [];
  let key = '';

  beforeAll(async () => {
    t = await createTestDatabase();
    mock = await startMockUpstream();
    redis = await startTestRedis();
    const a = await tenantWithAgent(t.db, { upstream: mock.url });
    key = a.key;
    // Saved before the proxies start, so every one holds it from its first request.
    await t.db.query(`INSERT INTO renlayer.rate_limits (id, tenant_id, scope, dimension, "window", limit_value) VALUES ($1, $2, 'per_tenant', 'requests', 'minute', 100)`,
      [`lim_${a.tenant.id}`, a.tenant.id]);
    proxies = await Promise.all([0, 1, 2].map(() => startProxyProcess(t, { RENLAYER_REDIS_URL: redis.url })));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await mock?.close();
    await redis?.close();
    await t?.close();
  });

  it('allows 100 requests per minute across the three, whichever proxy each call reaches', async () => {
    const calls = Array.from({ length: 240 }, (_, i) => proxies[i % 3]!).map(async (p) => {
      const res = await fetch(p.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.arrayBuffer();
      return { proxy: p, status: res.status };
    });
    const results = await Promise.all(calls);
    const allowed = results.filter((r) => r.status === 200);
    expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    // The bound; the atomic script makes it exact unless a proxy fell back to local counting.
    expect(allowed.length).toBeGreaterThanOrEqual(100);
    expect(allowed.length).toBeLessThanOrEqual(102);
    for (const p of proxies) expect(allowed.some((r) => r.proxy === p)).toBe(true);
    // No proxy fell back to per-instance counting.
    for (const p of proxies) {
      const metrics = await (await fetch(p.url + '/metrics')).text();
      expect(metrics).toMatch(/^renlayer_rate_limit_fallback 0$/m);
    }
  });
});
