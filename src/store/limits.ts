import { RenLayerError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Queryable } from '../db/database.js';
import type { LimitDimension, LimitRule, LimitScope, LimitWindow } from '../limits/types.js';
import { translateDbError } from './errors.js';

type LimitRow = { id: string; agent_id: string | null; name: string | null; scope: LimitScope; dimension: LimitDimension; window: LimitWindow; limit_value: string | number };

/** A tenant's enabled rate limits and budgets ($1 = tenant id) as one JSON array, in creation order. */
export const LIMITS_JSON = `(SELECT coalesce(json_agg(l ORDER BY l.created_at, l.id), '[]'::json) FROM (
    SELECT id, agent_id, name, scope, dimension, "window", limit_value, created_at
      FROM renlayer.rate_limits WHERE tenant_id = $1 AND enabled) l)`;

/** A tenant's enabled rate limits and budgets (SPEC §7), as the limiter takes them. */
export async function loadLimits(db: Queryable, tenantId: string): Promise<LimitRule[]> {
  const r = await db.query<{ limits: LimitRow[] }>(`SELECT ${LIMITS_JSON} AS limits`, [tenantId]);
  return limitsFromJson(tenantId, r.rows[0]!.limits);
}

export function limitsFromJson(tenantId: string, rows: LimitRow[]): LimitRule[] {
  return rows.map((r) => ({
    id: r.id, tenantId, agentId: r.agent_id, name: r.name, scope: r.scope, dimension: r.dimension, window: r.window, limit: Number(r.limit_value),
  }));
}

/** A limit as configured (rate_limits row), enabled or not: what `renlayer apply` reads and writes. */
export interface StoredLimit {
  id: string;
  agentId: string | null;
  name: string | null;
  scope: LimitScope;
  dimension: LimitDimension;
  window: LimitWindow;
  limit: number;
  enabled: boolean;
}

export async function listLimits(db: Queryable, tenantId: string): Promise<StoredLimit[]> {
  const rows = await db.query<{ id: string; agent_id: string | null; name: string | null; scope: LimitScope; dimension: LimitDimension; window: LimitWindow; limit_value: string | number; enabled: boolean }>(
    `SELECT id, agent_id, name, scope, dimension, "window", limit_value, enabled
       FROM renlayer.rate_limits WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId]);
  return rows.rows.map((r) => ({
    id: r.id, agentId: r.agent_id, name: r.name, scope: r.scope, dimension: r.dimension, window: r.window, limit: Number(r.limit_value), enabled: r.enabled,
  }));
}

export type NewLimit = Omit<StoredLimit, 'id'>;

/** Creates a limit, or (with id) rewrites that one; the row's trigger tells every proxy. */
export async function saveLimit(tx: Queryable, tenantId: string, l: NewLimit, id?: string): Promise<string> {
  if (id) {
    const r = await tx.query(
      `UPDATE renlayer.rate_limits SET agent_id = $3, name = $4, scope = $5, dimension = $6, "window" = $7, limit_value = $8,
              enabled = $9, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, l.agentId, l.name, l.scope, l.dimension, l.window, l.limit, l.enabled]);
    if (r.rowCount === 0) throw new RenLayerError('not_found', `no limit with id "${id}" in this tenant`);
    return id;
  }
  const newLimitId = newId('lim');
  try {
    await tx.query(
      `INSERT INTO renlayer.rate_limits (id, tenant_id, agent_id, name, scope, dimension, "window", limit_value, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [newLimitId, tenantId, l.agentId, l.name, l.scope, l.dimension, l.window, l.limit, l.enabled]);
  } catch (err) {
    translateDbError(err, `limit ${l.scope} ${l.dimension}/${l.window}`);
  }
  return newLimitId;
}

export async function deleteLimit(tx: Queryable, tenantId: string, id: string): Promise<void> {
  const r = await tx.query('DELETE FROM renlayer.rate_limits WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  if (r.rowCount === 0) throw new RenLayerError('not_found', `no limit with id "${id}" in this tenant`);
}
