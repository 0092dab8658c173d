import type { Queryable } from '../db/database.js';
import { newId } from '../core/ids.js';
import { RenLayerError } from '../core/errors.js';
import type { StoredPolicy } from '../policy/evaluate.js';
import { parsePolicy, type PolicyDefinition } from '../policy/schema.js';

/**
 * Policies and their immutable versions (SPEC §5). Every save that changes a policy writes a new
 * version with author and time; the policy row holds the current one, which is what proxies load.
 */

interface PolicyRow {
  id: string;
  name: string;
  description: string;
  action: string;
  priority: number;
  enabled: boolean;
  message: string | null;
  scope: unknown;
  conditions: unknown;
  stage: string;
  current_version: number;
  /** A Date from a row, an ISO string from JSON. */
  created_at: Date | string;
}

const COLUMNS = 'id, name, description, action, priority, enabled, message, scope, conditions, stage, current_version, created_at';

function definitionOf(r: PolicyRow): PolicyDefinition {
  return parsePolicy({
    name: r.name, description: r.description, action: r.action, priority: r.priority, enabled: r.enabled,
    message: r.message, scope: r.scope, conditions: r.conditions, stage: r.stage,
  });
}

/** A tenant's policies ($1 = tenant id) as one JSON array, in evaluation order. */
export const POLICIES_JSON = `(SELECT coalesce(json_agg(p ORDER BY p.priority, p.created_at, p.id), '[]'::json) FROM (
    SELECT ${COLUMNS} FROM renlayer.policies WHERE tenant_id = $1) p)`;

export type LoadedPolicies = { policies: StoredPolicy[]; invalid: { id: string; name: string; reason: string }[] };

/**
 * A tenant's policies, each checked again as it is read. One that no longer parses (written by
 * plain SQL) is returned in `invalid` with the reason, so the caller can refuse or report it
 * instead of enforcing half a rule.
 */
export async function loadPolicies(db: Queryable, tenantId: string): Promise<LoadedPolicies> {
  const r = await db.query<{ policies: PolicyRow[] }>(`SELECT ${POLICIES_JSON} AS policies`, [tenantId]);
  return policiesFromJson(r.rows[0]!.policies);
}

export function policiesFromJson(rows: PolicyRow[]): LoadedPolicies {
  const policies: StoredPolicy[] = [];
  const invalid: LoadedPolicies['invalid'] = [];
  for (const r of rows) {
    try {
      policies.push({ ...definitionOf(r), id: r.id, createdAt: new Date(r.created_at).getTime(), version: r.current_version });
    } catch (err) {
      invalid.push({ id: r.id, name: r.name, reason: (err as Error).message });
    }
  }
  return { policies, invalid };
}

const same = (a: PolicyDefinition, b: PolicyDefinition) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Creates or updates the tenant's policy of that name. Unchanged definitions write nothing
 * (idempotent apply); a change bumps the version and keeps the old one.
 */
export async function savePolicy(tx: Queryable, tenantId: string, input: unknown, author: string | null = null):
Promise<{ id: string; version: number; change: 'created' | 'updated' | 'unchanged'; definition: PolicyDefinition }> {
  const def = parsePolicy(input);
  const existing = (await tx.query<PolicyRow>(`SELECT ${COLUMNS} FROM renlayer.policies WHERE tenant_id = $1 AND name = $2 FOR UPDATE`, [tenantId, def.name])).rows[0];
  if (existing) {
    let current: PolicyDefinition | null = null;
    try {
      current = definitionOf(existing);
    } catch {
      // An invalid stored row is replaced by the valid definition.
    }
    if (current && same(current, def)) return { id: existing.id, version: existing.current_version, change: 'unchanged', definition: def };
    const version = existing.current_version + 1;
    await tx.query(
      `UPDATE renlayer.policies SET description = $3, action = $4, priority = $5, enabled = $6, message = $7, scope = $8,
              conditions = $9, stage = $10, current_version = $11, updated_at = now()
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, existing.id, def.description, def.action, def.priority, def.enabled, def.message, JSON.stringify(def.scope), JSON.stringify(def.conditions), def.stage, version]);
    await tx.query('INSERT INTO renlayer.policy_versions (policy_id, version, tenant_id, definition, author) VALUES ($1, $2, $3, $4, $5)',
      [existing.id, version, tenantId, JSON.stringify(def), author]);
    return { id: existing.id, version, change: 'updated', definition: def };
  }
  const id = newId('pol');
  await tx.query(
    `INSERT INTO renlayer.policies (id, tenant_id, name, description, action, priority, enabled, message, scope, conditions, stage)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [id, tenantId, def.name, def.description, def.action, def.priority, def.enabled, def.message, JSON.stringify(def.scope), JSON.stringify(def.conditions), def.stage]);
  await tx.query('INSERT INTO renlayer.policy_versions (policy_id, version, tenant_id, definition, author) VALUES ($1, 1, $2, $3, $4)',
    [id, tenantId, JSON.stringify(def), author]);
  return { id, version: 1, change: 'created', definition: def };
}

export async function deletePolicy(tx: Queryable, tenantId: string, name: string): Promise<void> {
  const r = await tx.query('DELETE FROM renlayer.policies WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
  if (r.rowCount === 0) throw new RenLayerError('not_found', `policy ${name} does not exist`);
}
