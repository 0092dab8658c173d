import { RenLayerError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { sealJson } from '../core/secretbox.js';
import type { Queryable } from '../db/database.js';
import { translateDbError } from './errors.js';
import { createKey, type CreatedKey } from './keys.js';
import { checkName } from './tenants.js';

export const UPSTREAM_TYPES = ['openai', 'anthropic', 'vllm', 'mcp', 'http'] as const;
export type UpstreamType = (typeof UPSTREAM_TYPES)[number];

export interface Agent {
  id: string;
  tenant_id: string;
  name: string;
  enabled: boolean;
  upstream_type: UpstreamType;
  upstream_url: string | null;
}

export interface NewAgent {
  tenantId: string;
  name: string;
  description?: string;
  upstreamUrl?: string;
  upstreamType?: UpstreamType;
  /** Injected on every forwarded call (credentials); stored sealed, never returned. */
  upstreamHeaders?: Record<string, string>;
}

/** Where the sealed upstream headers of an agent are bound, so they cannot be moved to another row. */
export function agentHeadersContext(tenantId: string, agentId: string): string {
  return `agent-headers:${tenantId}:${agentId}`;
}

export function checkUpstreamUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RenLayerError('validation_failed', `upstream "${url.slice(0, 200)}" is not a URL; expected http(s)://host[:port][/base-path]`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new RenLayerError('validation_failed', `upstream must be an http:// or https:// URL, not ${u.protocol}`);
  }
  if (u.username || u.password) {
    throw new RenLayerError('validation_failed', 'upstream URL must not carry credentials; put them in the injected headers');
  }
  if (u.search || u.hash) {
    throw new RenLayerError('validation_failed', 'upstream URL must not have a query or fragment');
  }
  return u.toString().replace(/\/+$/, '');
}

export async function createAgent(db: Queryable, encryptionKey: Buffer | undefined, a: NewAgent): Promise<{ agent: Agent; key: CreatedKey }> {
  checkName('agent', a.name);
  const type = a.upstreamType ?? 'openai';
  if (!UPSTREAM_TYPES.includes(type)) {
    throw new RenLayerError('validation_failed', `upstream type must be one of ${UPSTREAM_TYPES.join(', ')}`);
  }
  const url = a.upstreamUrl === undefined ? null : checkUpstreamUrl(a.upstreamUrl);
  const id = newId('agt');
  let headers: string | null = null;
  if (a.upstreamHeaders && Object.keys(a.upstreamHeaders).length > 0) {
    if (!encryptionKey) throw new RenLayerError('config_invalid', 'RENLAYER_ENCRYPTION_KEY is needed to store upstream headers');
    headers = sealJson(encryptionKey, a.upstreamHeaders, agentHeadersContext(a.tenantId, id));
  }
  let agent: Agent;
  try {
    const r = await db.query<Agent>(
      `INSERT INTO renlayer.agents (id, tenant_id, name, description, upstream_type, upstream_url, upstream_headers_enc)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING id, tenant_id, name, enabled, upstream_type, upstream_url`,
      [id, a.tenantId, a.name, a.description ?? '', type, url, headers]);
    agent = r.rows[0]!;
  } catch (err) {
    translateDbError(err, `agent "${a.name}"`);
  }
  const key = await createKey(db, a.tenantId, agent.id);
  return { agent, key };
}

/** `--agent` accepts a name or an id, within one tenant. */
export async function resolveAgent(db: Queryable, tenantId: string, nameOrId: string): Promise<Agent> {
  const r = await db.query<Agent>(
    `SELECT id, tenant_id, name, enabled, upstream_type, upstream_url FROM renlayer.agents
      WHERE tenant_id = $1 AND (id = $2 OR name = $2) ORDER BY (id = $2) DESC LIMIT 1`, [tenantId, nameOrId]);
  const agent = r.rows[0];
  if (!agent) throw new RenLayerError('not_found', `no agent named or with id "${nameOrId}" in this tenant`);
  return agent;
}
