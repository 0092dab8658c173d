import { canonicalJson } from '../store/audit.js';
import type { StoredLimit } from '../store/limits.js';
import type { UpstreamType } from '../store/agents.js';
import type { StoredAgent, StoredAllow, StoredDetector, StoredPattern, TenantConfiguration } from '../store/tenant-config.js';
import type { PolicyDefinition } from '../policy/schema.js';
import type { PathSegment } from './config-env.js';
import { AGENT_DEFAULTS, type DesiredAllow, type DesiredConfig, type DesiredDetector, type DesiredLimit, type DesiredPattern } from './config-file.js';

/**
 * What `renlayer apply` would change: the file compared with what is stored, resource by
 * resource, matched by name (agents, policies, patterns), by class (detector overrides), by
 * (class, value) (allow list) and by (agent, scope, dimension, window) (limits). Pure: the plan
 * is printed as the diff and then carried out by config-apply, so the two cannot disagree.
 *
 * Sections absent from the file are not managed: nothing in them is changed, and --prune does
 * not delete from them. Within a managed section, what the file does not list is deleted only
 * with --prune; without it, it is reported as kept.
 */

export type Kind = 'tenant' | 'settings' | 'agent' | 'policy' | 'pattern' | 'detector' | 'allow' | 'limit';
export type Op = 'create' | 'update' | 'delete';

export interface FieldChange {
  field: string;
  /** Upstream header values are never here: '(set)' stands for a value. */
  before: unknown;
  after: unknown;
}

/** One change, as printed (secrets masked) and as carried out (the stored and desired records). */
export type Change = {
  op: Op;
  kind: Kind;
  /** How the file names it: agent/policy/pattern name, class, `class "value"`, limit label. */
  name: string;
  /** The stored row's id (update, delete). */
  id: string | null;
  fields: FieldChange[];
  note?: string;
} & (
  | { kind: 'tenant'; desired: { name: string }; current: null }
  | { kind: 'settings'; desired: SettingsSpec; current: SettingsSpec }
  | { kind: 'agent'; desired: ResolvedAgent | null; current: StoredAgent | null }
  | { kind: 'policy'; desired: PolicyDefinition | null; current: { id: string; version: number } | null }
  | { kind: 'pattern'; desired: DesiredPattern | null; current: StoredPattern | null }
  | { kind: 'detector'; desired: DesiredDetector | null; current: StoredDetector | null }
  | { kind: 'allow'; desired: DesiredAllow | null; current: StoredAllow | null }
  | { kind: 'limit'; desired: (DesiredLimit & { agent: string | null }) | null; current: StoredLimit | null }
);

export interface Plan {
  tenantName: string;
  /** null: the tenant does not exist yet and will be created. */
  tenantId: string | null;
  changes: Change[];
  unchanged: number;
  /** Stored resources the file does not list, kept because --prune was not given. */
  notInFile: { kind: Kind; name: string }[];
}

export interface PlanIssue {
  path: PathSegment[];
  message: string;
}

/** An agent as it will be stored: the file's keys over the stored (or default) values, headers opened. */
export interface ResolvedAgent {
  name: string;
  description: string;
  enabled: boolean;
  type: UpstreamType;
  baseUrl: string | null;
  model: string | null;
  /** Absent: the stored headers stay as they are. */
  headers?: Record<string, string>;
}

export interface SettingsSpec {
  default_action: string;
  enforcement: string;
  store_bodies: string;
  'dlp.actions': Record<string, string>;
}

/** What a new tenant starts with (the column defaults of renlayer.tenants). */
const NEW_TENANT_SETTINGS: SettingsSpec = { default_action: 'ALLOW', enforcement: 'enforce', store_bodies: 'redacted', 'dlp.actions': {} };

type Flat = Record<string, unknown>;

const SET = '(set)';
const isSecretField = (field: string) => field.startsWith('upstream.headers.');

