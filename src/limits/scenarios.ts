/**
 * What every Limiter must do, written as data: timed checks and charges and the answers they
 * must get. The in-process and the Redis limiter's test suites both replay this table, so the two
 * cannot drift apart — and an operator can read here, in one place, what a limit means.
 *
 * Times are seconds after 2025-01-01T00:00:00Z, a boundary of every bucket size.
 */
import type { LimitDecision, LimitDimension, LimitRule, LimitScope, LimitSubject, LimitWindow, Limiter } from './types.js';

export const SCENARIO_EPOCH_MS = Date.UTC(2025, 0, 1);

export interface ScenarioRule {
  id: string;
  /** Omitted: tenant-wide. */
  agentId?: string;
  scope: LimitScope;
  dimension: LimitDimension;
  window: LimitWindow;
  limit: number;
}

/** Who calls; omitted fields default to agent `agt_1`, key `key_1`, no X-RenLayer-User. */
export interface Caller {
  agent?: string;
  key?: string;
  user?: string | null;
}

export interface CheckStep {
  at: number;
  /** The same check this many times in a row (default 1), each expecting the same answer. */
  times?: number;
  check: Caller;
  expect: 'allowed' | 'denied';
  /** For a denial: the rule reported and its Retry-After. */
  breach?: { ruleId: string; retryAfterS: number };
  /** Every applicable rule's `used` after the (last) check, by rule id, as the trace records it. */
  used?: Record<string, number>;
}

export interface ChargeStep {
  at: number;
  charge: Caller & { tokens?: number; costUsd?: number };
}

export type Step = CheckStep | ChargeStep;

export interface Scenario {
  name: string;
  rules: ScenarioRule[];
  steps: Step[];
}

const perAgent = (id: string, limit: number, window: LimitWindow = 'minute'): ScenarioRule => ({ id, scope: 'per_agent', dimension: 'requests', window, limit });

