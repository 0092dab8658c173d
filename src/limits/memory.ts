/**
 * In-process limiter: exact for one process, and the stand-in while Redis is unreachable. All
 * state is a Map of counters, each two short arrays of live buckets (windows.ts); checks are
 * synchronous underneath, so a check-and-count can never interleave with another.
 */
import { decide } from './decision.js';
import { applicableRules, counterKey } from './subjects.js';
import type { LimitDecision, LimitDimension, LimitRule, LimitSubject, LimitWindow, Limiter } from './types.js';
import { addTo, bucketExpiresAt, hasRoom, retryAfterS, usedIn, WINDOW_GEOMETRY, type Buckets } from './windows.js';

/** A counter a check reads, with the shape of its rule: all the primary needs of a worker's check. */
export interface CounterRef {
  key: string;
  window: LimitWindow;
  dimension: LimitDimension;
  limit: number;
}

export function counterRef(rule: LimitRule, subject: LimitSubject): CounterRef {
  return { key: counterKey(rule, subject), window: rule.window, dimension: rule.dimension, limit: rule.limit };
}

/** An amount for one counter: [key, window, amount]. */
export type Charge = [key: string, window: LimitWindow, amount: number];

/** The charges a call's usage makes under its (applicable) token and cost rules. */
export function chargesFor(rules: readonly LimitRule[], subject: LimitSubject, usage: { tokens: number; costUsd: number }): Charge[] {
  const out: Charge[] = [];
  for (const rule of rules) {
    const amount = rule.dimension === 'tokens' ? usage.tokens : rule.dimension === 'cost_usd' ? usage.costUsd : 0;
    // NaN or a negative figure from a confused upstream must not corrupt or refund a budget.
    if (amount > 0 && Number.isFinite(amount)) out.push([counterKey(rule, subject), rule.window, amount]);
  }
  return out;
}

interface Counter extends Buckets {
  /** When the newest bucket leaves the window; after that the counter holds nothing. */
  idleAt: number;
  /** When the counter was last moved to the end of the recency order. */
  movedAt: number;
}

/**
 * A touched counter moves to the end of the recency order at most this often. Moving it is a
 * delete and a set, and a Map that sees them on every call rebuilds its table every few calls;
 * "least recently used" to the second is all that eviction needs.
 */
const RECENCY_MS = 1_000;

export interface MemoryLimiterOptions {
  /**
   * Most counters kept. Idle counters are dropped first; past this bound (a flood of distinct
   * X-RenLayer-User values, say) the least recently used are forgotten, so memory stays bounded
   * at the cost of those subjects starting afresh.
   */
  maxCounters?: number;
  /** How often (in the callers' time) expired counters are swept out. */
  sweepEveryMs?: number;
}

export class MemoryLimiter implements Limiter {
  readonly mode = 'local' as const;
  /** Insertion order doubles as recency: a touched counter is moved to the end (at most once a second). */
  private readonly counters = new Map<string, Counter>();
  private readonly maxCounters: number;
  private readonly sweepEveryMs: number;
  private lastSweep = -Infinity;

  constructor(opts: MemoryLimiterOptions = {}) {
    this.maxCounters = opts.maxCounters ?? 1_000_000;
    this.sweepEveryMs = opts.sweepEveryMs ?? 60_000;
  }

  /** Counters held now (for tests and metrics). */
  get size(): number {
    return this.counters.size;
  }

  async check(rules: readonly LimitRule[], subject: LimitSubject, now: number = Date.now()): Promise<LimitDecision> {
    return this.checkNow(rules, subject, now);
  }

  async charge(rules: readonly LimitRule[], subject: LimitSubject, usage: { tokens: number; costUsd: number }, now: number = Date.now()): Promise<void> {
    this.chargeNow(rules, subject, usage, now);
  }

  async close(): Promise<void> {
    this.counters.clear();
  }

  /** The synchronous check: decide on every rule first, count only when all of them pass. */
  checkNow(rules: readonly LimitRule[], subject: LimitSubject, now: number): LimitDecision {
    const applicable = applicableRules(rules, subject);
    const { used, retry } = this.countNow(applicable.map((r) => counterRef(r, subject)), now);
    return decide(applicable, used, retry);
  }

  /**
   * What each counter has used before this call and, where it has no room, the seconds until it
   * has; when every one has room, the `requests` counters count the call. `decide` turns this
   * into the answer (here, or in a worker that asked the primary with the counters alone).
   */
  countNow(refs: readonly CounterRef[], now: number): { used: number[]; retry: (number | null)[] } {
    this.maybeSweep(now);
    const used: number[] = [];
    const retry: (number | null)[] = [];
    let room = true;
    for (const ref of refs) {
      const g = WINDOW_GEOMETRY[ref.window];
      const c = this.counters.get(ref.key);
      const u = c ? usedIn(c, now, g) : 0;
      used.push(u);
      const wait = hasRoom(ref.dimension, u, ref.limit) ? null : retryAfterS(c ?? { idx: [], val: [] }, now, g, ref.dimension, ref.limit);
      retry.push(wait);
      if (wait !== null) room = false;
    }
    if (room) for (const ref of refs) if (ref.dimension === 'requests') this.add(ref.key, ref.window, now, 1);
    return { used, retry };
  }

  chargeNow(rules: readonly LimitRule[], subject: LimitSubject, usage: { tokens: number; costUsd: number }, now: number): void {
    this.addNow(chargesFor(applicableRules(rules, subject), subject, usage), now);
  }

  /** Adds each amount to its counter. */
  addNow(charges: readonly Charge[], now: number): void {
    this.maybeSweep(now);
    for (const [key, window, amount] of charges) this.add(key, window, now, amount);
  }

  private add(key: string, window: LimitWindow, now: number, amount: number): void {
    const g = WINDOW_GEOMETRY[window];
    let c = this.counters.get(key);
    if (c && Math.abs(now - c.movedAt) >= RECENCY_MS) {
      this.counters.delete(key);
      this.counters.set(key, c);
      c.movedAt = now;
    } else if (!c) {
      c = { idx: [], val: [], idleAt: 0, movedAt: now };
      this.counters.set(key, c);
    }
    addTo(c, now, g, amount);
    c.idleAt = bucketExpiresAt(c.idx[c.idx.length - 1]!, g);
    if (this.counters.size > this.maxCounters) this.evict(now);
  }

  private maybeSweep(now: number): void {
    if (now - this.lastSweep < this.sweepEveryMs) return;
    this.lastSweep = now;
    for (const [key, c] of this.counters) if (c.idleAt <= now) this.counters.delete(key);
  }

  /** Over the bound: drop what is idle, then the least recently touched, down to 90 %. */
  private evict(now: number): void {
    this.lastSweep = -Infinity;
    this.maybeSweep(now);
    const target = Math.floor(this.maxCounters * 0.9);
    for (const key of this.counters.keys()) {
      if (this.counters.size <= target) break;
      this.counters.delete(key);
    }
  }
}

