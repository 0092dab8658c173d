import { describe, expect, it } from 'vitest';
import { applicableRules, counterKey } from './subjects.js';
import type { LimitRule, LimitSubject } from './types.js';
import { addTo, bucketOf, hasRoom, retryAfterS, usedIn, WINDOW_GEOMETRY, type Buckets } from './windows.js';

// 2025-01-01T00:00:00Z: a multiple of every bucket size, so scenario times read as offsets.
const T0 = Date.UTC(2025, 0, 1);
const s = (sec: number) => T0 + sec * 1000;
const minute = WINDOW_GEOMETRY.minute;

describe('window geometry', () => {
  it('splits each window into the documented buckets', () => {
    expect(WINDOW_GEOMETRY.minute).toEqual({ bucketMs: 1000, buckets: 60, windowMs: 60_000 });
    expect(WINDOW_GEOMETRY.hour).toEqual({ bucketMs: 60_000, buckets: 60, windowMs: 3_600_000 });
    expect(WINDOW_GEOMETRY.day).toEqual({ bucketMs: 900_000, buckets: 96, windowMs: 86_400_000 });
    expect(WINDOW_GEOMETRY.month).toEqual({ bucketMs: 86_400_000, buckets: 30, windowMs: 30 * 86_400_000 });
  });
});

describe('sliding window', () => {
  it('counts a bucket until the window has entirely left it', () => {
    const b: Buckets = { idx: [], val: [] };
    addTo(b, s(59.5), minute, 100);
    expect(usedIn(b, s(61), minute)).toBe(100);
    expect(usedIn(b, s(119.999), minute)).toBe(100);
    expect(usedIn(b, s(120), minute)).toBe(0);
  });

  it('sums every bucket in the window and drops the expired ones when adding', () => {
    const b: Buckets = { idx: [], val: [] };
    for (let t = 0; t < 90; t += 10) addTo(b, s(t), minute, 1);
    expect(usedIn(b, s(90), minute)).toBe(6); // buckets 30..90 hold the calls at 30, 40, …, 80
    expect(b.idx.length).toBe(7); // 20..80: adding at 80 dropped 0 and 10, reading trims nothing
    addTo(b, s(100), minute, 1);
    expect(b.idx).toEqual([40, 50, 60, 70, 80, 100].map((x) => bucketOf(s(x), minute)));
  });

  it('keeps the buckets in order when a clock steps back', () => {
    const b: Buckets = { idx: [], val: [] };
    addTo(b, s(10), minute, 1);
    addTo(b, s(12), minute, 1);
    addTo(b, s(11), minute, 5);
    addTo(b, s(12), minute, 1);
    expect(b.val).toEqual([1, 5, 2]);
    expect(usedIn(b, s(12), minute)).toBe(8);
  });
});

describe('room and retry-after', () => {
  it('needs room for one more request, but only an unspent budget for tokens and cost', () => {
    expect(hasRoom('requests', 99, 100)).toBe(true);
    expect(hasRoom('requests', 100, 100)).toBe(false);
    expect(hasRoom('tokens', 99_999, 100_000)).toBe(true);
    expect(hasRoom('tokens', 100_000, 100_000)).toBe(false);
    expect(hasRoom('cost_usd', 4.99, 5)).toBe(true);
  });

  it('answers when enough of the oldest buckets have left', () => {
    const b: Buckets = { idx: [], val: [] };
    addTo(b, s(10), minute, 50);
    addTo(b, s(30), minute, 50);
    // Full at t=40: the bucket of t=10 leaves at 71 s, which frees 50.
    expect(retryAfterS(b, s(40), minute, 'requests', 100)).toBe(31);
    // A limit of 60 too: with the first gone, 50 + 1 ≤ 60.
    expect(retryAfterS(b, s(40), minute, 'requests', 60)).toBe(31);
    // A limit of 40 needs both buckets gone: the one of t=30 leaves at 91 s.
    expect(retryAfterS(b, s(40.2), minute, 'requests', 40)).toBe(51);
  });

  it('is whole seconds rounded up and at least one', () => {
    const b: Buckets = { idx: [], val: [] };
    addTo(b, s(10), minute, 5);
    expect(retryAfterS(b, s(70.9), minute, 'requests', 5)).toBe(1);
    expect(retryAfterS(b, s(70.001), minute, 'requests', 5)).toBe(1);
    expect(retryAfterS(b, s(69.5), minute, 'requests', 5)).toBe(2);
  });

  it('answers in hours for a day window', () => {
    const b: Buckets = { idx: [], val: [] };
    addTo(b, s(0), WINDOW_GEOMETRY.day, 500);
    // The first 15-minute bucket leaves one day and one bucket later.
    expect(retryAfterS(b, s(3600), WINDOW_GEOMETRY.day, 'cost_usd', 500)).toBe(86_400 + 900 - 3600);
  });
});

