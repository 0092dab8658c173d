/**
 * Rate limits and budgets (SPEC §7): what a limit is, whom a call is counted for, and what the
 * proxy asks of a limiter. Two limiters implement it: in-process (one instance) and Redis (a
 * fleet, one atomic script per check).
 */
export type LimitScope = 'per_agent' | 'per_user' | 'per_tenant' | 'per_key';
export type LimitDimension = 'requests' | 'tokens' | 'cost_usd';
export type LimitWindow = 'minute' | 'hour' | 'day' | 'month';

export const LIMIT_SCOPES: readonly LimitScope[] = ['per_agent', 'per_user', 'per_tenant', 'per_key'];
export const LIMIT_DIMENSIONS: readonly LimitDimension[] = ['requests', 'tokens', 'cost_usd'];
export const LIMIT_WINDOWS: readonly LimitWindow[] = ['minute', 'hour', 'day', 'month'];

/** One configured limit (a row of renlayer.rate_limits). */
export interface LimitRule {
  id: string;
  tenantId: string;
  /** null: applies to every agent of the tenant. */
  agentId: string | null;
  name: string | null;
  scope: LimitScope;
  dimension: LimitDimension;
  window: LimitWindow;
  /** Requests, tokens, or US dollars per window. */
  limit: number;
}

/** Whom a call is counted for. */
export interface LimitSubject {
  tenantId: string;
  agentId: string;
  keyId: string;
  /**
   * X-RenLayer-User. Under a per_user rule, calls without it (null or empty) share one anonymous
   * bucket (for a tenant-wide rule, across all the tenant's agents), so leaving the header out is
   * never a way around a per-user limit.
   */
  user: string | null;
}

/** Where one rule stands for one call, as the trace records it. */
export interface LimitState {
  ruleId: string;
  scope: LimitScope;
  dimension: LimitDimension;
  window: LimitWindow;
  limit: number;
  /** Used in the sliding window, this call included when it was counted. */
  used: number;
}

export interface LimitBreach extends LimitState {
  /** Whole seconds until the window has room again (at least 1). */
  retryAfterS: number;
}

export type LimitDecision =
  | { allowed: true; states: LimitState[] }
  | { allowed: false; breach: LimitBreach; states: LimitState[] };

/**
 * Both methods consider only the rules that apply to the subject (same tenant; agentId null or the
 * subject's agent), so a caller may pass a tenant's whole list. `now` is milliseconds since the
 * epoch; omitted, the limiter's own clock decides (the Redis server's clock for a fleet, so that
 * proxies with skewed clocks still share one window). Tests pass it explicitly.
 */
export interface Limiter {
  /**
   * Checks every rule for the subject, atomically: when all pass, each `requests` rule counts
   * this call; when any fails, nothing is counted. `tokens` and `cost_usd` rules pass while what
   * is already used is below the limit (the call's own usage is charged when it ends).
   */
  check(rules: readonly LimitRule[], subject: LimitSubject, now?: number): Promise<LimitDecision>;
  /** Adds a finished call's real usage to the `tokens` and `cost_usd` rules. Never throws. */
  charge(rules: readonly LimitRule[], subject: LimitSubject, usage: { tokens: number; costUsd: number }, now?: number): Promise<void>;
  /** 'redis', 'local' (no Redis configured), or 'fallback' (Redis configured but unreachable). */
  readonly mode: 'redis' | 'local' | 'fallback';
  close(): Promise<void>;
}
