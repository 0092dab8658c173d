/**
 * Fleet limiter: every proxy of a gateway counts in one Redis, one atomic script per check and
 * per charge, so N replicas enforce a limit exactly as one would.
 *
 * Redis is on the hot path, so it must never be the reason a call waits or fails. Commands time
 * out fast (250 ms), nothing queues while disconnected, and whenever Redis cannot answer the call
 * is answered by an in-process MemoryLimiter instead: mode 'fallback', each proxy counting alone
 * (a fleet of N may then allow up to N times a limit — availability over exactness for the
 * length of an outage). When Redis answers again it is used again; what was counted locally in
 * between is not copied back (it would double-count calls the shared counters may already hold,
 * and the outage's calls age out of the windows on their own).
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { decide } from './decision.js';
import { MemoryLimiter, type MemoryLimiterOptions } from './memory.js';
import { CHARGE_SCRIPT, CHECK_SCRIPT } from './redis-scripts.js';
import { applicableRules, counterKey, DEFAULT_KEY_PREFIX } from './subjects.js';
import type { LimitDecision, LimitRule, LimitSubject, Limiter } from './types.js';
import { WINDOW_GEOMETRY } from './windows.js';

export type RedisLimiterMode = 'redis' | 'fallback';

export interface RedisLimiterOptions {
  /** redis:// or rediss:// URL; its password never reaches a log line. */
  url: string;
  log: Logger;
  /** Called on every switch between Redis and local counting, e.g. to set a gauge. */
  onModeChange?: (mode: RedisLimiterMode) => void;
  /** Longest wait for one script's answer before the call is answered locally. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Reconnection backs off exponentially from 50 ms up to this. */
  maxReconnectDelayMs?: number;
  /**
   * After a command failed on a connection that still looks alive (a timeout, a server error),
   * stay local this long before trying Redis again, so a slow Redis costs one timeout per
   * interval rather than one per call.
   */
  pauseAfterFailureMs?: number;
  /** Key prefix (tests use their own); default `rl:`. */
  keyPrefix?: string;
  local?: MemoryLimiterOptions;
}

type Arg = string | number;

/** The client with the two scripts defined on it (EVALSHA, loading the script on NOSCRIPT). */
type ScriptedRedis = Redis & {
  renlayerLimitCheck(numKeys: number, ...keysAndArgs: Arg[]): Promise<string[]>;
  renlayerLimitCharge(numKeys: number, ...keysAndArgs: Arg[]): Promise<number>;
};