export const LIMITER_SCENARIOS: readonly Scenario[] = [
  {
    name: 'no burst at the window edge: 100 calls at 59 s fill the minute until their bucket leaves it',
    rules: [perAgent('r', 100)],
    steps: [
      { at: 59, times: 100, check: {}, expect: 'allowed', used: { r: 100 } },
      { at: 61, check: {}, expect: 'denied', breach: { ruleId: 'r', retryAfterS: 59 }, used: { r: 100 } },
      { at: 119.5, check: {}, expect: 'denied', breach: { ruleId: 'r', retryAfterS: 1 } },
      { at: 120, check: {}, expect: 'allowed', used: { r: 1 } },
    ],
  },
  {
    name: 'retry-after counts down to the moment the oldest bucket leaves',
    rules: [perAgent('r', 3)],
    steps: [
      { at: 10, check: {}, expect: 'allowed' },
      { at: 20, check: {}, expect: 'allowed' },
      { at: 30, check: {}, expect: 'allowed', used: { r: 3 } },
      { at: 40, check: {}, expect: 'denied', breach: { ruleId: 'r', retryAfterS: 31 } },
      { at: 70.5, check: {}, expect: 'denied', breach: { ruleId: 'r', retryAfterS: 1 } },
      { at: 71, check: {}, expect: 'allowed', used: { r: 3 } },
      { at: 72, check: {}, expect: 'denied', breach: { ruleId: 'r', retryAfterS: 9 } },
    ],
  },
  {
    name: 'all or nothing: a call refused by one rule is counted by none',
    rules: [perAgent('agent', 10), { id: 'user', scope: 'per_user', dimension: 'requests', window: 'minute', limit: 2 }],
    steps: [
      { at: 1, times: 2, check: { user: 'alice' }, expect: 'allowed', used: { agent: 2, user: 2 } },
      { at: 2, times: 3, check: { user: 'alice' }, expect: 'denied', breach: { ruleId: 'user', retryAfterS: 60 }, used: { agent: 2, user: 2 } },
      { at: 3, check: { user: 'bob' }, expect: 'allowed', used: { agent: 3, user: 1 } },
    ],
  },
  {
    name: 'limits stack: per-user room does not help once the agent is full',
    rules: [{ id: 'user', scope: 'per_user', dimension: 'requests', window: 'minute', limit: 5 }, perAgent('agent', 3)],
    steps: [
      { at: 1, times: 2, check: { user: 'alice' }, expect: 'allowed' },
      { at: 2, check: { user: 'bob' }, expect: 'allowed', used: { user: 1, agent: 3 } },
      { at: 3, check: { user: 'carol' }, expect: 'denied', breach: { ruleId: 'agent', retryAfterS: 59 }, used: { user: 0, agent: 3 } },
    ],
  },
  {
    name: 'calls without X-RenLayer-User share one anonymous bucket',
    rules: [{ id: 'user', scope: 'per_user', dimension: 'requests', window: 'minute', limit: 2 }],
    steps: [
      { at: 1, check: { user: null }, expect: 'allowed' },
      { at: 1, check: { user: null, agent: 'agt_2', key: 'key_2' }, expect: 'allowed', used: { user: 2 } },
      { at: 2, check: { user: null }, expect: 'denied', breach: { ruleId: 'user', retryAfterS: 60 } },
      { at: 2, check: { user: '' }, expect: 'denied' },
      { at: 2, check: { user: '-' }, expect: 'allowed', used: { user: 1 } },
      { at: 2, check: { user: 'alice' }, expect: 'allowed', used: { user: 1 } },
    ],
  },
  {
    name: 'a rule written for one agent leaves the others alone',
    rules: [{ id: 'mine', agentId: 'agt_1', scope: 'per_agent', dimension: 'requests', window: 'minute', limit: 1 }],
    steps: [
      { at: 1, check: {}, expect: 'allowed', used: { mine: 1 } },
      { at: 2, check: {}, expect: 'denied' },
      { at: 3, times: 5, check: { agent: 'agt_2' }, expect: 'allowed', used: {} },
    ],
  },
  {
    name: 'per-key and per-tenant scopes count their own subjects',
    rules: [
      { id: 'key', scope: 'per_key', dimension: 'requests', window: 'hour', limit: 2 },
      { id: 'tenant', scope: 'per_tenant', dimension: 'requests', window: 'hour', limit: 3 },
    ],
    steps: [
      { at: 1, times: 2, check: { key: 'key_1' }, expect: 'allowed' },
      { at: 2, check: { key: 'key_1' }, expect: 'denied', breach: { ruleId: 'key', retryAfterS: 3660 - 2 } },
      { at: 3, check: { key: 'key_2', agent: 'agt_2' }, expect: 'allowed', used: { key: 1, tenant: 3 } },
      { at: 4, check: { key: 'key_3', agent: 'agt_3' }, expect: 'denied', breach: { ruleId: 'tenant', retryAfterS: 3660 - 4 } },
    ],
  },
  {
    name: 'tokens: checked before the call against what is used, charged when it ends',
    rules: [{ id: 'tok', scope: 'per_agent', dimension: 'tokens', window: 'minute', limit: 1000 }],
    steps: [
      { at: 0, check: {}, expect: 'allowed', used: { tok: 0 } },
      { at: 0.5, charge: { tokens: 900 } },
      { at: 1, check: {}, expect: 'allowed', used: { tok: 900 } },
      // The call in flight overshoots the budget: check-before cannot know its size.
      { at: 1.5, charge: { tokens: 900 } },
      { at: 2, check: {}, expect: 'denied', breach: { ruleId: 'tok', retryAfterS: 59 }, used: { tok: 1800 } },
      { at: 61, check: {}, expect: 'allowed', used: { tok: 900 } },
    ],
  },
  {
    name: 'cost: a daily budget in dollars, and charges touch only token and cost rules',
    rules: [
      { id: 'usd', scope: 'per_tenant', dimension: 'cost_usd', window: 'day', limit: 1 },
      perAgent('req', 100, 'day'),
    ],
    steps: [
      { at: 0, charge: { costUsd: 0.75, tokens: 5000 } },
      { at: 10, check: {}, expect: 'allowed', used: { usd: 0.75, req: 1 } },
      { at: 20, charge: { costUsd: 0.5 } },
      // Both charges sit in the first 15-minute bucket, which leaves after a day and a bucket.
      { at: 3600, check: {}, expect: 'denied', breach: { ruleId: 'usd', retryAfterS: 86_400 + 900 - 3600 }, used: { usd: 1.25, req: 1 } },
      { at: 86_400 + 900, check: {}, expect: 'allowed', used: { usd: 0, req: 1 } },
    ],
  },
  {
    name: 'of several breaches, the longest is reported so Retry-After is honest',
    rules: [perAgent('min', 1), perAgent('hour', 1, 'hour')],
    steps: [
      { at: 0, check: {}, expect: 'allowed' },
      { at: 30, check: {}, expect: 'denied', breach: { ruleId: 'hour', retryAfterS: 3660 - 30 }, used: { min: 1, hour: 1 } },
    ],
  },
  {
    name: 'month is a rolling 30 days counted in days',
    rules: [perAgent('m', 2, 'month')],
    steps: [
      { at: 0, check: {}, expect: 'allowed' },
      { at: 15 * 86_400, check: {}, expect: 'allowed' },
      { at: 30 * 86_400, check: {}, expect: 'denied', breach: { ruleId: 'm', retryAfterS: 86_400 } },
      { at: 31 * 86_400, check: {}, expect: 'allowed', used: { m: 2 } },
    ],
  },
];

