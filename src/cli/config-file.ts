import { LineCounter, parseDocument, type Document } from 'yaml';
import { RenLayerError } from '../core/errors.js';
import { DLP_ACTIONS, SEVERITIES, validateCustomPattern, type CustomPattern, type DlpAction } from '../dlp/custom.js';
import { BUILTIN_CLASSES } from '../dlp/detectors/index.js';
import type { Severity } from '../dlp/types.js';
import { LIMIT_DIMENSIONS, LIMIT_SCOPES, LIMIT_WINDOWS, type LimitDimension, type LimitScope, type LimitWindow } from '../limits/types.js';
import { parsePolicy, type PolicyDefinition } from '../policy/schema.js';
import { checkUpstreamHeaders, checkUpstreamUrl, UPSTREAM_TYPES, type UpstreamType } from '../store/agents.js';
import type { StoredPattern } from '../store/tenant-config.js';
import { formatPath, KEEP_MARKER, substituteEnv, type PathSegment } from './config-env.js';

/**
 * The declarative tenant configuration file (SPEC §13), parsed and checked as a whole before
 * anything is written: every problem is reported with its place in the file
 * (`policies[1].conditions[0].op (line 23): …`), using the same validators as the API — parsePolicy,
 * validateCustomPattern, the limit enums, the upstream URL and header checks. Pure apart from
 * reading the environment for `${VAR}`. What needs the database (agent names, kept headers) is
 * checked by the planner, still before any write.
 */

export const API_VERSION = 'renlayer/v1';

export const TENANT_DEFAULT_ACTIONS = ['ALLOW', 'DENY'] as const;
export const ENFORCEMENTS = ['enforce', 'flag_only'] as const;
export const STORE_BODIES = ['none', 'redacted', 'redacted_and_encrypted'] as const;

export interface Settings {
  default_action?: (typeof TENANT_DEFAULT_ACTIONS)[number];
  enforcement?: (typeof ENFORCEMENTS)[number];
  store_bodies?: (typeof STORE_BODIES)[number];
}

/** A header value to write, or the marker to keep the stored one. */
export type HeaderSpec = { keep: false; value: string } | { keep: true };

export interface DesiredLimit {
  at: PathSegment[];
  scope: LimitScope;
  dimension: LimitDimension;
  window: LimitWindow;
  limit: number;
  name: string | null;
  enabled: boolean;
}

/**
 * An agent carries operational state (its upstream, its credentials) that a partial file, such as
 * one that only sets limits, must not reset: every key left out keeps the stored value (a new
 * agent gets the default). `null` clears base_url and model.
 */
export interface DesiredAgent {
  at: PathSegment[];
  name: string;
  description?: string;
  enabled?: boolean;
  upstream: { type?: UpstreamType; baseUrl?: string | null; model?: string | null; headers?: Record<string, HeaderSpec> };
  /** Absent: this agent's limits are not managed by the file. */
  limits?: DesiredLimit[];
}

export const AGENT_DEFAULTS = { description: '', enabled: true, type: 'openai' as UpstreamType, baseUrl: null, model: null };

export interface DesiredPolicy {
  at: PathSegment[];
  /** scope.agents holds agent names, resolved to ids when saved. */
  definition: PolicyDefinition;
}

export interface DesiredDetector {
  at: PathSegment[];
  class: string;
  severity: Severity | null;
  enabled: boolean | null;
  /** Agent names for which the class is not scanned. */
  disabledAgents: string[];
  action: DlpAction | null;
}

export type DesiredPattern = Omit<StoredPattern, 'id'> & { at: PathSegment[] };

export interface DesiredAllow {
  at: PathSegment[];
  class: string;
  value: string;
  note: string;
}

