import { RenLayerError } from '../core/errors.js';
import type { Queryable } from '../db/database.js';
import { deleteAgent, insertAgent, updateAgent, type AgentPatch } from '../store/agents.js';
import { appendAudit, type AuditActor } from '../store/audit.js';
import { deleteLimit, saveLimit } from '../store/limits.js';
import { deletePolicy, savePolicy } from '../store/policies.js';
import {
  deleteAllow, deleteDetectorOverride, deletePattern, saveAllow, saveDetectorOverride, savePattern, updateTenantSettings,
} from '../store/tenant-config.js';
import { createTenant } from '../store/tenants.js';
import type { Change, Kind, Plan } from './config-plan.js';

/**
 * Carries out a plan inside the caller's transaction, one audit row per change, so the changes
 * and their audit trail commit together or not at all. Creates and updates run first, in an
 * order where what is referred to exists (agents before the policies, detector overrides and
 * limits that name them); deletions run last, agents last of all.
 */

const RESOURCE_TYPE: Record<Kind, string> = {
  tenant: 'tenant', settings: 'tenant_settings', agent: 'agent', policy: 'policy',
  pattern: 'dlp_pattern', detector: 'dlp_detector', allow: 'dlp_allow', limit: 'rate_limit',
};
const ACTION_PREFIX: Record<Kind, string> = {
  tenant: 'tenant', settings: 'settings', agent: 'agent', policy: 'policy',
  pattern: 'dlp_pattern', detector: 'dlp_detector', allow: 'dlp_allow', limit: 'limit',
};
const EXEC_ORDER: Kind[] = ['tenant', 'settings', 'agent', 'pattern', 'detector', 'allow', 'policy', 'limit'];
const DELETE_ORDER: Kind[] = ['limit', 'policy', 'allow', 'detector', 'pattern', 'agent'];

export interface ApplyContext {
  encryptionKey: Buffer | undefined;
  actor: AuditActor;
  /** policy_versions.author. */
  author: string;
  /** Recorded in every audit row's diff, e.g. "renlayer apply". */
  via: string;
}

