import { createHash } from 'node:crypto';
import { ulid } from '../core/ids.js';
import type { Queryable } from '../db/database.js';

/**
 * The audit log (SPEC §10): append-only in the database (triggers refuse UPDATE, DELETE and
 * TRUNCATE) and hash-chained per tenant, so an edit or a removed row made by someone with table
 * access shows up as a broken link. Every writer (API, `renlayer apply`, …) goes through
 * appendAudit inside the transaction of the change it records, so a change without its audit
 * row cannot commit.
 */

/** Who made a change. The CLI has no operator login: see cliAuditActor in src/cli/actor.ts. */
export interface AuditActor {
  id?: string | null;
  email?: string | null;
  role?: string | null;
}

export interface AuditEntry {
  tenantId: string;
  actor: AuditActor | null;
  /** `policy.update` style: resource type, then verb. */
  action: string;
  resourceType: string;
  resourceId: string | null;
  /** Structured before/after; never secret values. */
  diff: Record<string, unknown>;
  ip?: string | null;
  userAgent?: string | null;
}

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level: the same value always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** What the hash covers: every column but the hashes themselves. */
interface HashedFields {
  id: string;
  tenant_id: string;
  seq: number;
  at: string;
  actor: { id: string | null; email: string | null; role: string | null };
  action: string;
  resource_type: string;
  resource_id: string | null;
  diff: unknown;
  ip: string | null;
  user_agent: string | null;
}

export function auditHash(prevHash: string, fields: HashedFields): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(fields)).digest('hex');
}

/**
 * Serialises the audit writers of one tenant until the transaction ends: seq and prev_hash are
 * read and the row written under it, so two concurrent writers cannot both take seq n+1.
 * (UNIQUE (tenant_id, seq) would catch it anyway, by failing one of the two transactions.)
 */
async function lockTenantChain(tx: Queryable, tenantId: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('renlayer.audit_log:' || $1))`, [tenantId]);
}

/** Appends one entry; call inside the transaction that makes the change. Returns its seq and hash. */
export async function appendAudit(tx: Queryable, e: AuditEntry): Promise<{ id: string; seq: number; hash: string }> {
  await lockTenantChain(tx, e.tenantId);
  const last = (await tx.query<{ seq: string | number; hash: string }>(
    'SELECT seq, hash FROM renlayer.audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1', [e.tenantId])).rows[0];
  const seq = last ? Number(last.seq) + 1 : 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  // The time is taken here, at millisecond precision, rather than from now(): the hash covers
  // it, and a timestamptz read back through the drivers keeps only milliseconds.
  const at = new Date().toISOString();
  // jsonb keeps the value, not the text: hash the JSON round trip of what is stored.
  const diff = JSON.parse(JSON.stringify(e.diff)) as unknown;
  const fields: HashedFields = {
    id: `aud_${ulid()}`,
    tenant_id: e.tenantId,
    seq,
    at,
    actor: { id: e.actor?.id ?? null, email: e.actor?.email ?? null, role: e.actor?.role ?? null },
    action: e.action,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    diff,
    ip: e.ip ?? null,
    user_agent: e.userAgent ?? null,
  };
  const hash = auditHash(prevHash, fields);
  await tx.query(
    `INSERT INTO renlayer.audit_log (id, tenant_id, seq, at, operator_id, operator_email, operator_role, action,
                                     resource_type, resource_id, diff, ip, user_agent, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [fields.id, e.tenantId, seq, at, fields.actor.id, fields.actor.email, fields.actor.role, e.action,
      e.resourceType, e.resourceId, JSON.stringify(diff), fields.ip, fields.user_agent, prevHash, hash]);
  return { id: fields.id, seq, hash };
}

interface AuditRow {
  id: string;
  seq: string | number;
  at: Date | string;
  operator_id: string | null;
  operator_email: string | null;
  operator_role: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  diff: unknown;
  ip: string | null;
  user_agent: string | null;
  prev_hash: string;
  hash: string;
}

/**
 * Walks a tenant's chain in seq order and returns the first seq that does not hold (a gap in
 * seq, a prev_hash that is not the previous row's hash, or a hash that does not match the row),
 * or null when the whole chain verifies.
 */
export async function verifyAuditChain(db: Queryable, tenantId: string): Promise<number | null> {
  const rows = (await db.query<AuditRow>(
    `SELECT id, seq, at, operator_id, operator_email, operator_role, action, resource_type, resource_id, diff,
            ip, user_agent, prev_hash, hash
       FROM renlayer.audit_log WHERE tenant_id = $1 ORDER BY seq`, [tenantId])).rows;
  let prev = GENESIS_HASH;
  let expected = 1;
  for (const r of rows) {
    const seq = Number(r.seq);
    if (seq !== expected || r.prev_hash !== prev) return seq;
    const fields: HashedFields = {
      id: r.id,
      tenant_id: tenantId,
      seq,
      at: new Date(r.at).toISOString(),
      actor: { id: r.operator_id, email: r.operator_email, role: r.operator_role },
      action: r.action,
      resource_type: r.resource_type,
      resource_id: r.resource_id,
      diff: typeof r.diff === 'string' ? JSON.parse(r.diff) : r.diff,
      ip: r.ip,
      user_agent: r.user_agent,
    };
    if (auditHash(prev, fields) !== r.hash) return seq;
    prev = r.hash;
    expected++;
  }
  return null;
}