/** Where Redis is, for logs: scheme, host, port and database — never user or password. */
export function describeRedisTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || '6379'}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return 'redis (unparseable URL)';
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class RedisLimiter implements Limiter {
  private readonly client: ScriptedRedis;
  private readonly local: MemoryLimiter;
  private readonly log: Logger;
  private readonly target: string;
  private readonly prefix: string;
  private readonly pauseAfterFailureMs: number;
  private readonly onModeChange: ((mode: RedisLimiterMode) => void) | undefined;
  private current: RedisLimiterMode = 'redis';
  private pausedUntil = 0;
  private closing = false;

  constructor(opts: RedisLimiterOptions) {
    this.log = opts.log;
    this.target = describeRedisTarget(opts.url);
    this.prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.pauseAfterFailureMs = opts.pauseAfterFailureMs ?? 1000;
    this.onModeChange = opts.onModeChange;
    this.local = new MemoryLimiter(opts.local);
    const maxDelay = opts.maxReconnectDelayMs ?? 2000;
    this.client = new Redis(opts.url, {
      commandTimeout: opts.commandTimeoutMs ?? 250,
      connectTimeout: opts.connectTimeoutMs ?? 1000,
      // Answer locally at once rather than queue behind a dead connection…
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // …and never replay a check after a reconnect: it was already answered locally.
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 16), maxDelay),
      lazyConnect: false,
    }) as ScriptedRedis;
    this.client.defineCommand('renlayerLimitCheck', { lua: CHECK_SCRIPT });
    this.client.defineCommand('renlayerLimitCharge', { lua: CHARGE_SCRIPT });
    this.client.on('ready', () => {
      this.pausedUntil = 0;
      this.setMode('redis');
    });
    // Without an 'error' listener ioredis would report every failed reconnection itself.
    this.client.on('error', (err: unknown) => this.setMode('fallback', messageOf(err)));
    this.client.on('close', () => this.setMode('fallback', 'connection closed'));
  }

  get mode(): RedisLimiterMode {
    return this.current;
  }

  /** Resolves true once connected (false after timeoutMs): lets a server start on Redis, not on its fallback. */
  async ready(timeoutMs = 2000): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.client.on('ready', onReady);
    });
  }

  async check(rules: readonly LimitRule[], subject: LimitSubject, now?: number): Promise<LimitDecision> {
    const applicable = applicableRules(rules, subject);
    if (applicable.length === 0) return { allowed: true, states: [] };
    if (this.usable()) {
      try {
        const keys = applicable.map((r) => counterKey(r, subject, this.prefix));
        const args: Arg[] = [now === undefined ? '' : String(now)];
        for (const r of applicable) {
          const g = WINDOW_GEOMETRY[r.window];
          args.push(r.dimension === 'requests' ? 'r' : 'u', String(r.limit), g.bucketMs, g.buckets);
        }
        const reply = await this.client.renlayerLimitCheck(keys.length, ...keys, ...args);
        this.succeeded();
        const breach = Number(reply[0]);
        const used = applicable.map((_, i) => Number(reply[2 + i]));
        const retry = applicable.map((_, i) => (i + 1 === breach ? Number(reply[1]) : null));
        return decide(applicable, used, retry);
      } catch (err) {
        this.failed(err);
      }
    }
    return this.local.checkNow(applicable, subject, now ?? Date.now());
  }

  async charge(rules: readonly LimitRule[], subject: LimitSubject, usage: { tokens: number; costUsd: number }, now?: number): Promise<void> {
    try {
      const targets: { rule: LimitRule; amount: number }[] = [];
      for (const rule of applicableRules(rules, subject)) {
        const amount = rule.dimension === 'tokens' ? usage.tokens : rule.dimension === 'cost_usd' ? usage.costUsd : 0;
        if (amount > 0 && Number.isFinite(amount)) targets.push({ rule, amount });
      }
      if (targets.length === 0) return;
      if (this.usable()) {
        try {
          const args: Arg[] = [now === undefined ? '' : String(now)];
          for (const { rule, amount } of targets) {
            const g = WINDOW_GEOMETRY[rule.window];
            args.push(String(amount), g.bucketMs, g.buckets);
          }
          const keys = targets.map((t) => counterKey(t.rule, subject, this.prefix));
          await this.client.renlayerLimitCharge(keys.length, ...keys, ...args);
          this.succeeded();
          return;
        } catch (err) {
          this.failed(err);
        }
      }
      this.local.chargeNow(rules, subject, usage, now ?? Date.now());
    } catch (err) {
      // A charge is bookkeeping after the answer was sent: it must never fail the call.
      this.log.error({ reason: messageOf(err) }, 'rate limits: charging usage failed');
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
    await this.local.close();
  }

  private usable(): boolean {
    if (this.client.status === 'ready' && Date.now() >= this.pausedUntil) return true;
    this.setMode('fallback', `connection ${this.client.status}`);
    return false;
  }

  private succeeded(): void {
    if (this.current === 'fallback') this.setMode('redis');
  }

  private failed(err: unknown): void {
    this.pausedUntil = Date.now() + this.pauseAfterFailureMs;
    this.setMode('fallback', messageOf(err));
  }

  private setMode(next: RedisLimiterMode, reason?: string): void {
    if (this.closing || next === this.current) return;
    this.current = next;
    if (next === 'fallback') {
      this.log.warn({ redis: this.target, reason }, 'rate limits: Redis unreachable, counting in this process until it answers again');
    } else {
      this.log.info({ redis: this.target }, 'rate limits: Redis answers again, counting across the fleet');
    }
    try {
      this.onModeChange?.(next);
    } catch (err) {
      this.log.error({ reason: messageOf(err) }, 'rate limits: mode change listener failed');
    }
  }
}