const equal = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Changed fields between two flat records; header values masked. */
export function diffFields(before: Flat, after: Flat): FieldChange[] {
  const out: FieldChange[] = [];
  for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = before[field];
    const a = after[field];
    if (equal(b, a)) continue;
    if (isSecretField(field)) out.push({ field, before: b === undefined ? null : SET, after: a === undefined ? null : b === undefined ? SET : '(changed)' });
    else out.push({ field, before: b ?? null, after: a ?? null });
  }
  return out;
}

/** Every field of a record being created or deleted, header values masked. */
function allFields(spec: Flat, side: 'before' | 'after'): FieldChange[] {
  return Object.entries(spec).map(([field, v]) => {
    const value = isSecretField(field) ? SET : v ?? null;
    return side === 'after' ? { field, before: null, after: value } : { field, before: value, after: null };
  });
}

function agentSpec(a: { description: string; enabled: boolean; type: string; baseUrl: string | null; model: string | null }, headers: Record<string, string> | undefined): Flat {
  const spec: Flat = { description: a.description, enabled: a.enabled, 'upstream.type': a.type, 'upstream.base_url': a.baseUrl, 'upstream.model': a.model };
  for (const [k, v] of Object.entries(headers ?? {})) spec[`upstream.headers.${k}`] = v;
  return spec;
}

function policySpec(d: PolicyDefinition): Flat {
  return {
    description: d.description, action: d.action, priority: d.priority, enabled: d.enabled, message: d.message,
    'scope.agents': d.scope.agents, conditions: d.conditions, stage: d.stage,
  };
}

const patternSpec = (p: Omit<StoredPattern, 'id'>): Flat => ({
  type: p.type, pattern: p.pattern, keywords: p.keywords, severity: p.severity, applies_to: p.appliesTo, action: p.action, enabled: p.enabled,
});

const detectorSpec = (d: { severity: unknown; enabled: unknown; action: unknown }, agents: string[]): Flat => ({
  severity: d.severity, enabled: d.enabled, agents, action: d.action,
});

const limitSpec = (l: { limit: number; name: string | null; enabled: boolean }): Flat => ({ limit: l.limit, name: l.name, enabled: l.enabled });

export function limitLabel(agent: string | null, l: { scope: string; dimension: string; window: string }): string {
  return `${agent ?? 'tenant'} ${l.scope} ${l.dimension}/${l.window}`;
}

const allowLabel = (a: { class: string; value: string }) => `${a.class} ${JSON.stringify(a.value)}`;

/**
 * Resolves the file against the stored configuration and lists the changes. Problems only the
 * database can reveal (an agent name that exists nowhere, a kept header that is not stored) are
 * returned as issues; the caller refuses the file when there are any.
 */