function subjectOf(tenantId: string, c: Caller): LimitSubject {
  return { tenantId, agentId: c.agent ?? 'agt_1', keyId: c.key ?? 'key_1', user: c.user === undefined ? null : c.user };
}

function rulesOf(tenantId: string, s: Scenario): LimitRule[] {
  return s.rules.map((r) => ({ ...r, tenantId, agentId: r.agentId ?? null, name: null }));
}

/**
 * Replays a scenario against a limiter under a tenant id of the caller's choosing (unique per run,
 * so runs sharing one Redis never meet) and returns every difference from what it expects, in
 * words; an empty list is a pass. Amounts are compared to nine decimals: Redis adds fractional
 * costs in long double, this process in double.
 */
export async function replayScenario(limiter: Limiter, s: Scenario, tenantId: string): Promise<string[]> {
  const rules = rulesOf(tenantId, s);
  const problems: string[] = [];
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  for (const [n, step] of s.steps.entries()) {
    const now = SCENARIO_EPOCH_MS + step.at * 1000;
    if ('charge' in step) {
      await limiter.charge(rules, subjectOf(tenantId, step.charge), { tokens: step.charge.tokens ?? 0, costUsd: step.charge.costUsd ?? 0 }, now);
      continue;
    }
    const where = `step ${n} (t=${step.at}s)`;
    let d: LimitDecision | undefined;
    for (let i = 0; i < (step.times ?? 1); i++) {
      d = await limiter.check(rules, subjectOf(tenantId, step.check), now);
      if ((step.expect === 'allowed') !== d.allowed) problems.push(`${where} #${i + 1}: expected ${step.expect}, got ${d.allowed ? 'allowed' : `denied by ${d.breach.ruleId}`}`);
    }
    if (!d) continue;
    if (step.breach) {
      const got = d.allowed ? null : { ruleId: d.breach.ruleId, retryAfterS: d.breach.retryAfterS };
      if (!got || got.ruleId !== step.breach.ruleId || got.retryAfterS !== step.breach.retryAfterS) {
        problems.push(`${where}: expected breach ${JSON.stringify(step.breach)}, got ${JSON.stringify(got)}`);
      }
      if (got && !d.allowed && d.breach.used !== d.states.find((x) => x.ruleId === got.ruleId)?.used) problems.push(`${where}: breach and state disagree on used`);
    }
    if (step.used) {
      const got = Object.fromEntries(d.states.map((x) => [x.ruleId, x.used]));
      const same = Object.keys(got).length === Object.keys(step.used).length && Object.entries(step.used).every(([id, v]) => got[id] !== undefined && near(got[id], v));
      if (!same) problems.push(`${where}: expected used ${JSON.stringify(step.used)}, got ${JSON.stringify(got)}`);
    }
  }
  return problems;
}
