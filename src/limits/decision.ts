/**
 * Turns what each rule has used into the answer the proxy and the trace see. Both limiters end in
 * it, so they report breaches and states identically.
 */
import type { LimitBreach, LimitDecision, LimitRule, LimitState } from './types.js';

function state(rule: LimitRule, used: number): LimitState {
  return { ruleId: rule.id, scope: rule.scope, dimension: rule.dimension, window: rule.window, limit: rule.limit, used };
}

/**
 * `used[i]` is rule i's amount before this call; `retryS[i]` is null when rule i has room, else
 * the seconds until it has. When every rule has room the call was counted, so request rules show
 * it in `used`. Of several breaches the one that lasts longest is reported: its Retry-After is
 * the earliest moment the call can pass all of them (ties: the first rule).
 */
export function decide(rules: readonly LimitRule[], used: readonly number[], retryS: readonly (number | null)[]): LimitDecision {
  let worst = -1;
  for (let i = 0; i < rules.length; i++) {
    const r = retryS[i];
    if (r != null && (worst < 0 || r > retryS[worst]!)) worst = i;
  }
  if (worst < 0) {
    return { allowed: true, states: rules.map((rule, i) => state(rule, used[i]! + (rule.dimension === 'requests' ? 1 : 0))) };
  }
  const states = rules.map((rule, i) => state(rule, used[i]!));
  const breach: LimitBreach = { ...states[worst]!, retryAfterS: retryS[worst]! };
  return { allowed: false, breach, states };
}
