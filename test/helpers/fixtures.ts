import type { Database } from '../../src/db/database.js';
import { createAgent, type UpstreamType } from '../../src/store/agents.js';
import { createTenant } from '../../src/store/tenants.js';

let counter = 0;

/** A tenant with one agent and its key; names are unique per call. */
export async function tenantWithAgent(db: Database, opts: { upstream?: string; type?: UpstreamType; headers?: Record<string, string>; encryptionKey?: Buffer } = {}) {
  const n = `${process.pid}-${++counter}`;
  const tenant = await createTenant(db, `t-${n}`);
  const { agent, key } = await db.transaction((tx) => createAgent(tx, opts.encryptionKey, {
    tenantId: tenant.id,
    name: `agent-${n}`,
    upstreamUrl: opts.upstream,
    upstreamType: opts.type,
    upstreamHeaders: opts.headers,
  }));
  return { tenant, agent, key: key.secret, keyId: key.id };
}

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7);

/** Polls until fn returns a truthy value (for effects that happen off the request path). */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