describe('subjects and keys', () => {
  const rule = (over: Partial<LimitRule>): LimitRule => ({
    id: 'rl_1',
    tenantId: 'ten_a',
    agentId: null,
    name: null,
    scope: 'per_user',
    dimension: 'requests',
    window: 'minute',
    limit: 10,
    ...over,
  });
  const subject: LimitSubject = { tenantId: 'ten_a', agentId: 'agt_1', keyId: 'key_1', user: 'alice' };

  it('hash-tags the tenant and names the subject of each scope', () => {
    expect(counterKey(rule({}), subject)).toBe('rl:{ten_a}:rl_1:requests:minute:u:alice');
    expect(counterKey(rule({}), { ...subject, user: null })).toBe('rl:{ten_a}:rl_1:requests:minute:-');
    expect(counterKey(rule({}), { ...subject, user: '-' })).toBe('rl:{ten_a}:rl_1:requests:minute:u:-');
    expect(counterKey(rule({ scope: 'per_agent' }), subject)).toBe('rl:{ten_a}:rl_1:requests:minute:a:agt_1');
    expect(counterKey(rule({ scope: 'per_tenant' }), subject)).toBe('rl:{ten_a}:rl_1:requests:minute:t');
    expect(counterKey(rule({ scope: 'per_key', window: 'day', dimension: 'tokens' }), subject)).toBe('rl:{ten_a}:rl_1:tokens:day:k:key_1');
    expect(counterKey(rule({}), { ...subject, user: '{x}' }, 'p:')).toBe('p:{ten_a}:rl_1:requests:minute:u:{x}');
  });

  it('names the right counter when one rule serves subjects in turn, and after the rule is edited', () => {
    const r = rule({});
    for (const user of ['alice', 'bob', 'alice', null, '', '-', 'bob']) {
      expect(counterKey(r, { ...subject, user })).toBe(`rl:{ten_a}:rl_1:requests:minute:${user === null || user === '' ? '-' : `u:${user}`}`);
    }
    const agents = rule({ scope: 'per_agent' });
    expect(counterKey(agents, subject)).toBe('rl:{ten_a}:rl_1:requests:minute:a:agt_1');
    expect(counterKey(agents, { ...subject, agentId: 'agt_2' })).toBe('rl:{ten_a}:rl_1:requests:minute:a:agt_2');
    expect(counterKey(agents, subject, 'p:')).toBe('p:{ten_a}:rl_1:requests:minute:a:agt_1');
    // A rule object changed in place (a test, a caller that reuses it) is named as it now stands.
    Object.assign(agents, { window: 'hour', dimension: 'tokens' });
    expect(counterKey(agents, subject)).toBe('rl:{ten_a}:rl_1:tokens:hour:a:agt_1');
    Object.assign(agents, { scope: 'per_key', id: 'rl_2' });
    expect(counterKey(agents, subject)).toBe('rl:{ten_a}:rl_2:tokens:hour:k:key_1');
  });

  it('applies a tenant-wide rule to every agent and an agent rule to that agent only', () => {
    const rules = [rule({ id: 'all' }), rule({ id: 'mine', agentId: 'agt_1' }), rule({ id: 'other', agentId: 'agt_2' }), rule({ id: 'foreign', tenantId: 'ten_b' })];
    expect(applicableRules(rules, subject).map((r) => r.id)).toEqual(['all', 'mine']);
    expect(applicableRules(rules, { ...subject, agentId: 'agt_2' }).map((r) => r.id)).toEqual(['all', 'other']);
  });
});
