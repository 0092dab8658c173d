/**
 * In-process limiter: exact for one process, and the stand-in while Redis is unreachable. All
 * state is a Map of counters, each two short arrays of live buckets (windows.ts); checks are
 * synchronous underneath, so a check-and-count can never interleave with another.
 */
import { decide } from './decision.js';
import { applicableRules, counterKey } from './subjects.js';
import type { LimitDecision, LimitRule, LimitSubject, Limiter } from './types.js';
import { addTo, bucketExpiresAt, hasRoom, retryAfterS, usedIn, WINDOW_GEOMETRY, type Buckets } from './windows.js';

interface Counter extends Buckets {
  /** When the newest bucket leaves the window; after that the counter holds nothing. */
  idleAt: number;
}

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
  /** Insertion order doubles as recency: a touched counter is moved to the end. */
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
    this.maybeSweep(now);
    const applicable = applicableRules(rules, subject);
    const keys = applicable.map((r) => counterKey(r, subject));
    const used: number[] = [];
    const retry: (number | null)[] = [];
    for (let i = 0; i < applicable.length; i++) {
      const rule = applicable[i]!;
      const g = WINDOW_GEOMETRY[rule.window];
      const c = this.counters.get(keys[i]!);
      const u = c ? usedIn(c, now, g) : 0;
      used.push(u);
      retry.push(hasRoom(rule.dimension, u, rule.limit) ? null : retryAfterS(c ?? { idx: [], val: [] }, now, g, rule.dimension, rule.limit));
    }
    const decision = decide(applicable, used, retry);
    if (decision.allowed) {
      for (let i = 0; i < applicable.length; i++) {
        if (applicable[i]!.dimension === 'requests') this.add(keys[i]!, applicable[i]!, now, 1);
      }
    }
    return decision;
  }

  chargeNow(rules: readonly LimitRule[], subject: LimitSubject, usage: { tokens: number; costUsd: number }, now: number): void {
    this.maybeSweep(now);
    for (const rule of applicableRules(rules, subject)) {
      const amount = rule.dimension === 'tokens' ? usage.tokens : rule.dimension === 'cost_usd' ? usage.costUsd : 0;
      // NaN or a negative figure from a confused upstream must not corrupt or refund a budget.
      if (amount > 0 && Number.isFinite(amount)) this.add(counterKey(rule, subject), rule, now, amount);
    }
  }

  private add(key: string, rule: LimitRule, now: number, amount: number): void {
    const g = WINDOW_GEOMETRY[rule.window];
    let c = this.counters.get(key);
    if (c) this.counters.delete(key);
    else c = { idx: [], val: [], idleAt: 0 };
    addTo(c, now, g, amount);
    c.idleAt = bucketExpiresAt(c.idx[c.idx.length - 1]!, g);
    this.counters.set(key, c);
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

