import { writeFile } from 'node:fs/promises';
import type { Condition, PolicyDefinition } from '../policy/schema.js';
import type { StoredLimit } from '../store/limits.js';
import type { TenantConfiguration } from '../store/tenant-config.js';
import { JSON_OPTION, required, type Command } from './command.js';
import { KEEP_MARKER } from './config-env.js';
import { withAdminDatabase } from './runtime.js';

/**
 * `renlayer export`: a tenant's configuration in the file format `renlayer apply` reads, complete
 * (every section written, empty ones too, so applying it with --prune removes what was added
 * since) and free of secrets: upstream header values are written as ${RENLAYER_KEEP}, which
 * apply reads as "keep the stored value". Export → apply therefore changes nothing.
 */

const HEADER = `# RenLayer tenant configuration (renlayer export). Apply with: renlayer apply -f FILE [--dry-run]
# Upstream header values are not exported: ${KEEP_MARKER} keeps the stored value when applied.
# Replace it with a value or a \${VARIABLE} from the environment to set a new one.
`;

function conditionOut(c: Condition): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  // Defaults that parsePolicy fills in again: left out, as a person would write the condition.
  if (out.direction === 'any') delete out.direction;
  if (out.case_insensitive === false) delete out.case_insensitive;
  return out;
}

function policyOut(d: PolicyDefinition, agentName: (id: string) => string): Record<string, unknown> {
  const derivedStage = d.conditions.some((c) => 'direction' in c && c.direction === 'response') ? 'response' : 'request';
  return {
    name: d.name,
    ...(d.description ? { description: d.description } : {}),
    action: d.action,
    priority: d.priority,
    ...(d.enabled ? {} : { enabled: false }),
    ...(d.message !== null ? { message: d.message } : {}),
    ...(d.scope.agents.length > 0 ? { scope: { agents: d.scope.agents.map(agentName) } } : {}),
    conditions: d.conditions.map(conditionOut),
    ...(d.stage !== derivedStage ? { stage: d.stage } : {}),
  };
}

const limitOut = (l: StoredLimit) => ({
  scope: l.scope, dimension: l.dimension, window: l.window, limit: l.limit,
  ...(l.name !== null ? { name: l.name } : {}), ...(l.enabled ? {} : { enabled: false }),
});

/** The file object for a stored configuration; `warn` hears about references it cannot name. */
export function configurationToFile(c: TenantConfiguration, warn: (message: string) => void = () => {}): Record<string, unknown> {
  const names = new Map(c.agents.map((a) => [a.id, a.name]));
  const agentName = (id: string) => {
    const n = names.get(id);
    if (n === undefined) warn(`agent id ${id} is referred to but no longer exists; it is written as is and apply will refuse it until it is removed`);
    return n ?? id;
  };
  for (const a of c.agents) if (a.hasFallbacks) warn(`agent ${a.name} has fallback upstreams, which the file does not carry; apply keeps them as they are`);
  for (const p of c.invalidPolicies) warn(`policy ${p.name} is not valid as stored (${p.reason}) and is left out`);
  const detectors: Record<string, unknown> = {};
  for (const d of c.detectors) {
    const globallyOff = d.enabled === false;
    detectors[d.class] = {
      ...(d.severity ? { severity: d.severity } : {}),
      ...(d.enabled !== null ? { enabled: d.enabled } : d.disabledAgents.length > 0 ? { enabled: false } : {}),
      ...(d.disabledAgents.length > 0 && !globallyOff ? { agents: d.disabledAgents.map(agentName) } : {}),
      ...(d.action ? { action: d.action } : {}),
    };
  }
  return {
    apiVersion: 'renlayer/v1',
    tenant: c.tenant.name,
    settings: { default_action: c.tenant.default_action, enforcement: c.tenant.enforcement, store_bodies: c.tenant.store_bodies },
    agents: c.agents.map((a) => ({
      name: a.name,
      ...(a.description ? { description: a.description } : {}),
      ...(a.enabled ? {} : { enabled: false }),
      upstream: {
        type: a.upstreamType,
        base_url: a.upstreamUrl,
        headers: Object.fromEntries(Object.keys(a.headers).map((h) => [h, KEEP_MARKER])),
        model: a.modelPin,
      },
      limits: c.limits.filter((l) => l.agentId === a.id).map(limitOut),
    })),
    policies: c.policies.map((p) => policyOut(p.definition, agentName)),
    dlp: {
      detectors,
      patterns: c.patterns.map((p) => ({
        name: p.name, type: p.type,
        ...(p.type === 'regex' ? { pattern: p.pattern } : { keywords: p.keywords }),
        severity: p.severity, applies_to: p.appliesTo,
        ...(p.action ? { action: p.action } : {}), ...(p.enabled ? {} : { enabled: false }),
      })),
      allow: c.allow.map((a) => ({ class: a.class, value: a.value, ...(a.note ? { note: a.note } : {}) })),
      actions: c.tenant.dlpActions,
    },
    limits: c.limits.filter((l) => l.agentId === null).map(limitOut),
  };
}

/** Small records (conditions, limits, patterns, allow entries, detector overrides) read best one per line. */
async function toYaml(file: Record<string, unknown>): Promise<string> {
  const { Document, isMap, isSeq, visit } = await import('yaml');
  const doc = new Document(file);
  const FLOW_LISTS = new Set(['conditions', 'limits', 'patterns', 'allow', 'scope']);
  visit(doc, {
    Pair(_, pair) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? '');
      if (key === 'detectors' && isMap(pair.value)) {
        for (const d of pair.value.items) if (isMap(d.value)) d.value.flow = true;
        return;
      }
      if (!FLOW_LISTS.has(key)) return;
      if (isMap(pair.value)) pair.value.flow = true;
      if (isSeq(pair.value)) for (const item of pair.value.items) if (isMap(item)) item.flow = true;
    },
  });
  return HEADER + doc.toString({ lineWidth: 0 });
}

export const exportCommand: Command = {
  name: 'export',
  summary: "Write a tenant's configuration in the format renlayer apply reads (no secrets: header values become ${RENLAYER_KEEP}).",
  usage: 'export --tenant T [-o FILE] [--json]',
  options: {
    tenant: { type: 'string', description: 'tenant name or id' },
    output: { type: 'string', short: 'o', description: 'write to this file instead of standard output' },
    ...JSON_OPTION,
  },
  async run(args) {
    const tenant = required(args, 'tenant');
    const { resolveTenant } = await import('../store/tenants.js');
    const { readTenantConfiguration } = await import('../store/tenant-config.js');
    const stored = await withAdminDatabase(async (db, rt) => {
      const t = await resolveTenant(db, tenant);
      return db.transaction((tx) => readTenantConfiguration(tx, t.id, rt.config.encryptionKey));
    });
    const file = configurationToFile(stored, (m) => process.stderr.write(`renlayer export: warning: ${m}\n`));
    // YAML is a superset of JSON: apply reads either.
    const text = args.values.json ? JSON.stringify(file) + '\n' : await toYaml(file);
    const out = args.values.output as string | undefined;
    if (out !== undefined && out !== '-') await writeFile(out, text, { mode: 0o644 });
    else process.stdout.write(text);
  },
};