/** A section that is absent (undefined) is not managed by the file: apply and --prune leave it alone. */
export interface DesiredConfig {
  tenant: string;
  settings: Settings;
  agents?: DesiredAgent[];
  policies?: DesiredPolicy[];
  dlp: {
    detectors?: DesiredDetector[];
    patterns?: DesiredPattern[];
    allow?: DesiredAllow[];
    /** Severity → action; when present it is the whole mapping (unlisted severities use the default). */
    actions?: Partial<Record<Severity, DlpAction>>;
  };
  /** Tenant-wide limits (no agent). */
  limits?: DesiredLimit[];
  /** Paths whose value came from the environment. */
  fromEnv: Set<string>;
}

export interface FileIssue {
  path: string;
  line: number | null;
  message: string;
}

/** Everything wrong with a file, as one error: `validation_failed`, each issue on its own line. */
export class ConfigFileInvalid extends RenLayerError {
  constructor(readonly issues: FileIssue[], what = 'the configuration file is not valid') {
    super('validation_failed', `${what}; nothing was changed\n${issues.map(formatIssue).join('\n')}`, { issues });
  }
}

export function formatIssue(i: FileIssue): string {
  const where = i.path === '' ? (i.line === null ? '' : `line ${i.line}`) : i.line === null ? i.path : `${i.path} (line ${i.line})`;
  return `  ${where}${where ? ': ' : ''}${i.message}`;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const CLASS = /^[a-z]+\.[A-Za-z0-9_.-]+$/;
const BUILTIN = new Set(BUILTIN_CLASSES);

/** Collects issues with their path; the line is filled in from the YAML document at the end. */
class Checker {
  readonly issues: { path: PathSegment[]; message: string }[] = [];

  add(path: PathSegment[], message: string): void {
    this.issues.push({ path, message });
  }

  record(v: unknown, path: PathSegment[], keys: readonly string[], what: string): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.add(path, `must be a mapping (${what})`);
      return undefined;
    }
    for (const k of Object.keys(v)) if (!keys.includes(k)) this.add([...path, k], `unknown key; ${what} has ${keys.join(', ')}`);
    return v as Record<string, unknown>;
  }

  list(v: unknown, path: PathSegment[], what: string): unknown[] | undefined {
    if (v === null) return [];
    if (!Array.isArray(v)) {
      this.add(path, `must be a list of ${what}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(v: unknown, path: PathSegment[], allowed: readonly T[], fallback?: T): T | undefined {
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      this.add(path, `must be one of ${allowed.join(', ')}`);
      return undefined;
    }
    return v as T;
  }

  bool(v: unknown, path: PathSegment[], fallback: boolean): boolean {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.add(path, 'must be true or false');
    return v === true;
  }

  text(v: unknown, path: PathSegment[], opts: { max?: number; nullable?: boolean } = {}): string | null {
    if ((v === undefined || v === null) && opts.nullable) return null;
    if (typeof v !== 'string' || v === '') {
      this.add(path, typeof v === 'number' || typeof v === 'boolean' ? 'must be a string; quote it' : 'must be a non-empty string');
      return null;
    }
    if (v.length > (opts.max ?? 4096)) this.add(path, `must be at most ${opts.max ?? 4096} characters`);
    return v;
  }

  name(v: unknown, path: PathSegment[]): string | null {
    const s = this.text(v, path, { max: 63 });
    if (s !== null && !NAME.test(s)) this.add(path, "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
    return s;
  }

  /** A RenLayerError from a shared validator, as an issue at path. */
  refusal(err: unknown, path: PathSegment[]): void {
    if (!(err instanceof RenLayerError)) throw err;
    this.add(path, err.message);
  }

  /** Names must be unique within a list: the file matches resources by name. */
  unique(items: { at: PathSegment[]; key: string }[], what: string): void {
    const seen = new Map<string, PathSegment[]>();
    for (const it of items) {
      const first = seen.get(it.key);
      if (first) this.add(it.at, `${what} ${it.key} is listed twice (first at ${formatPath(first)})`);
      else seen.set(it.key, it.at);
    }
  }
}

function checkClass(c: Checker, cls: unknown, path: PathSegment[]): string | null {
  if (typeof cls !== 'string' || !CLASS.test(cls)) {
    c.add(path, 'must be a DLP class such as pii.email or custom.<pattern name>');
    return null;
  }
  if (cls.startsWith('custom.')) {
    if (!NAME.test(cls.slice('custom.'.length))) c.add(path, 'custom.<name> needs a valid pattern name');
  } else if (!BUILTIN.has(cls)) {
    c.add(path, `"${cls}" is not a built-in DLP class (see docs/dlp.md) nor custom.<pattern name>`);
  }
  return cls;
}

function parseLimits(c: Checker, v: unknown, at: PathSegment[]): DesiredLimit[] | undefined {
  const items = c.list(v, at, '{scope, dimension, window, limit}');
  if (!items) return undefined;
  const out: DesiredLimit[] = [];
  items.forEach((item, i) => {
    const p = [...at, i];
    const r = c.record(item, p, ['scope', 'dimension', 'window', 'limit', 'name', 'enabled'], 'a limit');
    if (!r) return;
    const scope = c.oneOf(r.scope, [...p, 'scope'], LIMIT_SCOPES);
    const dimension = c.oneOf(r.dimension, [...p, 'dimension'], LIMIT_DIMENSIONS);
    const window = c.oneOf(r.window, [...p, 'window'], LIMIT_WINDOWS);
    const limit = r.limit;
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) {
      c.add([...p, 'limit'], 'must be a number above 0');
    } else if (dimension !== 'cost_usd' && !Number.isSafeInteger(limit)) {
      c.add([...p, 'limit'], `must be a whole number of ${dimension}`);
    }
    const name = c.text(r.name, [...p, 'name'], { max: 200, nullable: true });
    const enabled = c.bool(r.enabled, [...p, 'enabled'], true);
    if (scope && dimension && window && typeof limit === 'number') out.push({ at: p, scope, dimension, window, limit, name, enabled });
  });
  c.unique(out.map((l) => ({ at: l.at, key: `${l.scope} ${l.dimension}/${l.window}` })), 'the limit');
  return out;
}

function parseHeaders(c: Checker, v: unknown, at: PathSegment[]): Record<string, HeaderSpec> | undefined {
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    c.add(at, 'must be a mapping of header name to value');
    return undefined;
  }
  const out: Record<string, HeaderSpec> = {};
  const lower = new Map<string, string>();
  for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
    const p = [...at, name];
    const seen = lower.get(name.toLowerCase());
    if (seen !== undefined) c.add(p, `the same header as ${seen} (header names are case-insensitive)`);
    lower.set(name.toLowerCase(), name);
    if (typeof value !== 'string') {
      c.add(p, 'must be a string (quote it)');
      continue;
    }
    if (value === KEEP_MARKER) {
      out[name] = { keep: true };
      continue;
    }
    try {
      checkUpstreamHeaders({ [name]: value });
      out[name] = { keep: false, value };
    } catch (err) {
      c.refusal(err, p);
    }
  }
  return out;
}

function parseAgent(c: Checker, item: unknown, at: PathSegment[]): DesiredAgent | undefined {
  const r = c.record(item, at, ['name', 'description', 'enabled', 'upstream', 'limits'], 'an agent');
  if (!r) return undefined;
  const name = c.name(r.name, [...at, 'name']);
  const agent: DesiredAgent = { at, name: name ?? '', upstream: {} };
  if (r.description !== undefined) agent.description = r.description === null ? '' : c.text(r.description, [...at, 'description'], { max: 2000 }) ?? '';
  if (r.enabled !== undefined) agent.enabled = c.bool(r.enabled, [...at, 'enabled'], true);
  const up = at.concat('upstream');
  const u = r.upstream === undefined || r.upstream === null ? {} : c.record(r.upstream, up, ['type', 'base_url', 'headers', 'model'], 'upstream');
  if (u?.type !== undefined) agent.upstream.type = c.oneOf(u.type, [...up, 'type'], UPSTREAM_TYPES);
  if (u?.base_url === null) agent.upstream.baseUrl = null;
  else if (u?.base_url !== undefined) {
    const raw = c.text(u.base_url, [...up, 'base_url'], { max: 2048 });
    if (raw !== null) {
      try {
        agent.upstream.baseUrl = checkUpstreamUrl(raw);
      } catch (err) {
        c.refusal(err, [...up, 'base_url']);
      }
    }
  }
  if (u?.model !== undefined) agent.upstream.model = c.text(u.model, [...up, 'model'], { max: 256, nullable: true });
  if (u?.headers !== undefined) agent.upstream.headers = parseHeaders(c, u.headers, [...up, 'headers']);
  if (r.limits !== undefined) agent.limits = parseLimits(c, r.limits, [...at, 'limits']);
  return name === null ? undefined : agent;
}

function parsePolicyAt(c: Checker, item: unknown, at: PathSegment[]): DesiredPolicy | undefined {
  try {
    return { at, definition: parsePolicy(item) };
  } catch (err) {
    if (!(err instanceof RenLayerError)) throw err;
    // parsePolicy names the field it refused (`conditions[0].op: …`): put it under this policy.
    const field = typeof err.details?.field === 'string' ? err.details.field : '';
    const message = field && err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message;
    c.add([...at, ...fieldPath(field)], message);
    return undefined;
  }
}

/** `conditions[0].op` → ['conditions', 0, 'op']. */
function fieldPath(field: string): PathSegment[] {
  if (field === '' || field === 'policy') return [];
  const out: PathSegment[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

function parseDetectors(c: Checker, v: unknown, at: PathSegment[]): DesiredDetector[] | undefined {
  if (v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) {
    c.add(at, 'must be a mapping of DLP class to {severity, enabled, agents, action}');
    return undefined;
  }
  const out: DesiredDetector[] = [];
  for (const [cls, value] of Object.entries(v as Record<string, unknown>)) {
    const p = [...at, cls];
    checkClass(c, cls, p);
    const r = value === null ? {} : c.record(value, p, ['severity', 'enabled', 'agents', 'action'], 'a detector override');
    if (!r) continue;
    const severity = r.severity === undefined || r.severity === null ? null : c.oneOf(r.severity, [...p, 'severity'], SEVERITIES) ?? null;
    const action = r.action === undefined || r.action === null ? null : c.oneOf(r.action, [...p, 'action'], DLP_ACTIONS) ?? null;
    let enabled: boolean | null = r.enabled === undefined || r.enabled === null ? null : c.bool(r.enabled, [...p, 'enabled'], true);
    let disabledAgents: string[] = [];
    if (r.agents !== undefined && r.agents !== null) {
      // `{enabled: false, agents: [a, b]}` disables the class for those agents only (SPEC §6).
      const names = c.list(r.agents, [...p, 'agents'], 'agent names') ?? [];
      disabledAgents = names.map((n, i) => c.name(n, [...p, 'agents', i])).filter((n): n is string => n !== null);
      if (enabled !== false) c.add([...p, 'agents'], 'lists the agents a detector is disabled for: write enabled: false with it');
      enabled = null;
    }
    out.push({ at: p, class: cls, severity, enabled, disabledAgents, action });
  }
  return out;
}

function parsePatterns(c: Checker, v: unknown, at: PathSegment[]): DesiredPattern[] | undefined {
  const items = c.list(v, at, 'custom patterns');
  if (!items) return undefined;
  const out: DesiredPattern[] = [];
  items.forEach((item, i) => {
    const p = [...at, i];
    const r = c.record(item, p, ['name', 'type', 'pattern', 'keywords', 'severity', 'applies_to', 'action', 'enabled'], 'a custom pattern');
    if (!r) return;
    const name = c.name(r.name, [...p, 'name']);
    const type = c.oneOf(r.type, [...p, 'type'], ['regex', 'keywords'] as const);
    if (type === 'regex' && r.keywords !== undefined) c.add([...p, 'keywords'], 'a regex pattern takes pattern, not keywords');
    if (type === 'keywords' && r.pattern !== undefined) c.add([...p, 'pattern'], 'a keywords pattern takes keywords, not pattern');
    const pattern = type === 'regex' ? c.text(r.pattern, [...p, 'pattern']) : null;
    let keywords: string[] | null = null;
    if (type === 'keywords') {
      const list = c.list(r.keywords, [...p, 'keywords'], 'keywords') ?? [];
      keywords = list.map((k, j) => c.text(k, [...p, 'keywords', j], { max: 200 })).filter((k): k is string => k !== null);
    }
    const severity = c.oneOf(r.severity, [...p, 'severity'], SEVERITIES, 'HIGH');
    const appliesTo = c.oneOf(r.applies_to, [...p, 'applies_to'], ['request', 'response', 'both'] as const, 'both');
    const action = r.action === undefined || r.action === null ? null : c.oneOf(r.action, [...p, 'action'], DLP_ACTIONS) ?? null;
    const enabled = c.bool(r.enabled, [...p, 'enabled'], true);
    if (name === null || !type || !severity || !appliesTo) return;
    const candidate: CustomPattern = {
      name, type, severity, appliesTo, enabled,
      ...(pattern !== null ? { pattern } : {}), ...(keywords !== null ? { keywords } : {}), ...(action ? { action } : {}),
    };
    try {
      validateCustomPattern(candidate);
    } catch (err) {
      c.refusal(err, [...p, type === 'regex' ? 'pattern' : 'keywords']);
      return;
    }
    out.push({ at: p, name, type, pattern, keywords, severity, appliesTo, action, enabled });
  });
  c.unique(out.map((x) => ({ at: x.at, key: x.name })), 'the pattern');
  return out;
}

function parseAllow(c: Checker, v: unknown, at: PathSegment[]): DesiredAllow[] | undefined {
  const items = c.list(v, at, '{class, value}');
  if (!items) return undefined;
  const out: DesiredAllow[] = [];
  items.forEach((item, i) => {
    const p = [...at, i];
    const r = c.record(item, p, ['class', 'value', 'note'], 'an allow-list entry');
    if (!r) return;
    const cls = checkClass(c, r.class, [...p, 'class']);
    const value = c.text(r.value, [...p, 'value'], { max: 1000 });
    const note = r.note === undefined || r.note === null ? '' : c.text(r.note, [...p, 'note'], { max: 1000 }) ?? '';
    if (cls !== null && value !== null) out.push({ at: p, class: cls, value, note });
  });
  c.unique(out.map((x) => ({ at: x.at, key: `${x.class} "${x.value}"` })), 'the allowed value');
  return out;
}

function parseActions(c: Checker, v: unknown, at: PathSegment[]): Partial<Record<Severity, DlpAction>> | undefined {
  const r = v === null ? {} : c.record(v, at, SEVERITIES, 'the severity → action mapping');
  if (!r) return undefined;
  const out: Partial<Record<Severity, DlpAction>> = {};
  for (const [sev, action] of Object.entries(r)) {
    const a = c.oneOf(action, [...at, sev], DLP_ACTIONS);
    if (a) out[sev as Severity] = a;
  }
  return out;
}

function parseSettings(c: Checker, v: unknown): Settings {
  const r = v === null ? {} : c.record(v, ['settings'], ['default_action', 'enforcement', 'store_bodies'], 'settings');
  const out: Settings = {};
  if (!r) return out;
  if (r.default_action !== undefined) out.default_action = c.oneOf(r.default_action, ['settings', 'default_action'], TENANT_DEFAULT_ACTIONS);
  if (r.enforcement !== undefined) out.enforcement = c.oneOf(r.enforcement, ['settings', 'enforcement'], ENFORCEMENTS);
  if (r.store_bodies !== undefined) out.store_bodies = c.oneOf(r.store_bodies, ['settings', 'store_bodies'], STORE_BODIES);
  return out;
}

/** The line of the node at path, or of its nearest ancestor present in the file. */
function lineOf(doc: Document, lines: LineCounter, path: PathSegment[]): number | null {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    // A key missing from the file (or null): the nearest ancestor that is there.
    if (range) return lines.linePos(range[0]).line;
  }
  return null;
}

/** Parses and checks the whole file; throws ConfigFileInvalid listing every problem. */
export function parseConfigFile(text: string, env: NodeJS.ProcessEnv = process.env): DesiredConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigFileInvalid(doc.errors.map((e) => ({
      path: '', line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line, message: e.message.split('\n')[0]!,
    })), 'the file is not valid YAML');
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigFileInvalid([{ path: '', line: null, message: (err as Error).message }], 'the file is not valid YAML');
  }
  const c = new Checker();
  const substituted = substituteEnv(raw, env);
  for (const i of substituted.issues) c.add(i.path, i.message);
  const top = c.record(substituted.value, [], ['apiVersion', 'tenant', 'settings', 'agents', 'policies', 'dlp', 'limits'], 'the file') ?? {};

  if (top.apiVersion !== API_VERSION) c.add(['apiVersion'], `must be ${API_VERSION}`);
  const tenant = c.name(top.tenant, ['tenant']) ?? '';
  const settings = top.settings === undefined ? {} : parseSettings(c, top.settings);

  let agents: DesiredAgent[] | undefined;
  if (top.agents !== undefined) {
    const items = c.list(top.agents, ['agents'], 'agents');
    agents = (items ?? []).map((a, i) => parseAgent(c, a, ['agents', i])).filter((a): a is DesiredAgent => a !== undefined);
    c.unique(agents.map((a) => ({ at: [...a.at, 'name'], key: a.name })), 'the agent');
  }
  let policies: DesiredPolicy[] | undefined;
  if (top.policies !== undefined) {
    const items = c.list(top.policies, ['policies'], 'policies');
    policies = (items ?? []).map((p, i) => parsePolicyAt(c, p, ['policies', i])).filter((p): p is DesiredPolicy => p !== undefined);
    c.unique(policies.map((p) => ({ at: [...p.at, 'name'], key: p.definition.name })), 'the policy');
  }
  const dlp: DesiredConfig['dlp'] = {};
  if (top.dlp !== undefined && top.dlp !== null) {
    const d = c.record(top.dlp, ['dlp'], ['detectors', 'patterns', 'allow', 'actions'], 'dlp');
    if (d) {
      if (d.detectors !== undefined) dlp.detectors = parseDetectors(c, d.detectors, ['dlp', 'detectors']);
      if (d.patterns !== undefined) dlp.patterns = parsePatterns(c, d.patterns, ['dlp', 'patterns']);
      if (d.allow !== undefined) dlp.allow = parseAllow(c, d.allow, ['dlp', 'allow']);
      if (d.actions !== undefined) dlp.actions = parseActions(c, d.actions, ['dlp', 'actions']);
    }
  }
  const limits = top.limits === undefined ? undefined : parseLimits(c, top.limits, ['limits']);

  if (c.issues.length > 0) {
    throw new ConfigFileInvalid(c.issues.map((i) => ({ path: formatPath(i.path), line: lineOf(doc, lines, i.path), message: i.message })));
  }
  return {
    tenant, settings, fromEnv: substituted.fromEnv, dlp,
    ...(agents ? { agents } : {}), ...(policies ? { policies } : {}), ...(limits ? { limits } : {}),
  };
}

/** Issues found later (by the planner, against the database), located in the same file. */
export function locateIssues(text: string, issues: { path: PathSegment[]; message: string }[]): FileIssue[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  return issues.map((i) => ({ path: formatPath(i.path), line: lineOf(doc, lines, i.path), message: i.message }));
}
