/**
 * Who a call is counted for under each rule, and where that count lives. Pure, and shared by both
 * limiters so that a counter has the same name in memory and in Redis.
 */
import type { LimitRule, LimitScope, LimitSubject } from './types.js';

/**
 * The rules that apply to this call: the tenant's own, either tenant-wide (agentId null) or
 * written for this very agent. Limiters filter with it themselves, so the proxy may hand them a
 * tenant's whole list.
 */
export function applicableRules(rules: readonly LimitRule[], subject: LimitSubject): LimitRule[] {
  return rules.filter((r) => r.tenantId === subject.tenantId && (r.agentId === null || r.agentId === subject.agentId));
}

/**
 * Calls without X-RenLayer-User share this one bucket under a per-user rule. Giving each of them
 * a fresh bucket (or none) would let an agent escape a per-user limit by leaving the header out;
 * sharing one makes omitting it the most limited choice instead.
 */
export const ANONYMOUS_USER = '-';

/**
 * The part of the counter key that tells subjects apart under a scope. A named user is prefixed so
 * that a user literally called "-" is not the anonymous bucket.
 */
export function scopeSubject(scope: LimitScope, subject: LimitSubject): string {
  switch (scope) {
    case 'per_agent':
      return `a:${subject.agentId}`;
    case 'per_user':
      return subject.user === null || subject.user === '' ? ANONYMOUS_USER : `u:${subject.user}`;
    case 'per_tenant':
      return 't';
    case 'per_key':
      return `k:${subject.keyId}`;
  }
}

export const DEFAULT_KEY_PREFIX = 'rl:';

/**
 * `rl:{<tenant>}:<rule>:<dimension>:<window>:<subject>`. The braces are a Redis Cluster hash tag:
 * a tenant's counters share one slot, so one script can check all the rules of a call
 * atomically. Dimension and window are part of the name because a rule edited to count something
 * else, or over another window, must not read counts (or bucket sizes) meant for the old shape:
 * it starts from zero instead. Tenant ids are generated (no braces), so the tenant's tag is always
 * the first one, whatever a user header holds.
 */
export function counterKey(rule: LimitRule, subject: LimitSubject, prefix: string = DEFAULT_KEY_PREFIX): string {
  return `${prefix}{${rule.tenantId}}:${rule.id}:${rule.dimension}:${rule.window}:${scopeSubject(rule.scope, subject)}`;
}
