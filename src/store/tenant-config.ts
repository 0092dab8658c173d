import { RenLayerError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { openJson } from '../core/secretbox.js';
import type { Queryable } from '../db/database.js';
import { DLP_ACTIONS, SEVERITIES, type DlpAction } from '../dlp/custom.js';
import type { Severity } from '../dlp/types.js';
import type { PolicyDefinition } from '../policy/schema.js';
import { agentHeadersContext, type UpstreamType } from './agents.js';
import { translateDbError } from './errors.js';
import { listLimits, type StoredLimit } from './limits.js';
import { loadPolicies } from './policies.js';
import type { Tenant } from './tenants.js';

/**
 * A whole tenant configuration as stored (what `renlayer apply` compares a file with and
 * `renlayer export` writes out), and the writes apply needs beyond the per-resource stores.
 * Upstream headers are opened here because comparing them needs the values; callers must never
 * print them.
 */

export interface StoredAgent {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  upstreamType: UpstreamType;
  upstreamUrl: string | null;
  modelPin: string | null;
  headers: Record<string, string>;
  /** Keys not revoked: deleting the agent deletes them. */
  activeKeys: number;
  /** Fallback upstreams are not part of the file; they are kept as they are. */
  hasFallbacks: boolean;
}

export interface StoredDetector {
  class: string;
  severity: Severity | null;
  enabled: boolean | null;
  /** Agent ids. */
  disabledAgents: string[];
  action: DlpAction | null;
}

export interface StoredPattern {
  id: string;
  name: string;
  type: 'regex' | 'keywords';
  pattern: string | null;
  keywords: string[] | null;
  severity: Severity;
  appliesTo: 'request' | 'response' | 'both';
  action: DlpAction | null;
  enabled: boolean;
}

export interface StoredAllow {
  id: string;
  class: string;
  value: string;
  note: string;
}

export interface TenantConfiguration {
  tenant: Tenant & { dlpActions: Partial<Record<Severity, DlpAction>> };
  agents: StoredAgent[];
  /** scope.agents as stored (ids). */
  policies: { id: string; version: number; definition: PolicyDefinition }[];
  /** Stored policies that no longer pass validation (written by plain SQL): only prune can touch them. */
  invalidPolicies: { id: string; name: string; reason: string }[];
  detectors: StoredDetector[];
  patterns: StoredPattern[];
  allow: StoredAllow[];
  limits: StoredLimit[];
}

function openHeaders(key: Buffer | undefined, envelope: string | null, tenantId: string, agent: { id: string; name: string }): Record<string, string> {
  if (envelope === null) return {};
  if (!key) {
    throw new RenLayerError('config_invalid', `agent ${agent.name} has encrypted upstream headers: RENLAYER_ENCRYPTION_KEY is needed to read them`);
  }
  try {
    return openJson<Record<string, string>>(key, envelope, agentHeadersContext(tenantId, agent.id));
  } catch {
    throw new RenLayerError('config_invalid', `cannot decrypt the upstream headers of agent ${agent.name}: RENLAYER_ENCRYPTION_KEY differs from the one that stored them`);
  }
}

/** Only well-formed entries of `settings.dlp_actions` (the column is free-form JSON). */
function dlpActionsOf(v: unknown): Partial<Record<Severity, DlpAction>> {
  const out: Partial<Record<Severity, DlpAction>> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const s of SEVERITIES) {
    const a = (v as Record<string, unknown>)[s];
    if (DLP_ACTIONS.includes(a as DlpAction)) out[s] = a as DlpAction;
  }
  return out;
}

/** Reads everything in one snapshot: pass a transaction. */
export async function readTenantConfiguration(tx: Queryable, tenantId: string, encryptionKey: Buffer | undefined): Promise<TenantConfiguration> {
  const t = (await tx.query<Tenant & { settings: Record<string, unknown> }>(
    'SELECT id, name, default_action, enforcement, store_bodies, settings FROM renlayer.tenants WHERE id = $1', [tenantId])).rows[0];
  if (!t) throw new RenLayerError('not_found', `no tenant with id "${tenantId}"`);
  const agentRows = await tx.query<{ id: string; name: string; description: string; enabled: boolean; upstream_type: UpstreamType; upstream_url: string | null; model_pin: string | null; upstream_headers_enc: string | null; fallbacks: unknown[]; active_keys: string | number }>(
    `SELECT a.id, a.name, a.description, a.enabled, a.upstream_type, a.upstream_url, a.model_pin, a.upstream_headers_enc, a.fallbacks,
            (SELECT count(*) FROM renlayer.api_keys k WHERE k.tenant_id = a.tenant_id AND k.agent_id = a.id AND k.revoked_at IS NULL) AS active_keys
       FROM renlayer.agents a WHERE a.tenant_id = $1 ORDER BY a.created_at, a.id`, [tenantId]);
  const loaded = await loadPolicies(tx, tenantId);
  const detectors = await tx.query<{ class: string; severity: Severity | null; enabled: boolean | null; disabled_agents: string[]; action: DlpAction | null }>(
    'SELECT class, severity, enabled, disabled_agents, action FROM renlayer.dlp_detector_overrides WHERE tenant_id = $1 ORDER BY class', [tenantId]);
  const patterns = await tx.query<{ id: string; name: string; type: 'regex' | 'keywords'; pattern: string | null; keywords: string[] | null; severity: Severity; applies_to: StoredPattern['appliesTo']; action: DlpAction | null; enabled: boolean }>(
    `SELECT id, name, type, pattern, keywords, severity, applies_to, action, enabled
       FROM renlayer.dlp_patterns WHERE tenant_id = $1 ORDER BY created_at, name`, [tenantId]);
  const allow = await tx.query<StoredAllow>(
    'SELECT id, class, value, note FROM renlayer.dlp_allow_list WHERE tenant_id = $1 ORDER BY created_at, class, value', [tenantId]);
  return {
    tenant: { id: t.id, name: t.name, default_action: t.default_action, enforcement: t.enforcement, store_bodies: t.store_bodies, dlpActions: dlpActionsOf(t.settings?.dlp_actions) },
    agents: agentRows.rows.map((a) => ({
      id: a.id, name: a.name, description: a.description, enabled: a.enabled, upstreamType: a.upstream_type, upstreamUrl: a.upstream_url,
      modelPin: a.model_pin, headers: openHeaders(encryptionKey, a.upstream_headers_enc, tenantId, a), activeKeys: Number(a.active_keys),
      hasFallbacks: Array.isArray(a.fallbacks) && a.fallbacks.length > 0,
    })),
    policies: loaded.policies.map(({ id, version, createdAt: _c, ...definition }) => ({ id, version: version ?? 1, definition })),
    invalidPolicies: loaded.invalid,
    detectors: detectors.rows.map((d) => ({ class: d.class, severity: d.severity, enabled: d.enabled, disabledAgents: d.disabled_agents, action: d.action })),
    patterns: patterns.rows.map((p) => ({ id: p.id, name: p.name, type: p.type, pattern: p.pattern, keywords: p.keywords, severity: p.severity, appliesTo: p.applies_to, action: p.action, enabled: p.enabled })),
    allow: allow.rows,
    limits: await listLimits(tx, tenantId),
  };
}

