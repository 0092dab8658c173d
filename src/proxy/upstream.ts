import { Pool, type Dispatcher } from 'undici';

/**
 * One keep-alive pool per upstream origin, shared by every agent and tenant in this process.
 * Sized for concurrency (DESIGN §2: a pool must hold at least req/s × upstream latency); calls
 * beyond it wait in the pool's queue, which /metrics shows.
 */
export const POOL_CONNECTIONS = 1024;

export class Upstreams {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly timeoutMs: number) {}

  pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: POOL_CONNECTIONS,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connect: { timeout: 10_000 },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  request(origin: string, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    return this.pool(origin).request(opts);
  }

  stats(): { origin: string; connected: number; free: number; pending: number; queued: number; running: number }[] {
    return [...this.pools].map(([origin, p]) => ({
      origin,
      connected: p.stats.connected,
      free: p.stats.free,
      pending: p.stats.pending,
      queued: p.stats.queued,
      running: p.stats.running,
    }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => {})));
    this.pools.clear();
  }
}

/** Base URLs parsed once: a URL parse per call showed in the proxy's profile. Bounded, as bases come from configuration. */
const BASES = new Map<string, { origin: string; basePath: string }>();
const BASES_MAX = 4096;

/** Joins the upstream base URL and the agent's request path, keeping the base path (SPEC §1). */
export function upstreamTarget(base: string, requestPath: string): { origin: string; path: string } {
  let parsed = BASES.get(base);
  if (!parsed) {
    const u = new URL(base);
    parsed = { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
    if (BASES.size >= BASES_MAX) BASES.clear();
    BASES.set(base, parsed);
  }
  return { origin: parsed.origin, path: parsed.basePath + (requestPath.startsWith('/') ? requestPath : '/' + requestPath) };
}
