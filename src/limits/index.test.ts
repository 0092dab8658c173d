import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../config/logger.js';
import { createLimiter, MemoryLimiter, RedisLimiter } from './index.js';

describe('createLimiter', () => {
  const log = createLogger('silent');

  it('counts in process without a Redis URL', async () => {
    const l = createLimiter({ redisUrl: undefined, log });
    expect(l).toBeInstanceOf(MemoryLimiter);
    expect(l.mode).toBe('local');
    await l.close();
    expect(createLimiter({ redisUrl: '', log })).toBeInstanceOf(MemoryLimiter);
  });

  it('counts in Redis with one, reporting the switch to fallback when it cannot connect', async () => {
    // A port nobody listens on: taken, then released.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const modes: string[] = [];
    const l = createLimiter({ redisUrl: `redis://127.0.0.1:${port}`, log, onModeChange: (m) => modes.push(m) });
    expect(l).toBeInstanceOf(RedisLimiter);
    const d = await l.check([{ id: 'r', tenantId: 't', agentId: null, name: null, scope: 'per_tenant', dimension: 'requests', window: 'minute', limit: 1 }], { tenantId: 't', agentId: 'a', keyId: 'k', user: null });
    expect(d.allowed).toBe(true);
    expect(l.mode).toBe('fallback');
    expect(modes).toEqual(['fallback']);
    await l.close();
  });
});