/** Carries out every change of the plan; returns the tenant id (new or existing). */
export async function executePlan(tx: Queryable, plan: Plan, ctx: ApplyContext): Promise<string> {
  let tenantId = plan.tenantId;
  const agentIds = new Map<string, string>();
  const byKind = (kinds: Kind[], del: boolean) => kinds.flatMap((k) => plan.changes.filter((c) => c.kind === k && (c.op === 'delete') === del));

  const audit = async (c: Change, resourceId: string | null, extra: Record<string, unknown> = {}) => {
    const before = Object.fromEntries(c.fields.map((f) => [f.field, f.before]));
    const after = Object.fromEntries(c.fields.map((f) => [f.field, f.after]));
    await appendAudit(tx, {
      tenantId: tenantId!,
      actor: ctx.actor,
      action: `${ACTION_PREFIX[c.kind]}.${c.op}`,
      resourceType: RESOURCE_TYPE[c.kind],
      resourceId,
      diff: {
        name: c.name,
        ...(c.op !== 'create' ? { before } : {}),
        ...(c.op !== 'delete' ? { after } : {}),
        ...(c.op === 'update' ? { changed: c.fields.map((f) => f.field) } : {}),
        via: ctx.via,
        ...extra,
      },
    });
  };

  for (const c of byKind(EXEC_ORDER, false)) {
    switch (c.kind) {
      case 'tenant': {
        tenantId = (await createTenant(tx, c.desired.name)).id;
        c.id = tenantId;
        await audit(c, tenantId);
        break;
      }
      case 'settings': {
        const d = c.desired;
        await updateTenantSettings(tx, tenantId!, {
          default_action: d.default_action, enforcement: d.enforcement, store_bodies: d.store_bodies, dlpActions: d['dlp.actions'],
        });
        await audit(c, tenantId);
        break;
      }
      case 'agent': {
        const a = c.desired!;
        if (c.op === 'create') {
          const created = await insertAgent(tx, ctx.encryptionKey, {
            tenantId: tenantId!, name: a.name, description: a.description, enabled: a.enabled, upstreamType: a.type,
            ...(a.baseUrl !== null ? { upstreamUrl: a.baseUrl } : {}), modelPin: a.model, upstreamHeaders: a.headers ?? {},
          });
          agentIds.set(a.name, created.id);
          c.id = created.id;
          await audit(c, created.id);
        } else {
          const changed = new Set(c.fields.map((f) => f.field));
          const patch: AgentPatch = {};
          if (changed.has('description')) patch.description = a.description;
          if (changed.has('enabled')) patch.enabled = a.enabled;
          if (changed.has('upstream.type')) patch.upstreamType = a.type;
          if (changed.has('upstream.base_url')) patch.upstreamUrl = a.baseUrl;
          if (changed.has('upstream.model')) patch.modelPin = a.model;
          // Headers are resealed only when one of them changed: same values, same envelope.
          if ([...changed].some((f) => f.startsWith('upstream.headers.'))) patch.upstreamHeaders = a.headers ?? {};
          await updateAgent(tx, ctx.encryptionKey, tenantId!, c.id!, patch);
          await audit(c, c.id);
        }
        break;
      }
      case 'pattern': {
        const p = c.desired!;
        const id = await savePattern(tx, tenantId!, {
          name: p.name, type: p.type, pattern: p.pattern, keywords: p.keywords, severity: p.severity, appliesTo: p.appliesTo, action: p.action, enabled: p.enabled,
        }, c.id ?? undefined);
        c.id = id;
        await audit(c, id);
        break;
      }
      case 'detector': {
        const d = c.desired!;
        const ids = await agentRefs(tx, tenantId!, agentIds, d.disabledAgents);
        await saveDetectorOverride(tx, tenantId!, { class: d.class, severity: d.severity, enabled: d.enabled, disabledAgents: ids, action: d.action });
        await audit(c, d.class);
        break;
      }
      case 'allow': {
        const a = c.desired!;
        const id = await saveAllow(tx, tenantId!, { class: a.class, value: a.value, note: a.note }, c.id ?? undefined);
        c.id = id;
        await audit(c, id);
        break;
      }
      case 'policy': {
        const def = c.desired!;
        const agents = await agentRefs(tx, tenantId!, agentIds, def.scope.agents);
        const saved = await savePolicy(tx, tenantId!, { ...def, scope: { agents } }, ctx.author);
        c.id = saved.id;
        await audit(c, saved.id, { version: saved.version });
        break;
      }
      case 'limit': {
        const l = c.desired!;
        const [agentId] = l.agent === null ? [null] : await agentRefs(tx, tenantId!, agentIds, [l.agent]);
        const id = await saveLimit(tx, tenantId!, {
          agentId: agentId ?? null, name: l.name, scope: l.scope, dimension: l.dimension, window: l.window, limit: l.limit, enabled: l.enabled,
        }, c.id ?? undefined);
        c.id = id;
        await audit(c, id);
        break;
      }
    }
  }

  for (const c of byKind(DELETE_ORDER, true)) {
    switch (c.kind) {
      case 'limit': await deleteLimit(tx, tenantId!, c.id!); break;
      case 'policy': await deletePolicy(tx, tenantId!, c.name); break;
      case 'allow': await deleteAllow(tx, tenantId!, c.id!); break;
      case 'detector': await deleteDetectorOverride(tx, tenantId!, c.name); break;
      case 'pattern': await deletePattern(tx, tenantId!, c.id!); break;
      case 'agent': await deleteAgent(tx, tenantId!, c.id!); break;
      default: throw new Error(`cannot delete a ${c.kind}`);
    }
    await audit(c, c.kind === 'detector' ? c.name : c.id, c.note ? { note: c.note } : {});
  }
  return tenantId!;
}

/** Agent names → ids: created in this apply, or already stored. */
async function agentRefs(tx: Queryable, tenantId: string, created: Map<string, string>, names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const n of names) {
    let id = created.get(n);
    if (!id) {
      id = (await tx.query<{ id: string }>('SELECT id FROM renlayer.agents WHERE tenant_id = $1 AND name = $2', [tenantId, n])).rows[0]?.id;
      if (!id) throw new RenLayerError('validation_failed', `no agent named ${n} in tenant`);
      created.set(n, id);
    }
    out.push(id);
  }
  return out;
}
