/**
 * In-process limits for a proxy of several worker processes (RENLAYER_WORKERS > 1) without Redis.
 * Each worker counting alone would let a host allow workers × the limit, so the counters live in
 * the primary: workers ask it over the cluster IPC channel, one message per turn of the event
 * loop (every check and charge made in it), and the primary's MemoryLimiter (synchronous, one
 * thread) keeps every check-and-count atomic.
 *
 * The primary calls serveLimiterToWorkers(); workers use WorkerLimiter (createLimiter with
 * `workers: true`). A worker that gets no answer in time (the primary busy or not serving) answers
 * from a counter of its own and logs it once — a call is never held up by the limiter.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { decide } from './decision.js';
import { chargesFor, counterRef, MemoryLimiter, type Charge, type CounterRef } from './memory.js';
import { applicableRules } from './subjects.js';
import type { LimitDecision, LimitRule, LimitSubject, Limiter } from './types.js';

const REQUEST = 'renlayer:limits';
const REPLY = 'renlayer:limits:reply';

type Usage = { tokens: number; costUsd: number };
/**
 * Counters, not rules: the primary needs only each counter's key and shape, and answers with the
 * numbers `decide` needs, which the worker applies to its rules. (Whole rules, subjects and
 * decisions made each call's two IPC messages several times larger; the primary spent 40 µs a call.)
 */
type Op =
  | { op: 'check'; id: number; counters: CounterRef[]; now: number }
  | { op: 'charge'; charges: Charge[]; now: number };
/** The checks and charges a worker made in one turn of its event loop, in the order it made them. */
type Request = { type: typeof REQUEST; ops: Op[] };
type Reply = { type: typeof REPLY; answers: [id: number, used: number[], retry: (number | null)[]][] };

/**
 * The primary's side for one message: answers it and returns true when it is a limiter request,
 * returns false (untouched) otherwise, so it can share the channel with other traffic (metrics).
 * Operations run in the worker's order, so a call's charge lands before a later call's check.
 */
