/**
 * Rate limits and budgets (SPEC §7): what the proxy imports. One limiter per process — Redis
 * when RENLAYER_REDIS_URL is set (a fleet shares its counters), in-process otherwise (in the
 * cluster primary when the proxy runs several workers).
 */
import type { Logger } from 'pino';
import { MemoryLimiter } from './memory.js';
import cluster from 'node:cluster';
import { RedisLimiter, type RedisLimiterMode } from './redis.js';
import type { Limiter } from './types.js';
import { WorkerLimiter } from './workers.js';

export { applicableRules, ANONYMOUS_USER, counterKey } from './subjects.js';
export { WINDOW_GEOMETRY } from './windows.js';
export { MemoryLimiter } from './memory.js';
export { RedisLimiter, describeRedisTarget, type RedisLimiterMode, type RedisLimiterOptions } from './redis.js';
export { serveLimiterToWorkers, WorkerLimiter } from './workers.js';
export * from './types.js';

export interface CreateLimiterOptions {
  /** RENLAYER_REDIS_URL; unset or empty: in-process counters (mode 'local'). */
  redisUrl?: string | null;
  log: Logger;
  /** Redis only: called on each switch to 'fallback' and back to 'redis' (for a metric). */
  onModeChange?: (mode: RedisLimiterMode) => void;
  /**
   * Without Redis, in a cluster worker: count in the primary, which must run
   * serveLimiterToWorkers(), so the host's workers share one set of counters. Ignored with Redis
   * (already shared) and outside a cluster worker.
   */
  workers?: boolean;
}

export function createLimiter(opts: CreateLimiterOptions): Limiter {
  if (!opts.redisUrl) return opts.workers && cluster.isWorker ? new WorkerLimiter({ log: opts.log }) : new MemoryLimiter();
  return new RedisLimiter({ url: opts.redisUrl, log: opts.log, onModeChange: opts.onModeChange });
}
