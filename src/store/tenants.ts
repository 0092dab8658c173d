import { RenLayerError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Queryable } from '../db/database.js';
import { translateDbError } from './errors.js';

export interface Tenant {
  id: string;
  name: string;
  default_action: 'ALLOW' | 'DENY';
  enforcement: 'enforce' | 'flag_only';
  store_bodies: 'none' | 'redacted' | 'redacted_and_encrypted';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkName(kind: string, name: string): void {
  if (!NAME.test(name)) {
    throw new RenLayerError('validation_failed',
      `${kind} name "${name.slice(0, 80)}" is not valid: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}

export async function createTenant(db: Queryable, name: string): Promise<Tenant> {
  checkName('tenant', name);
  try {
    const r = await db.query<Tenant>(
      `INSERT INTO renlayer.tenants (id, name) VALUES ($1, $2)
       RETURNING id, name, default_action, enforcement, store_bodies`, [newId('ten'), name]);
    return r.rows[0]!;
  } catch (err) {
    translateDbError(err, `tenant "${name}"`);
  }
}

/** `--tenant` accepts a name or an id. */
export async function resolveTenant(db: Queryable, nameOrId: string): Promise<Tenant> {
  const r = await db.query<Tenant>(
    `SELECT id, name, default_action, enforcement, store_bodies FROM renlayer.tenants
      WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`, [nameOrId]);
  const t = r.rows[0];
  if (!t) throw new RenLayerError('not_found', `no tenant named or with id "${nameOrId}"`);
  return t;
}

export async function findTenantByName(db: Queryable, name: string): Promise<Tenant | undefined> {
  const r = await db.query<Tenant>(
    'SELECT id, name, default_action, enforcement, store_bodies FROM renlayer.tenants WHERE name = $1', [name]);
  return r.rows[0];
}
