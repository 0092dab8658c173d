import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTcpGate, throughGate } from '../../test/helpers/tcp-gate.js';
import { REDIS_SERVER_ON_PATH, REDIS_UNAVAILABLE, spawnRedis, startTestRedis, type TestRedis } from '../../test/helpers/redis.js';
import { createLogger } from '../config/logger.js';
import { RedisLimiter, describeRedisTarget, type RedisLimiterMode, type RedisLimiterOptions } from './redis.js';
import { LIMITER_SCENARIOS, replayScenario, SCENARIO_EPOCH_MS } from './scenarios.js';
import type { LimitRule, LimitSubject } from './types.js';

// Every key this file writes starts with this, so runs sharing CI's Redis never meet, and
// afterAll can remove exactly what was written.
const PREFIX = `rltest:${randomUUID().slice(0, 8)}:`;

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', undefined, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** Polls until `cond` holds, failing after a generous deadline: waits on events, asserts no timing. */
async function until(cond: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const tenant = () => `ten_${randomUUID()}`;
const rule = (tenantId: string, over: Partial<LimitRule> = {}): LimitRule => ({
  id: 'r',
  tenantId,
  agentId: null,
  name: null,
  scope: 'per_agent',
  dimension: 'requests',
  window: 'minute',
  limit: 100,
  ...over,
});
const subjectOf = (tenantId: string): LimitSubject => ({ tenantId, agentId: 'agt_1', keyId: 'key_1', user: null });

describe.skipIf(REDIS_UNAVAILABLE !== null)('RedisLimiter', () => {
  let redis: TestRedis;
  let admin: Redis;
  const limiters: RedisLimiter[] = [];
  const modeChanges: RedisLimiterMode[] = [];

  /**
   * A limiter on the test Redis. Test machines are busy, so the command timeout is long: a check
   * that fell back to counting locally would make a fleet test pass or fail for the wrong reason,
   * and every test asserts the limiter stayed on Redis.
   */
  async function limiter(over: Partial<RedisLimiterOptions> = {}): Promise<RedisLimiter> {
    const l = new RedisLimiter({
      url: redis.url,
      log: capturingLogger().log,
      keyPrefix: PREFIX,
      commandTimeoutMs: 5000,
      onModeChange: (m) => modeChanges.push(m),
      ...over,
    });
    limiters.push(l);
    expect(await l.ready(10_000)).toBe(true);
    return l;
  }

  beforeAll(async () => {
    redis = await startTestRedis();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    for (const l of limiters) await l.close();
    if (admin) {
      const keys = await admin.keys(`${PREFIX}*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    }
    await redis?.close();
  });

  describe('the shared behaviour table', () => {
    for (const scenario of LIMITER_SCENARIOS) {
      it(scenario.name, async () => {
        const l = await limiter();
        const before = modeChanges.length;
        expect(await replayScenario(l, scenario, tenant())).toEqual([]);
        expect(l.mode).toBe('redis');
        expect(modeChanges.length).toBe(before);
      });
    }
  });

  it('keeps a counter as a hash of bucket fields that expires a window and a bucket after its last write', async () => {
    const l = await limiter();
    const t = tenant();
    const r = rule(t);
    await l.check([r], subjectOf(t), SCENARIO_EPOCH_MS + 1_000);
    await l.check([r], subjectOf(t), SCENARIO_EPOCH_MS + 2_500);
    const key = `${PREFIX}{${t}}:r:requests:minute:a:agt_1`;
    const first = Math.floor(SCENARIO_EPOCH_MS / 1000);
    expect(await admin.hgetall(key)).toEqual({ [first + 1]: '1', [first + 2]: '1' });
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(61_000);
    // A check 61 s later deletes the bucket that left the window.
    await l.check([r], subjectOf(t), SCENARIO_EPOCH_MS + 62_000);
    expect(await admin.hgetall(key)).toEqual({ [first + 2]: '1', [first + 62]: '1' });
  });

  it('uses the Redis clock when the caller passes none', async () => {
    const l = await limiter();
    const t = tenant();
    const r = rule(t, { limit: 2 });
    expect((await l.check([r], subjectOf(t))).allowed).toBe(true);
    expect((await l.check([r], subjectOf(t))).allowed).toBe(true);
    const d = await l.check([r], subjectOf(t));
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.breach.retryAfterS).toBeGreaterThanOrEqual(59);
    await l.charge([rule(t, { id: 'tok', dimension: 'tokens', limit: 10 })], subjectOf(t), { tokens: 12, costUsd: 0 });
    expect((await l.check([rule(t, { id: 'tok', dimension: 'tokens', limit: 10 })], subjectOf(t))).allowed).toBe(false);
    const [secs] = await admin.time();
    const fields = Object.keys(await admin.hgetall(`${PREFIX}{${t}}:r:requests:minute:a:agt_1`)).map(Number);
    for (const f of fields) expect(Math.abs(f - Number(secs))).toBeLessThan(60);
  });

  it('is exact across a fleet: three proxies, 300 concurrent checks on a 100/min rule allow exactly 100', async () => {
    const fleet = await Promise.all([limiter(), limiter(), limiter()]);
    const t = tenant();
    const r = rule(t, { limit: 100 });
    const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => fleet[i % 3]!.check([r], { ...subjectOf(t), user: `u${i}` })));
    expect(decisions.filter((d) => d.allowed).length).toBe(100);
    expect(fleet.map((l) => l.mode)).toEqual(['redis', 'redis', 'redis']);
    const denied = decisions.find((d) => !d.allowed);
    expect(denied && !denied.allowed && denied.breach.used).toBe(100);
  });

  it('falls back to counting locally while Redis is unreachable, warns once, and returns when it answers', async () => {
    const gate = await openTcpGate(redis.host, redis.port);
    const { log, lines } = capturingLogger();
    const modes: RedisLimiterMode[] = [];
    const l = await limiter({
      url: throughGate(redis.url, gate),
      log,
      maxReconnectDelayMs: 100,
      onModeChange: (m) => modes.push(m),
    });
    try {
      const t = tenant();
      const r = rule(t, { limit: 3 });
      const at = (s: number) => SCENARIO_EPOCH_MS + s * 1000;
      expect((await l.check([r], subjectOf(t), at(1))).allowed).toBe(true); // counted in Redis

      gate.cut();
      await until(() => l.mode === 'fallback', 'fallback mode');
      // Answered locally, and counted locally: this process has seen none of Redis's counts.
      for (let i = 1; i <= 3; i++) expect(await l.check([r], subjectOf(t), at(2))).toMatchObject({ allowed: true, states: [{ used: i }] });
      expect((await l.check([r], subjectOf(t), at(2))).allowed).toBe(false);
      await l.charge([rule(t, { id: 'tok', dimension: 'tokens' })], subjectOf(t), { tokens: 5, costUsd: 0 }, at(2));
      const warnings = lines.filter((x) => x.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ msg: expect.stringContaining('Redis unreachable'), redis: `redis://127.0.0.1:${gate.port}` });

      gate.restore();
      await until(() => l.mode === 'redis', 'redis mode again');
      expect(lines.filter((x) => x.level === 'info' && String(x.msg).includes('Redis answers again'))).toHaveLength(1);
      // Back on the shared counter, which holds only the call made before the outage.
      expect(await l.check([r], subjectOf(t), at(3))).toMatchObject({ allowed: true, states: [{ used: 2 }] });
      expect(modes).toEqual(['fallback', 'redis']);
      expect(lines.filter((x) => x.level === 'warn')).toHaveLength(1);
    } finally {
      await gate.close();
    }
  });

  // A private server: pausing the shared one would stall other suites.
  it.skipIf(!REDIS_SERVER_ON_PATH)('answers locally when a command times out, and tries Redis again after a pause', async () => {
    const own = await spawnRedis();
    const control = new Redis(own.url);
    const { log, lines } = capturingLogger();
    const modes: RedisLimiterMode[] = [];
    const l = await limiter({ url: own.url, log, commandTimeoutMs: 1000, pauseAfterFailureMs: 0, onModeChange: (m) => modes.push(m) });
    try {
      const t = tenant();
      const r = rule(t, { limit: 10 });
      const at = SCENARIO_EPOCH_MS;
      expect(await l.check([r], subjectOf(t), at)).toMatchObject({ allowed: true, states: [{ used: 1 }] });
      // Scripts are writes: a write pause holds them past the command timeout.
      await control.call('CLIENT', 'PAUSE', '60000', 'WRITE');
      expect(await l.check([r], subjectOf(t), at)).toMatchObject({ allowed: true, states: [{ used: 1 }] }); // the local count
      expect(l.mode).toBe('fallback');
      await control.call('CLIENT', 'UNPAUSE');
      // With no pause after a failure the next check tries Redis at once. Redis has meanwhile run
      // the timed-out script too (same connection, so first): that call is counted twice, locally
      // and in Redis, as documented — never lost.
      expect(await l.check([r], subjectOf(t), at)).toMatchObject({ allowed: true, states: [{ used: 3 }] });
      expect(modes).toEqual(['fallback', 'redis']);
      expect(lines.filter((x) => x.level === 'warn')).toMatchObject([{ reason: expect.stringContaining('timed out') }]);
    } finally {
      control.disconnect();
      await l.close();
      await own.close();
    }
  });

  it('answers from the start when Redis is down, and never logs the password', async () => {
    const gate = await openTcpGate(redis.host, redis.port);
    gate.cut();
    const { log, lines } = capturingLogger();
    const url = `redis://renlayer:s3cret-pass@127.0.0.1:${gate.port}/2`;
    const l = new RedisLimiter({ url, log, keyPrefix: PREFIX, maxReconnectDelayMs: 100 });
    limiters.push(l);
    try {
      const t = tenant();
      const d = await l.check([rule(t, { limit: 1 })], subjectOf(t), SCENARIO_EPOCH_MS);
      expect(d.allowed).toBe(true);
      expect((await l.check([rule(t, { limit: 1 })], subjectOf(t), SCENARIO_EPOCH_MS)).allowed).toBe(false);
      expect(l.mode).toBe('fallback');
      expect(lines.filter((x) => x.level === 'warn')).toHaveLength(1);
      expect(JSON.stringify(lines)).not.toContain('s3cret');
      expect(describeRedisTarget(url)).toBe(`redis://127.0.0.1:${gate.port}/2`);
    } finally {
      await gate.close();
    }
  });
});
