/**
 * In-process limits for a proxy of several worker processes (RENLAYER_WORKERS > 1) without Redis.
 * Each worker counting alone would let a host allow workers × the limit, so the counters live in
 * the primary: workers ask it over the cluster IPC channel, one message per check, and the
 * primary's MemoryLimiter (synchronous, one thread) keeps every check-and-count atomic.
 *
 * The primary calls serveLimiterToWorkers(); workers use WorkerLimiter (createLimiter with
 * `workers: true`). A worker that gets no answer in time (the primary busy or not serving) answers
 * from a counter of its own and logs it once — a call is never held up by the limiter.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { MemoryLimiter } from './memory.js';
import { applicableRules } from './subjects.js';
import type { LimitDecision, LimitRule, LimitSubject, Limiter } from './types.js';

const REQUEST = 'renlayer:limits';
const REPLY = 'renlayer:limits:reply';

type Usage = { tokens: number; costUsd: number };
type Request =
  | { type: typeof REQUEST; op: 'check'; id: number; rules: LimitRule[]; subject: LimitSubject; now: number }
  | { type: typeof REQUEST; op: 'charge'; rules: LimitRule[]; subject: LimitSubject; usage: Usage; now: number };
type Reply = { type: typeof REPLY; id: number; decision: LimitDecision };

/**
 * The primary's side for one message: answers it and returns true when it is a limiter request,
 * returns false (untouched) otherwise, so it can share the channel with other traffic (metrics).
 */
export function answerLimiterMessage(limiter: MemoryLimiter, msg: unknown, reply: (m: Reply) => void): boolean {
  const m = msg as Request | null;
  if (m?.type !== REQUEST) return false;
  if (m.op === 'check') reply({ type: REPLY, id: m.id, decision: limiter.checkNow(m.rules, m.subject, m.now) });
  else limiter.chargeNow(m.rules, m.subject, m.usage, m.now);
  return true;
}

/** In the cluster primary: holds the host's counters for every worker. Returns a stop function. */
export function serveLimiterToWorkers(limiter: MemoryLimiter = new MemoryLimiter()): () => void {
  const onMessage = (worker: { send(m: unknown): boolean }, msg: unknown) => {
    answerLimiterMessage(limiter, msg, (r) => worker.send(r));
  };
  cluster.on('message', onMessage);
  return () => cluster.off('message', onMessage);
}

/** How a worker reaches its primary; the process's IPC channel unless a test supplies another. */
export interface LimiterChannel {
  send(msg: Request): void;
  on(event: 'message', listener: (msg: unknown) => void): unknown;
  off(event: 'message', listener: (msg: unknown) => void): unknown;
}

export interface WorkerLimiterOptions {
  log: Logger;
  /** Longest wait for the primary before answering locally. */
  timeoutMs?: number;
  channel?: LimiterChannel;
}

function processChannel(): LimiterChannel {
  if (!process.send) throw new Error('WorkerLimiter needs an IPC channel to its primary');
  return {
    send: (msg) => {
      if (!process.connected) throw new Error('IPC channel closed');
      // With a callback a send that fails late is reported to it instead of as an 'error' event
      // on process, which would crash the worker; the check's timeout then answers locally.
      process.send!(msg, undefined, {}, () => {});
    },
    on: (e, l) => process.on(e, l),
    off: (e, l) => process.off(e, l),
  };
}

export class WorkerLimiter implements Limiter {
  readonly mode = 'local' as const;
  private readonly channel: LimiterChannel;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly own = new MemoryLimiter();
  private readonly pending = new Map<number, { resolve: (d: LimitDecision) => void; timer: NodeJS.Timeout }>();
  private nextId = 0;
  private warned = false;
  // Listening only while answers are awaited: a standing listener would keep the channel, and so
  // the worker, alive at shutdown.
  private readonly onMessage = (msg: unknown) => {
    const m = msg as Reply | null;
    if (m?.type !== REPLY) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    clearTimeout(p.timer);
    this.settle(m.id);
    p.resolve(m.decision);
  };

  constructor(opts: WorkerLimiterOptions) {
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.channel = opts.channel ?? processChannel();
  }

  async check(rules: readonly LimitRule[], subject: LimitSubject, now: number = Date.now()): Promise<LimitDecision> {
    const applicable = applicableRules(rules, subject);
    if (applicable.length === 0) return { allowed: true, states: [] };
    const id = ++this.nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settle(id);
        if (!this.warned) {
          this.warned = true;
          this.log.warn({ timeout_ms: this.timeoutMs }, 'rate limits: the primary process did not answer; this worker counts alone meanwhile');
        }
        resolve(this.own.checkNow(applicable, subject, now));
      }, this.timeoutMs);
      if (this.pending.size === 0) this.channel.on('message', this.onMessage);
      this.pending.set(id, { resolve, timer });
      try {
        this.channel.send({ type: REQUEST, op: 'check', id, rules: applicable, subject, now });
      } catch {
        clearTimeout(timer);
        this.settle(id);
        resolve(this.own.checkNow(applicable, subject, now));
      }
    });
  }

  async charge(rules: readonly LimitRule[], subject: LimitSubject, usage: Usage, now: number = Date.now()): Promise<void> {
    const applicable = applicableRules(rules, subject).filter((r) => r.dimension !== 'requests');
    if (applicable.length === 0) return;
    try {
      this.channel.send({ type: REQUEST, op: 'charge', rules: applicable, subject, usage, now });
    } catch {
      this.own.chargeNow(applicable, subject, usage, now);
    }
  }

  /** Checks still waiting are let through: the worker is shutting down, not deciding. */
  async close(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.resolve({ allowed: true, states: [] });
    }
    this.channel.off('message', this.onMessage);
    await this.own.close();
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.channel.off('message', this.onMessage);
  }
}
