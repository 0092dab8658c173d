import { RenLayerError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Queryable } from '../db/database.js';

export const ROLES = ['owner', 'admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Membership {
  operator_id: string;
  email: string;
  tenant_id: string;
  role: Role;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Creates the operator if the address is new, and gives them the role in the tenant. */
export async function addOperator(db: Queryable, tenantId: string, email: string, role: Role): Promise<Membership> {
  const address = email.trim().toLowerCase();
  if (!EMAIL.test(address) || address.length > 254) {
    throw new RenLayerError('validation_failed', `"${email.slice(0, 80)}" is not an e-mail address`);
  }
  if (!ROLES.includes(role)) {
    throw new RenLayerError('validation_failed', `role must be one of ${ROLES.join(', ')}`);
  }
  const op = await db.query<{ id: string }>(
    `INSERT INTO renlayer.operators (id, email) VALUES ($1, $2)
     ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email RETURNING id`, [newId('op'), address]);
  const operatorId = op.rows[0]!.id;
  if (role !== 'owner') {
    const owners = await db.query<{ operator_id: string }>(
      `SELECT operator_id FROM renlayer.memberships WHERE tenant_id = $1 AND role = 'owner'`, [tenantId]);
    if (owners.rows.length === 1 && owners.rows[0]!.operator_id === operatorId) {
      throw new RenLayerError('conflict', `${address} is the tenant's last owner; make another operator owner first`);
    }
  }
  await db.query(
    `INSERT INTO renlayer.memberships (tenant_id, operator_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id, operator_id) DO UPDATE SET role = EXCLUDED.role`, [tenantId, operatorId, role]);
  return { operator_id: operatorId, email: address, tenant_id: tenantId, role };
}
