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
  /** Every call is sent with this model, whatever the agent asked for. */
  modelPin?: string | null;
  enabled?: boolean;
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

/** Header names as HTTP allows them (RFC 9110 token); values without control characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,8192}$/;

/** Refuses injected headers that could not be sent; never echoes a value (they are credentials). */
export function checkUpstreamHeaders(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) throw new RenLayerError('validation_failed', `upstream header name "${name.slice(0, 80)}" is not an HTTP header name`);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw new RenLayerError('validation_failed', `upstream header ${name}: the value must be text without line breaks or control characters, at most 8192 characters`);
    }
  }
}

/** The sealed envelope of an agent's headers, or null for none. */
function sealHeaders(encryptionKey: Buffer | undefined, tenantId: string, agentId: string, headers: Record<string, string> | undefined | null): string | null {
  if (!headers || Object.keys(headers).length === 0) return null;
  checkUpstreamHeaders(headers);
  if (!encryptionKey) throw new RenLayerError('config_invalid', 'RENLAYER_ENCRYPTION_KEY is needed to store upstream headers');
  return sealJson(encryptionKey, headers, agentHeadersContext(tenantId, agentId));
}

/** Creates an agent without any key (`renlayer apply`: keys are minted separately). */
export async function insertAgent(db: Queryable, encryptionKey: Buffer | undefined, a: NewAgent): Promise<Agent> {
  checkName('agent', a.name);
  const type = a.upstreamType ?? 'openai';
  if (!UPSTREAM_TYPES.includes(type)) {
    throw new RenLayerError('validation_failed', `upstream type must be one of ${UPSTREAM_TYPES.join(', ')}`);
  }
  const url = a.upstreamUrl === undefined ? null : checkUpstreamUrl(a.upstreamUrl);
  const id = newId('agt');
  const headers = sealHeaders(encryptionKey, a.tenantId, id, a.upstreamHeaders);
  try {
    const r = await db.query<Agent>(
      `INSERT INTO renlayer.agents (id, tenant_id, name, description, enabled, upstream_type, upstream_url, upstream_headers_enc, model_pin)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       RETURNING id, tenant_id, name, enabled, upstream_type, upstream_url`,
      [id, a.tenantId, a.name, a.description ?? '', a.enabled ?? true, type, url, headers, a.modelPin ?? null]);
    return r.rows[0]!;
  } catch (err) {
    translateDbError(err, `agent "${a.name}"`);
  }
}

export async function createAgent(db: Queryable, encryptionKey: Buffer | undefined, a: NewAgent): Promise<{ agent: Agent; key: CreatedKey }> {
  const agent = await insertAgent(db, encryptionKey, a);
  const key = await createKey(db, a.tenantId, agent.id);
  return { agent, key };
}

/** What an update may change; absent fields keep their value, null clears. */
export interface AgentPatch {
  description?: string;
  enabled?: boolean;
  upstreamType?: UpstreamType;
  upstreamUrl?: string | null;
  modelPin?: string | null;
  /** The whole set of injected headers (replaces the stored one); {} or null removes them. */
  upstreamHeaders?: Record<string, string> | null;
}

export async function updateAgent(db: Queryable, encryptionKey: Buffer | undefined, tenantId: string, agentId: string, patch: AgentPatch): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [tenantId, agentId];
  const set = (column: string, value: unknown) => {
    params.push(value);
    sets.push(`${column} = $${params.length}`);
  };
  if (patch.description !== undefined) set('description', patch.description);
  if (patch.enabled !== undefined) set('enabled', patch.enabled);
  if (patch.upstreamType !== undefined) {
    if (!UPSTREAM_TYPES.includes(patch.upstreamType)) throw new RenLayerError('validation_failed', `upstream type must be one of ${UPSTREAM_TYPES.join(', ')}`);
    set('upstream_type', patch.upstreamType);
  }
  if (patch.upstreamUrl !== undefined) set('upstream_url', patch.upstreamUrl === null ? null : checkUpstreamUrl(patch.upstreamUrl));
  if (patch.modelPin !== undefined) set('model_pin', patch.modelPin);
  if (patch.upstreamHeaders !== undefined) set('upstream_headers_enc', sealHeaders(encryptionKey, tenantId, agentId, patch.upstreamHeaders));
  // Nothing to change writes nothing: the row's trigger would otherwise reload every proxy.
  if (sets.length === 0) return;
  const r = await db.query(`UPDATE renlayer.agents SET ${sets.join(', ')}, updated_at = now() WHERE tenant_id = $1 AND id = $2`, params);
  if (r.rowCount === 0) throw new RenLayerError('not_found', `no agent with id "${agentId}" in this tenant`);
}

/** Deletes an agent; its API keys and its own limits go with it (foreign keys cascade). */
export async function deleteAgent(db: Queryable, tenantId: string, agentId: string): Promise<void> {
  const r = await db.query('DELETE FROM renlayer.agents WHERE tenant_id = $1 AND id = $2', [tenantId, agentId]);
  if (r.rowCount === 0) throw new RenLayerError('not_found', `no agent with id "${agentId}" in this tenant`);
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