export function answerLimiterMessage(limiter: MemoryLimiter, msg: unknown, reply: (m: Reply) => void): boolean {
  const m = msg as Request | null;
  if (m?.type !== REQUEST || !Array.isArray(m.ops)) return false;
  const answers: Reply['answers'] = [];
  for (const op of m.ops) {
    // A malformed operation is left unanswered (that check falls back to the worker's own count
    // after the timeout); the rest of the batch is answered, and the primary stays up.
    try {
      if (op.op === 'check') {
        const { used, retry } = limiter.countNow(op.counters, op.now);
        answers.push([op.id, used, retry]);
      } else {
        limiter.addNow(op.charges, op.now);
      }
    } catch {
      continue;
    }
  }
  if (answers.length > 0) reply({ type: REPLY, answers });
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

/** A check waiting for the primary, its rules, and the batch it travelled in (set when the batch is sent). */
interface Pending {
  id: number;
  rules: readonly LimitRule[];
  resolve: (d: LimitDecision) => void;
  batch: { timer: NodeJS.Timeout | null; left: number };
}

/**
 * The checks waiting for the primary, by id. Not a Map: a long-lived Map that every call joins
 * and leaves rebuilds its table every few dozen calls, and the table left behind in the old
 * generation still points at the calls then waiting, which kept them alive through young-
 * generation collections (see the in-flight note in proxy/server.ts). Ids grow one by one, so
 * a slot array indexed by id modulo its length is written in place; an id whose slot is still
 * taken (a check older by the array's length, waiting out its timeout) goes to a Map instead.
 */
class PendingChecks {
  private readonly slots: (Pending | undefined)[] = new Array(1024).fill(undefined);
  private readonly overflow = new Map<number, Pending>();
  size = 0;

  add(p: Pending): void {
    const i = p.id & (this.slots.length - 1);
    if (this.slots[i] === undefined) this.slots[i] = p;
    else this.overflow.set(p.id, p);
    this.size++;
  }

  get(id: number): Pending | undefined {
    const p = this.slots[id & (this.slots.length - 1)];
    return p?.id === id ? p : this.overflow.get(id);
  }

  delete(id: number): void {
    const i = id & (this.slots.length - 1);
    if (this.slots[i]?.id === id) this.slots[i] = undefined;
    else if (!this.overflow.delete(id)) return;
    this.size--;
  }

  all(): Pending[] {
    return [...this.slots.filter((p): p is Pending => p !== undefined), ...this.overflow.values()];
  }
}

/**
 * Checks and charges made in one turn of the event loop travel to the primary as one message,
 * and come back as one: an IPC message is a JSON encoding and a pipe write on each side, which
 * one per call made a second worker slower than one. A batch waits for the primary at most
 * `timeoutMs`; past it, its checks are answered locally.
 */
export class WorkerLimiter implements Limiter {
  readonly mode = 'local' as const;
  private readonly channel: LimiterChannel;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly own = new MemoryLimiter();
  private readonly pending = new PendingChecks();
  private outbox: Op[] = [];
  private scheduled = false;
  private listening = false;
  private nextId = 0;
  private warned = false;
  // Listening only while answers are awaited: a standing listener would keep the channel, and so
  // the worker, alive at shutdown.
  private readonly onMessage = (msg: unknown) => {
    const m = msg as Reply | null;
    if (m?.type !== REPLY || !Array.isArray(m.answers)) return;
    for (const [id, used, retry] of m.answers) {
      const p = this.pending.get(id);
      if (!p) continue;
      this.settle(id, p);
      p.resolve(decide(p.rules, used, retry));
    }
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
      this.pending.add({ id, rules: applicable, resolve, batch: { timer: null, left: 0 } });
      this.enqueue({ op: 'check', id, counters: applicable.map((r) => counterRef(r, subject)), now });
    });
  }

  async charge(rules: readonly LimitRule[], subject: LimitSubject, usage: Usage, now: number = Date.now()): Promise<void> {
    const charges = chargesFor(applicableRules(rules, subject), subject, usage);
    if (charges.length === 0) return;
    this.enqueue({ op: 'charge', charges, now });
  }

  /** Checks still waiting are let through: the worker is shutting down, not deciding. */
  async close(): Promise<void> {
    if (this.scheduled) this.flush();
    for (const p of this.pending.all()) {
      this.settle(p.id, p);
      p.resolve({ allowed: true, states: [] });
    }
    await this.own.close();
  }

  private enqueue(op: Op): void {
    this.outbox.push(op);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const ops = this.outbox;
    this.outbox = [];
    // Already sent (close() flushes early; the scheduled flush still runs).
    if (ops.length === 0) return;
    const checks = ops.flatMap((op) => (op.op === 'check' ? [this.pending.get(op.id)!] : []));
    if (checks.length > 0) {
      const batch = { timer: null as NodeJS.Timeout | null, left: checks.length };
      for (const p of checks) p.batch = batch;
      if (!this.listening) {
        this.listening = true;
        this.channel.on('message', this.onMessage);
      }
      batch.timer = setTimeout(() => this.timeOut(ops), this.timeoutMs);
    }
    try {
      this.channel.send({ type: REQUEST, ops });
    } catch {
      this.answerLocally(ops);
    }
  }

  private timeOut(ops: Op[]): void {
    if (!this.warned) {
      this.warned = true;
      this.log.warn({ timeout_ms: this.timeoutMs }, 'rate limits: the primary process did not answer; this worker counts alone meanwhile');
    }
    // Its charges may still reach the primary: only the checks are answered here.
    this.answerLocally(ops.filter((op) => op.op === 'check'));
  }

  /** The primary cannot be reached: this batch is counted by the worker alone, in its order. */
  private answerLocally(ops: Op[]): void {
    for (const op of ops) {
      if (op.op === 'charge') {
        this.own.addNow(op.charges, op.now);
        continue;
      }
      const p = this.pending.get(op.id);
      if (!p) continue;
      this.settle(op.id, p);
      const { used, retry } = this.own.countNow(op.counters, op.now);
      p.resolve(decide(p.rules, used, retry));
    }
  }

  private settle(id: number, p: Pending): void {
    this.pending.delete(id);
    if (--p.batch.left <= 0 && p.batch.timer) clearTimeout(p.batch.timer);
    if (this.listening && this.pending.size === 0) {
      this.listening = false;
      this.channel.off('message', this.onMessage);
    }
  }
}