export function planApply(file: DesiredConfig, stored: TenantConfiguration | null, opts: { prune: boolean }): { plan: Plan; issues: PlanIssue[] } {
  const issues: PlanIssue[] = [];
  const changes: Change[] = [];
  const notInFile: Plan['notInFile'] = [];
  let unchanged = 0;
  const prune = opts.prune;
  const storedAgents = stored?.agents ?? [];
  const nameOfAgent = new Map(storedAgents.map((a) => [a.id, a.name]));
  const storedAgentByName = new Map(storedAgents.map((a) => [a.name, a]));
  const fileAgents = new Set((file.agents ?? []).map((a) => a.name));

  /** Agents that will exist once the file is applied. */
  const prunedAgents = new Set(file.agents && prune ? storedAgents.filter((a) => !fileAgents.has(a.name)).map((a) => a.name) : []);
  const agentWillExist = (name: string) => fileAgents.has(name) || (storedAgentByName.has(name) && !prunedAgents.has(name));
  const checkAgentRef = (name: string, path: PathSegment[]) => {
    if (agentWillExist(name)) return;
    issues.push({ path, message: prunedAgents.has(name)
      ? `agent ${name} is not in the file, so --prune would delete it; list it under agents or drop this reference`
      : `no agent named ${name} in the file or in tenant ${file.tenant}` });
  };

  const record = (c: Change) => changes.push(c);
  const keep = (kind: Kind, name: string) => notInFile.push({ kind, name });

  if (!stored) record({ op: 'create', kind: 'tenant', name: file.tenant, id: null, fields: [], desired: { name: file.tenant }, current: null, note: 'the tenant does not exist yet' });

  // Settings: only the keys the file sets are compared (the others keep their value).
  const currentSettings: SettingsSpec = stored
    ? { default_action: stored.tenant.default_action, enforcement: stored.tenant.enforcement, store_bodies: stored.tenant.store_bodies, 'dlp.actions': stored.tenant.dlpActions }
    : NEW_TENANT_SETTINGS;
  const desiredSettings: SettingsSpec = {
    ...currentSettings, ...file.settings, ...(file.dlp.actions !== undefined ? { 'dlp.actions': file.dlp.actions } : {}),
  };
  const settingsFields = diffFields(currentSettings as unknown as Flat, desiredSettings as unknown as Flat);
  if (settingsFields.length > 0) record({ op: 'update', kind: 'settings', name: 'settings', id: stored?.tenant.id ?? null, fields: settingsFields, desired: desiredSettings, current: currentSettings });

  // Agents: keys the file leaves out keep the stored value (or the default, for a new agent).
  for (const a of file.agents ?? []) {
    const cur = storedAgentByName.get(a.name);
    let headers: Record<string, string> | undefined;
    if (a.upstream.headers !== undefined) {
      headers = {};
      for (const [h, spec] of Object.entries(a.upstream.headers)) {
        if (!spec.keep) headers[h] = spec.value;
        else if (cur && cur.headers[h] !== undefined) headers[h] = cur.headers[h]!;
        else issues.push({ path: [...a.at, 'upstream', 'headers', h], message: cur ? `\${RENLAYER_KEEP} keeps the stored value, but agent ${a.name} has no stored header ${h}` : `\${RENLAYER_KEEP} keeps the stored value, but agent ${a.name} does not exist yet; give the value` });
      }
    }
    const base = cur
      ? { description: cur.description, enabled: cur.enabled, type: cur.upstreamType, baseUrl: cur.upstreamUrl, model: cur.modelPin }
      : AGENT_DEFAULTS;
    const resolved: ResolvedAgent = {
      name: a.name,
      description: a.description ?? base.description,
      enabled: a.enabled ?? base.enabled,
      type: a.upstream.type ?? base.type,
      baseUrl: a.upstream.baseUrl !== undefined ? a.upstream.baseUrl : base.baseUrl,
      model: a.upstream.model !== undefined ? a.upstream.model : base.model,
      ...(headers ? { headers } : {}),
    };
    const want = agentSpec(resolved, headers);
    if (!cur) {
      record({ op: 'create', kind: 'agent', name: a.name, id: null, fields: allFields(want, 'after'), desired: resolved, current: null, note: 'no API key: mint one with renlayer key create' });
      continue;
    }
    // Headers the file does not give are not compared: their absence means "not managed here".
    const have = agentSpec(base, headers === undefined ? undefined : cur.headers);
    const fields = diffFields(have, want);
    if (fields.length > 0) record({ op: 'update', kind: 'agent', name: a.name, id: cur.id, fields, desired: resolved, current: cur });
    else unchanged++;
  }

  // Policies: compared in names (stored scopes hold agent ids).
  const storedPolicies = new Map((stored?.policies ?? []).map((p) => [p.definition.name, p]));
  for (const p of file.policies ?? []) {
    p.definition.scope.agents.forEach((n, j) => checkAgentRef(n, [...p.at, 'scope', 'agents', j]));
    const cur = storedPolicies.get(p.definition.name);
    const invalid = stored?.invalidPolicies.find((x) => x.name === p.definition.name);
    if (!cur && !invalid) {
      record({ op: 'create', kind: 'policy', name: p.definition.name, id: null, fields: allFields(policySpec(p.definition), 'after'), desired: p.definition, current: null });
      continue;
    }
    if (invalid) {
      record({ op: 'update', kind: 'policy', name: p.definition.name, id: invalid.id, fields: allFields(policySpec(p.definition), 'after'), desired: p.definition, current: { id: invalid.id, version: 0 }, note: 'the stored version is not valid' });
      continue;
    }
    const have: PolicyDefinition = { ...cur!.definition, scope: { agents: cur!.definition.scope.agents.map((id) => nameOfAgent.get(id) ?? id) } };
    // The same comparison savePolicy makes, so the plan and the version bump agree.
    if (JSON.stringify(have) === JSON.stringify(p.definition)) {
      unchanged++;
      continue;
    }
    record({ op: 'update', kind: 'policy', name: p.definition.name, id: cur!.id, fields: diffFields(policySpec(have), policySpec(p.definition)), desired: p.definition, current: { id: cur!.id, version: cur!.version } });
  }

  // Custom patterns.
  const storedPatterns = new Map((stored?.patterns ?? []).map((p) => [p.name, p]));
  for (const p of file.dlp.patterns ?? []) {
    const cur = storedPatterns.get(p.name);
    const want = patternSpec(p);
    if (!cur) record({ op: 'create', kind: 'pattern', name: p.name, id: null, fields: allFields(want, 'after'), desired: p, current: null });
    else {
      const fields = diffFields(patternSpec(cur), want);
      if (fields.length > 0) record({ op: 'update', kind: 'pattern', name: p.name, id: cur.id, fields, desired: p, current: cur });
      else unchanged++;
    }
  }

  // Detector overrides.
  const storedDetectors = new Map((stored?.detectors ?? []).map((d) => [d.class, d]));
  for (const d of file.dlp.detectors ?? []) {
    d.disabledAgents.forEach((n, j) => checkAgentRef(n, [...d.at, 'agents', j]));
    const cur = storedDetectors.get(d.class);
    const want = detectorSpec(d, d.disabledAgents);
    if (!cur) record({ op: 'create', kind: 'detector', name: d.class, id: null, fields: allFields(want, 'after'), desired: d, current: null });
    else {
      const fields = diffFields(detectorSpec(cur, cur.disabledAgents.map((id) => nameOfAgent.get(id) ?? id)), want);
      if (fields.length > 0) record({ op: 'update', kind: 'detector', name: d.class, id: null, fields, desired: d, current: cur });
      else unchanged++;
    }
  }

  // Allow list: the entry is its (class, value); only the note can change.
  const storedAllow = new Map((stored?.allow ?? []).map((a) => [allowLabel(a), a]));
  for (const a of file.dlp.allow ?? []) {
    const cur = storedAllow.get(allowLabel(a));
    if (!cur) record({ op: 'create', kind: 'allow', name: allowLabel(a), id: null, fields: allFields({ note: a.note }, 'after'), desired: a, current: null });
    else if (cur.note !== a.note) record({ op: 'update', kind: 'allow', name: allowLabel(a), id: cur.id, fields: diffFields({ note: cur.note }, { note: a.note }), desired: a, current: cur });
    else unchanged++;
  }

  // Limits, in groups: tenant-wide (top-level `limits`) and per agent (the agent's `limits`).
  const limitKey = (agent: string | null, l: { scope: string; dimension: string; window: string }) => `${agent ?? ''}|${l.scope}|${l.dimension}|${l.window}`;
  const storedLimits = new Map<string, StoredLimit>();
  const matchedLimits = new Set<string>();
  for (const l of stored?.limits ?? []) {
    const key = limitKey(l.agentId === null ? null : nameOfAgent.get(l.agentId) ?? l.agentId, l);
    if (!storedLimits.has(key)) storedLimits.set(key, l);
  }
  const managedGroups = new Set<string | null>();
  const desiredLimits: (DesiredLimit & { agent: string | null })[] = [];
  for (const a of file.agents ?? []) {
    if (!a.limits) continue;
    managedGroups.add(a.name);
    desiredLimits.push(...a.limits.map((l) => ({ ...l, agent: a.name })));
  }
  if (file.limits) {
    managedGroups.add(null);
    desiredLimits.push(...file.limits.map((l) => ({ ...l, agent: null })));
  }
  for (const l of desiredLimits) {
    const cur = storedLimits.get(limitKey(l.agent, l));
    const label = limitLabel(l.agent, l);
    if (!cur) {
      record({ op: 'create', kind: 'limit', name: label, id: null, fields: allFields(limitSpec(l), 'after'), desired: l, current: null });
      continue;
    }
    matchedLimits.add(cur.id);
    const fields = diffFields(limitSpec(cur), limitSpec(l));
    if (fields.length > 0) record({ op: 'update', kind: 'limit', name: label, id: cur.id, fields, desired: l, current: cur });
    else unchanged++;
  }

  // What the file no longer lists, in the sections it manages: deleted with --prune, else kept.
  const gone = <T>(kind: Kind, name: string, id: string | null, current: T, spec: Flat, note?: string) => {
    if (!prune) return keep(kind, name);
    record({ op: 'delete', kind, name, id, fields: allFields(spec, 'before'), current, desired: null, ...(note ? { note } : {}) } as Change);
  };
  if (file.policies) {
    const listed = new Set(file.policies.map((p) => p.definition.name));
    for (const p of stored?.policies ?? []) if (!listed.has(p.definition.name)) gone('policy', p.definition.name, p.id, { id: p.id, version: p.version }, policySpec(p.definition));
    for (const p of stored?.invalidPolicies ?? []) if (!listed.has(p.name)) gone('policy', p.name, p.id, { id: p.id, version: 0 }, {}, 'the stored version is not valid');
  }
  if (file.dlp.patterns) {
    const listed = new Set(file.dlp.patterns.map((p) => p.name));
    for (const p of stored?.patterns ?? []) if (!listed.has(p.name)) gone('pattern', p.name, p.id, p, patternSpec(p));
  }
  if (file.dlp.detectors) {
    const listed = new Set(file.dlp.detectors.map((d) => d.class));
    for (const d of stored?.detectors ?? []) {
      if (!listed.has(d.class)) gone('detector', d.class, null, d, detectorSpec(d, d.disabledAgents.map((id) => nameOfAgent.get(id) ?? id)), 'back to the built-in defaults');
    }
  }
  if (file.dlp.allow) {
    const listed = new Set(file.dlp.allow.map(allowLabel));
    for (const a of stored?.allow ?? []) if (!listed.has(allowLabel(a))) gone('allow', allowLabel(a), a.id, a, { note: a.note });
  }
  for (const l of stored?.limits ?? []) {
    const agent = l.agentId === null ? null : nameOfAgent.get(l.agentId) ?? l.agentId;
    // A pruned agent's limits go with it (foreign key): not listed twice.
    if (matchedLimits.has(l.id) || !managedGroups.has(agent) || (agent !== null && prunedAgents.has(agent))) continue;
    gone('limit', limitLabel(agent, l), l.id, l, limitSpec(l));
  }
  if (file.agents) {
    for (const a of storedAgents) {
      if (fileAgents.has(a.name)) continue;
      const limits = (stored?.limits ?? []).filter((l) => l.agentId === a.id).length;
      const goes = [a.activeKeys > 0 ? `${a.activeKeys} active API key${a.activeKeys === 1 ? '' : 's'}` : '', limits > 0 ? `${limits} limit${limits === 1 ? '' : 's'}` : ''].filter(Boolean);
      gone('agent', a.name, a.id, a,
        agentSpec({ description: a.description, enabled: a.enabled, type: a.upstreamType, baseUrl: a.upstreamUrl, model: a.modelPin }, a.headers),
        goes.length > 0 ? `deletes its ${goes.join(' and ')}` : undefined);
    }
  }

  notInFile.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  return { plan: { tenantName: file.tenant, tenantId: stored?.tenant.id ?? null, changes: sortChanges(changes), unchanged, notInFile }, issues };
}

const KIND_ORDER: Kind[] = ['tenant', 'settings', 'agent', 'policy', 'pattern', 'detector', 'allow', 'limit'];

/** The diff reads by kind, in the file's order, deletions after the rest of their kind. */
function sortChanges(changes: Change[]): Change[] {
  return changes
    .map((c, i) => ({ c, i }))
    .sort((a, b) => KIND_ORDER.indexOf(a.c.kind) - KIND_ORDER.indexOf(b.c.kind) || Number(a.c.op === 'delete') - Number(b.c.op === 'delete') || a.i - b.i)
    .map(({ c }) => c);
}
