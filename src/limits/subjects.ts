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
export function applicableRules(rules: readonly LimitRule[], subject: LimitSubject): readonly LimitRule[] {
  const applies = (r: LimitRule) => r.tenantId === subject.tenantId && (r.agentId === null || r.agentId === subject.agentId);
  // The proxy passes rules it has already filtered, and each limiter filters again: no copy then.
  return rules.every(applies) ? rules : rules.filter(applies);
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
  const who = subjectId(rule.scope, subject);
  const last = LAST_KEY.get(rule);
  // The key's other parts are checked too, in case a caller reuses a rule object edited in place.
  if (last && last.who === who && last.prefix === prefix && last.id === rule.id && last.tenantId === rule.tenantId
    && last.scope === rule.scope && last.dimension === rule.dimension && last.window === rule.window) return last.key;
  const key = `${prefix}{${rule.tenantId}}:${rule.id}:${rule.dimension}:${rule.window}:${scopeSubject(rule.scope, subject)}`;
  LAST_KEY.set(rule, { who, prefix, id: rule.id, tenantId: rule.tenantId, scope: rule.scope, dimension: rule.dimension, window: rule.window, key });
  return key;
}

/**
 * Each rule's last key: a call's check and its charge name the same counters, and an agent's calls
 * mostly follow one another, so most keys are found here instead of being built (and collected)
 * twice a call. Held weakly: a rule dropped by a configuration reload takes its entry with it.
 */
const LAST_KEY = new WeakMap<LimitRule, { who: string | null; prefix: string; key: string } & Pick<LimitRule, 'id' | 'tenantId' | 'scope' | 'dimension' | 'window'>>();

/** What tells subjects apart under a scope, as it stands in the subject (no string built). */
function subjectId(scope: LimitScope, subject: LimitSubject): string | null {
  switch (scope) {
    case 'per_agent':
      return subject.agentId;
    case 'per_user':
      // Null and empty share the anonymous bucket, so they share its key.
      return subject.user === null || subject.user === '' ? null : subject.user;
    case 'per_tenant':
      return '';
    case 'per_key':
      return subject.keyId;
  }
}
