import { RenLayerError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { displayPrefix, generateApiKey, hashApiKey } from '../core/keys.js';
import type { Queryable } from '../db/database.js';

export interface CreatedKey {
  id: string;
  /** Shown once; only its hash is stored. */
  secret: string;
  prefix: string;
  expires_at: string | null;
}

export async function createKey(db: Queryable, tenantId: string, agentId: string,
  opts: { name?: string; expiresAt?: Date; createdBy?: string } = {}): Promise<CreatedKey> {
  const secret = generateApiKey();
  const id = newId('key');
  const r = await db.query<{ expires_at: Date | null }>(
    `INSERT INTO renlayer.api_keys (id, tenant_id, agent_id, name, key_hash, prefix, expires_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING expires_at`,
    [id, tenantId, agentId, opts.name ?? '', hashApiKey(secret), displayPrefix(secret), opts.expiresAt ?? null, opts.createdBy ?? null]);
  return { id, secret, prefix: displayPrefix(secret), expires_at: r.rows[0]!.expires_at?.toISOString() ?? null };
}

/** Revoking twice is fine (idempotent); a key of another tenant is "not found". */
export async function revokeKey(db: Queryable, tenantId: string, keyId: string): Promise<{ id: string; revoked_at: string }> {
  const r = await db.query<{ id: string; revoked_at: Date }>(
    `UPDATE renlayer.api_keys SET revoked_at = COALESCE(revoked_at, now())
      WHERE tenant_id = $1 AND id = $2 RETURNING id, revoked_at`, [tenantId, keyId]);
  const row = r.rows[0];
  if (!row) throw new RenLayerError('not_found', `no key with id "${keyId}" in this tenant`);
  return { id: row.id, revoked_at: row.revoked_at.toISOString() };
}
