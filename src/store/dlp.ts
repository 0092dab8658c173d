import type { Queryable } from '../db/database.js';
import { DLP_ACTIONS, SEVERITIES, type CustomPattern, type DlpAction } from '../dlp/custom.js';
import type { TenantDlpConfig } from '../dlp/engine.js';
import type { Severity } from '../dlp/types.js';

type OverrideRow = { class: string; severity: Severity | null; enabled: boolean | null; disabled_agents: string[]; action: DlpAction | null };
type PatternRow = { name: string; type: 'regex' | 'keywords'; pattern: string | null; keywords: string[] | null; severity: Severity; applies_to: CustomPattern['appliesTo']; action: DlpAction | null; enabled: boolean };

/** The rows of a tenant's DLP configuration, as one JSON value. */
export interface DlpConfigJson {
  overrides: OverrideRow[];
  patterns: PatternRow[];
  allow: { class: string; value: string }[];
  actions: unknown;
}

/**
 * A tenant's DLP configuration ($1 = tenant id) as one JSON expression: one statement reads it
 * in one snapshot, and the proxy reads it in the same statement as the rest of the tenant.
 */
export const DLP_CONFIG_JSON = `json_build_object(
  'overrides', (SELECT coalesce(json_agg(o), '[]'::json) FROM (
    SELECT class, severity, enabled, disabled_agents, action FROM renlayer.dlp_detector_overrides WHERE tenant_id = $1) o),
  'patterns', (SELECT coalesce(json_agg(p ORDER BY p.created_at, p.name), '[]'::json) FROM (
    SELECT name, type, pattern, keywords, severity, applies_to, action, enabled, created_at FROM renlayer.dlp_patterns WHERE tenant_id = $1) p),
  'allow', (SELECT coalesce(json_agg(a ORDER BY a.class, a.value), '[]'::json) FROM (
    SELECT class, value FROM renlayer.dlp_allow_list WHERE tenant_id = $1) a),
  'actions', (SELECT settings -> 'dlp_actions' FROM renlayer.tenants WHERE id = $1))`;

/**
 * A tenant's DLP configuration as the engine takes it: detector overrides, custom patterns,
 * allow lists, and the severity → action mapping kept in `tenants.settings.dlp_actions`
 * (e.g. `{"CRITICAL": "redact"}`).
 */
export async function loadTenantDlpConfig(db: Queryable, tenantId: string): Promise<TenantDlpConfig> {
  const r = await db.query<{ dlp: DlpConfigJson }>(`SELECT ${DLP_CONFIG_JSON} AS dlp`, [tenantId]);
  return dlpConfigFromJson(r.rows[0]!.dlp);
}

export function dlpConfigFromJson(j: DlpConfigJson): TenantDlpConfig {
  const config: TenantDlpConfig = { overrides: {}, patterns: [], allow: j.allow.map((r) => ({ class: r.class, value: r.value })) };
  for (const r of j.overrides) {
    config.overrides[r.class] = {
      ...(r.severity ? { severity: r.severity } : {}),
      ...(r.enabled !== null ? { enabled: r.enabled } : {}),
      ...(r.disabled_agents.length > 0 ? { disabledAgents: r.disabled_agents } : {}),
      ...(r.action ? { action: r.action } : {}),
    };
  }
  for (const r of j.patterns) {
    config.patterns.push({
      name: r.name,
      type: r.type,
      ...(r.pattern !== null ? { pattern: r.pattern } : {}),
      ...(r.keywords !== null ? { keywords: r.keywords } : {}),
      severity: r.severity,
      appliesTo: r.applies_to,
      ...(r.action ? { action: r.action } : {}),
      enabled: r.enabled,
    });
  }
  const actions = actionMapping(j.actions);
  if (actions) config.actions = actions;
  return config;
}

/** Only well-formed entries of the stored mapping; the settings column is free-form JSON. */
function actionMapping(v: unknown): TenantDlpConfig['actions'] | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Partial<Record<Severity, DlpAction>> = {};
  for (const [k, a] of Object.entries(v)) {
    if (SEVERITIES.includes(k as Severity) && DLP_ACTIONS.includes(a as DlpAction)) out[k as Severity] = a as DlpAction;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