/** Tenant columns and the DLP severity → action mapping (kept in settings.dlp_actions). */
export async function updateTenantSettings(tx: Queryable, tenantId: string, s: { default_action?: string; enforcement?: string; store_bodies?: string; dlpActions?: Partial<Record<Severity, DlpAction>> }): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [tenantId];
  for (const column of ['default_action', 'enforcement', 'store_bodies'] as const) {
    if (s[column] === undefined) continue;
    params.push(s[column]);
    sets.push(`${column} = $${params.length}`);
  }
  if (s.dlpActions !== undefined) {
    if (Object.keys(s.dlpActions).length === 0) {
      sets.push(`settings = settings - 'dlp_actions'`);
    } else {
      params.push(JSON.stringify(s.dlpActions));
      sets.push(`settings = jsonb_set(settings, '{dlp_actions}', $${params.length}::jsonb)`);
    }
  }
  if (sets.length === 0) return;
  await tx.query(`UPDATE renlayer.tenants SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, params);
}

export async function saveDetectorOverride(tx: Queryable, tenantId: string, d: StoredDetector): Promise<void> {
  await tx.query(
    `INSERT INTO renlayer.dlp_detector_overrides (tenant_id, class, severity, enabled, disabled_agents, action)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant_id, class) DO UPDATE SET severity = EXCLUDED.severity, enabled = EXCLUDED.enabled,
       disabled_agents = EXCLUDED.disabled_agents, action = EXCLUDED.action, updated_at = now()`,
    [tenantId, d.class, d.severity, d.enabled, d.disabledAgents, d.action]);
}

export async function deleteDetectorOverride(tx: Queryable, tenantId: string, cls: string): Promise<void> {
  await tx.query('DELETE FROM renlayer.dlp_detector_overrides WHERE tenant_id = $1 AND class = $2', [tenantId, cls]);
}

/** Creates a pattern, or (with id) rewrites that one. Validate first (validateCustomPattern). */
export async function savePattern(tx: Queryable, tenantId: string, p: Omit<StoredPattern, 'id'>, id?: string): Promise<string> {
  const values = [p.name, p.type, p.pattern, p.keywords, p.severity, p.appliesTo, p.action, p.enabled];
  try {
    if (id) {
      await tx.query(
        `UPDATE renlayer.dlp_patterns SET name = $3, type = $4, pattern = $5, keywords = $6, severity = $7, applies_to = $8,
                action = $9, enabled = $10, updated_at = now() WHERE tenant_id = $1 AND id = $2`, [tenantId, id, ...values]);
      return id;
    }
    const newPatternId = newId('pat');
    await tx.query(
      `INSERT INTO renlayer.dlp_patterns (id, tenant_id, name, type, pattern, keywords, severity, applies_to, action, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [newPatternId, tenantId, ...values]);
    return newPatternId;
  } catch (err) {
    translateDbError(err, `pattern "${p.name}"`);
  }
}

export async function deletePattern(tx: Queryable, tenantId: string, id: string): Promise<void> {
  await tx.query('DELETE FROM renlayer.dlp_patterns WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
}

/** Adds an allow-list entry, or (with id) changes its note. */
export async function saveAllow(tx: Queryable, tenantId: string, a: Omit<StoredAllow, 'id'>, id?: string): Promise<string> {
  if (id) {
    await tx.query('UPDATE renlayer.dlp_allow_list SET note = $3 WHERE tenant_id = $1 AND id = $2', [tenantId, id, a.note]);
    return id;
  }
  const newAllowId = newId('alw');
  try {
    await tx.query('INSERT INTO renlayer.dlp_allow_list (id, tenant_id, class, value, note) VALUES ($1, $2, $3, $4, $5)',
      [newAllowId, tenantId, a.class, a.value, a.note]);
  } catch (err) {
    translateDbError(err, `allowed value for ${a.class}`);
  }
  return newAllowId;
}

export async function deleteAllow(tx: Queryable, tenantId: string, id: string): Promise<void> {
  await tx.query('DELETE FROM renlayer.dlp_allow_list WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
}
