import type { Queryable } from '../db/database.js';
import { DLP_ACTIONS, SEVERITIES, type CustomPattern, type DlpAction } from '../dlp/custom.js';
import type { TenantDlpConfig } from '../dlp/engine.js';
import type { Severity } from '../dlp/types.js';

/**
 * A tenant's DLP configuration as the engine takes it: detector overrides, custom patterns,
 * allow lists, and the severity → action mapping kept in `tenants.settings.dlp_actions`
 * (e.g. `{"CRITICAL": "redact"}`). Pass a transaction to read all of it in one snapshot.
 */
export async function loadTenantDlpConfig(db: Queryable, tenantId: string): Promise<TenantDlpConfig> {
  const overrides = await db.query<{ class: string; severity: Severity | null; enabled: boolean | null; disabled_agents: string[]; action: DlpAction | null }>(
    `SELECT class, severity, enabled, disabled_agents, action
       FROM renlayer.dlp_detector_overrides WHERE tenant_id = $1`, [tenantId]);
  const patterns = await db.query<{ name: string; type: 'regex' | 'keywords'; pattern: string | null; keywords: string[] | null; severity: Severity; applies_to: CustomPattern['appliesTo']; action: DlpAction | null; enabled: boolean }>(
    `SELECT name, type, pattern, keywords, severity, applies_to, action, enabled
       FROM renlayer.dlp_patterns WHERE tenant_id = $1 ORDER BY created_at, name`, [tenantId]);
  const allow = await db.query<{ class: string; value: string }>(
    'SELECT class, value FROM renlayer.dlp_allow_list WHERE tenant_id = $1 ORDER BY class, value', [tenantId]);
  const settings = await db.query<{ actions: unknown }>(
    `SELECT settings -> 'dlp_actions' AS actions FROM renlayer.tenants WHERE id = $1`, [tenantId]);

  const config: TenantDlpConfig = { overrides: {}, patterns: [], allow: allow.rows.map((r) => ({ class: r.class, value: r.value })) };
  for (const r of overrides.rows) {
    config.overrides[r.class] = {
      ...(r.severity ? { severity: r.severity } : {}),
      ...(r.enabled !== null ? { enabled: r.enabled } : {}),
      ...(r.disabled_agents.length > 0 ? { disabledAgents: r.disabled_agents } : {}),
      ...(r.action ? { action: r.action } : {}),
    };
  }
  for (const r of patterns.rows) {
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
  const actions = actionMapping(settings.rows[0]?.actions);
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
