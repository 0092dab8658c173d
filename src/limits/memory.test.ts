import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryLimiter } from './memory.js';
import { LIMITER_SCENARIOS, replayScenario, SCENARIO_EPOCH_MS } from './scenarios.js';
import type { LimitRule, LimitSubject } from './types.js';

const subject: LimitSubject = { tenantId: 'ten_a', agentId: 'agt_1', keyId: 'key_1', user: null };
const rule = (over: Partial<LimitRule> = {}): LimitRule => ({
  id: 'r',
  tenantId: 'ten_a',
  agentId: null,
  name: null,
  scope: 'per_agent',
  dimension: 'requests',
  window: 'minute',
  limit: 5,
  ...over,
});

describe('MemoryLimiter: the shared behaviour table', () => {
  for (const scenario of LIMITER_SCENARIOS) {
    it(scenario.name, async () => {
      expect(await replayScenario(new MemoryLimiter(), scenario, 'ten_a')).toEqual([]);
    });
  }
});

describe('MemoryLimiter', () => {
  it('reports its mode as local', () => {
    expect(new MemoryLimiter().mode).toBe('local');
  });

  it('allows everything when no rule applies, without keeping a counter', async () => {
    const l = new MemoryLimiter();
    const d = await l.check([rule({ tenantId: 'ten_b' })], subject, SCENARIO_EPOCH_MS);
    expect(d).toEqual({ allowed: true, states: [] });
    expect(l.size).toBe(0);
  });

  it('ignores a charge that is not a positive finite amount', async () => {
    const l = new MemoryLimiter();
    const tok = rule({ dimension: 'tokens', limit: 10 });
    for (const tokens of [Number.NaN, -50, Number.POSITIVE_INFINITY, 0]) await l.charge([tok], subject, { tokens, costUsd: 0 }, SCENARIO_EPOCH_MS);
    expect(l.size).toBe(0);
    await l.charge([tok], subject, { tokens: 10, costUsd: 0 }, SCENARIO_EPOCH_MS);
    const d = await l.check([tok], subject, SCENARIO_EPOCH_MS);
    expect(d.allowed).toBe(false);
  });

  it('forgets idle counters once their window has passed', async () => {
    const l = new MemoryLimiter({ sweepEveryMs: 1000 });
    for (let i = 0; i < 50; i++) await l.check([rule()], { ...subject, agentId: `agt_${i}` }, SCENARIO_EPOCH_MS);
    expect(l.size).toBe(50);
    await l.check([rule()], subject, SCENARIO_EPOCH_MS + 30_000);
    expect(l.size).toBe(50);
    await l.check([rule({ id: 'other' })], { ...subject, agentId: 'agt_new' }, SCENARIO_EPOCH_MS + 61_000);
    expect(l.size).toBe(2); // agt_1's counter (touched at 30 s) and the new one
  });

  it('stays within its bound under a flood of distinct users, forgetting the least recent', async () => {
    const l = new MemoryLimiter({ maxCounters: 100 });
    const perUser = rule({ scope: 'per_user', limit: 1 });
    await l.check([perUser], { ...subject, user: 'first' }, SCENARIO_EPOCH_MS);
    for (let i = 0; i < 1000; i++) {
      await l.check([perUser], { ...subject, user: `u${i}` }, SCENARIO_EPOCH_MS);
      expect(l.size).toBeLessThanOrEqual(100);
    }
    expect((await l.check([perUser], { ...subject, user: 'u999' }, SCENARIO_EPOCH_MS)).allowed).toBe(false);
    expect((await l.check([perUser], { ...subject, user: 'first' }, SCENARIO_EPOCH_MS)).allowed).toBe(true);
  });

  it('keeps a counter counted again a second later when it must forget others', async () => {
    const l = new MemoryLimiter({ maxCounters: 10 });
    const perUser = rule({ scope: 'per_user', limit: 2 });
    await l.check([perUser], { ...subject, user: 'first' }, SCENARIO_EPOCH_MS);
    for (let i = 0; i < 8; i++) await l.check([perUser], { ...subject, user: `u${i}` }, SCENARIO_EPOCH_MS);
    expect((await l.check([perUser], { ...subject, user: 'first' }, SCENARIO_EPOCH_MS + 1_000)).allowed).toBe(true);
    for (let i = 8; i < 12; i++) await l.check([perUser], { ...subject, user: `u${i}` }, SCENARIO_EPOCH_MS + 1_000);
    expect(l.size).toBeLessThanOrEqual(10);
    // "first" has used its 2: forgotten, it would pass again.
    expect((await l.check([perUser], { ...subject, user: 'first' }, SCENARIO_EPOCH_MS + 1_000)).allowed).toBe(false);
  });

  it('never allows more than the limit in any interval one window long (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 240_000 }), { minLength: 1, maxLength: 120 }),
        async (limit, offsets) => {
          const l = new MemoryLimiter();
          const times = [...offsets].sort((a, b) => a - b).map((o) => SCENARIO_EPOCH_MS + o);
          const allowed: number[] = [];
          for (const t of times) if ((await l.check([rule({ limit })], subject, t)).allowed) allowed.push(t);
          // Allowed times are ascending; any interval [t, t + 60 s) starting at an allowed call holds
          // at most `limit` of them — and an interval starting elsewhere holds no more than one that
          // starts at its first allowed call.
          for (let i = 0; i < allowed.length; i++) {
            let j = i;
            while (j < allowed.length && allowed[j]! < allowed[i]! + 60_000) j++;
            expect(j - i).toBeLessThanOrEqual(limit);
          }
          // And it is not stricter than its buckets: a call with nothing allowed in the 61 s
          // before it (the window and the bucket it straddles) always passes.
          for (const t of times) {
            const recent = allowed.filter((a) => a < t && a > t - 61_000).length;
            if (recent === 0) expect(allowed).toContain(t);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never lets one rule count a call another refused (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('alice', 'bob', null), { minLength: 1, maxLength: 60 }), async (users) => {
        const l = new MemoryLimiter();
        const rules = [rule({ id: 'agent', limit: 7 }), rule({ id: 'user', scope: 'per_user', limit: 3 })];
        let allowed = 0;
        const perUser = new Map<string | null, number>();
        for (const user of users) {
          const d = await l.check(rules, { ...subject, user }, SCENARIO_EPOCH_MS);
          // Refused only when one of the two is really full.
          expect(d.allowed).toBe(allowed < 7 && (perUser.get(user) ?? 0) < 3);
          if (d.allowed) {
            allowed++;
            perUser.set(user, (perUser.get(user) ?? 0) + 1);
          }
          // The agent rule's count is exactly the calls allowed: refusals by the user rule left it alone.
          expect(d.states.find((s) => s.ruleId === 'agent')!.used).toBe(allowed);
        }
        expect(allowed).toBeLessThanOrEqual(7);
        for (const n of perUser.values()) expect(n).toBeLessThanOrEqual(3);
      }),
    );
  });
});
