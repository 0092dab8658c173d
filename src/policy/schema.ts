import RE2 from 're2';
import { RenLayerError } from '../core/errors.js';
import { compileGlobs } from './glob.js';

/**
 * The policy model of SPEC §5, and its validation. A policy is checked field by field, and a
 * refusal names the field (`conditions[1].value`) and says what to write instead, so the API, the
 * CLI and `renlayer apply` all answer the same way. Pure: no I/O.
 */

export type PolicyAction = 'ALLOW' | 'FLAG' | 'DENY';
export type PolicyStage = 'request' | 'response';
export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';
export type FindingDirection = 'request' | 'response' | 'any';

export const POLICY_ACTIONS: readonly PolicyAction[] = ['ALLOW', 'FLAG', 'DENY'];
export const RISK_LEVELS: readonly RiskLevel[] = ['low', 'medium', 'high', 'critical'];
export const ACTION_TYPES = ['chat_completion', 'embedding', 'tool_call', 'mcp_request', 'http_request'] as const;
export const DLP_CATEGORIES = ['pii', 'gov', 'payment', 'secret', 'code', 'custom'] as const;

export type Condition =
  | { field: 'agent'; op: 'in'; value: string[] }
  | { field: 'action_type'; op: 'in'; value: string[] }
  | { field: 'upstream'; op: 'equals' | 'glob' | 'regex'; value: string }
  | { field: 'provider'; op: 'in'; value: string[] }
  | { field: 'model'; op: 'in'; value: string[] }
  | { field: 'model'; op: 'glob'; value: string[] }
  | { field: 'prompt'; op: 'contains' | 'regex'; value: string; case_insensitive: boolean }
  | { field: 'header'; op: 'equals' | 'contains' | 'regex'; name: string; value: string }
  | { field: 'header'; op: 'exists'; name: string }
  | { field: 'tool_name'; op: 'in'; value: string[] }
  | { field: 'tool_name'; op: 'glob'; value: string[] }
  | { field: 'dlp_class'; op: 'in'; value: string[]; direction: FindingDirection }
  | { field: 'dlp_category'; op: 'in'; value: string[]; direction: FindingDirection }
  | { field: 'risk_level'; op: 'gte'; value: RiskLevel; direction: FindingDirection }
  | { field: 'request_bytes'; op: 'gt' | 'lt'; value: number }
  | { field: 'user' | 'session'; op: 'equals' | 'glob'; value: string };

export type ConditionField = Condition['field'];

/** A policy as saved, versioned and exported. */
export interface PolicyDefinition {
  name: string;
  description: string;
  action: PolicyAction;
  priority: number;
  enabled: boolean;
  message: string | null;
  /** Agent ids (or names, resolved to ids when saved); empty for tenant-wide. */
  scope: { agents: string[] };
  conditions: Condition[];
  /** Derived: `response` when a condition reads response findings, or when set so explicitly. */
  stage: PolicyStage;
}

/** Which operators each field takes (SPEC §5 table). */
export const FIELD_OPERATORS: Readonly<Record<ConditionField, readonly string[]>> = {
  agent: ['in'],
  action_type: ['in'],
  upstream: ['equals', 'glob', 'regex'],
  provider: ['in'],
  model: ['in', 'glob'],
  prompt: ['contains', 'regex'],
  header: ['equals', 'contains', 'regex', 'exists'],
  tool_name: ['in', 'glob'],
  dlp_class: ['in'],
  dlp_category: ['in'],
  risk_level: ['gte'],
  request_bytes: ['gt', 'lt'],
  user: ['equals', 'glob'],
  session: ['equals', 'glob'],
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_CONDITIONS = 32;
const MAX_LIST = 1000;
const MAX_TEXT = 4096;
const MAX_MESSAGE = 1000;
const MAX_DESCRIPTION = 2000;
/** Header names as HTTP allows them (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;

function refuse(field: string, message: string): never {
  throw new RenLayerError('validation_failed', `${field}: ${message}`, { field });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown, field: string, max = MAX_TEXT): string {
  if (typeof v !== 'string' || v === '') refuse(field, 'must be a non-empty string');
  if (v.length > max) refuse(field, `must be at most ${max} characters`);
  return v;
}

function list(v: unknown, field: string, allowed?: readonly string[]): string[] {
  const items = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(items) || items.length === 0) refuse(field, 'must be a non-empty list of strings');
  if (items.length > MAX_LIST) refuse(field, `must have at most ${MAX_LIST} entries`);
  return items.map((x, i) => {
    const s = text(x, `${field}[${i}]`);
    if (allowed && !allowed.includes(s)) refuse(`${field}[${i}]`, `"${s}" is not one of ${allowed.join(', ')}`);
    return s;
  });
}

function regex(v: unknown, field: string, caseInsensitive = false): string {
  const source = text(v, field);
  try {
    new RE2(source, caseInsensitive ? 'i' : '');
  } catch (err) {
    refuse(field, `does not compile (RE2 syntax: no lookaround or backreferences): ${(err as Error).message}`);
  }
  return source;
}

/**
 * Globs always translate to valid RE2, but a long list can still exceed RE2's program size: check
 * the very program evaluate builds, so it is refused here rather than when the proxy compiles.
 */
function globs(values: string[], field: string, flags = ''): string[] {
  try {
    compileGlobs(values, flags);
  } catch (err) {
    refuse(field, `these globs do not compile together (${(err as Error).message}); use fewer or shorter patterns`);
  }
  return values;
}

function direction(v: unknown, field: string): FindingDirection {
  if (v === undefined || v === null) return 'any';
  if (v !== 'request' && v !== 'response' && v !== 'any') refuse(field, 'must be request, response or any');
  return v;
}

const KNOWN_KEYS = new Set(['field', 'op', 'value', 'name', 'case_insensitive', 'direction']);

/**
 * Keys that only some fields read. Accepting them elsewhere would silently drop them, and a rule
 * written as `{field: model, case_insensitive: true}` or `{field: prompt, direction: response}`
 * would not do what it says; so they are refused where they do not apply.
 */
const KEY_FIELDS: Readonly<Record<string, readonly ConditionField[]>> = {
  name: ['header'],
  case_insensitive: ['prompt'],
  direction: ['dlp_class', 'dlp_category', 'risk_level'],
};

/** One condition, checked; `at` is its place in the policy (`conditions[2]`). */
export function parseCondition(input: unknown, at: string): Condition {
  if (!isRecord(input)) refuse(at, 'must be an object {field, op, value}');
  for (const k of Object.keys(input)) if (!KNOWN_KEYS.has(k)) refuse(`${at}.${k}`, `unknown key; a condition has ${[...KNOWN_KEYS].join(', ')}`);
  const field = input.field;
  if (typeof field !== 'string' || !(field in FIELD_OPERATORS)) {
    refuse(`${at}.field`, `must be one of ${Object.keys(FIELD_OPERATORS).join(', ')}`);
  }
  const f = field as ConditionField;
  for (const [key, fields] of Object.entries(KEY_FIELDS)) {
    if (input[key] !== undefined && input[key] !== null && !fields.includes(f)) refuse(`${at}.${key}`, `${f} takes no ${key} (only ${fields.join(', ')})`);
  }
  const op = input.op;
  if (typeof op !== 'string' || !FIELD_OPERATORS[f].includes(op)) {
    refuse(`${at}.op`, `${f} takes ${FIELD_OPERATORS[f].join(' or ')}`);
  }
  const value = `${at}.value`;
  switch (f) {
    case 'agent':
    case 'provider':
      return { field: f, op: 'in', value: list(input.value, value) };
    case 'action_type':
      return { field: f, op: 'in', value: list(input.value, value, ACTION_TYPES) };
    case 'upstream':
      if (op === 'regex') return { field: f, op, value: regex(input.value, value) };
      if (op === 'glob') return { field: f, op, value: globs([text(input.value, value)], value, 'i')[0]! };
      return { field: f, op: 'equals', value: text(input.value, value) };
    case 'model':
    case 'tool_name': {
      const values = list(input.value, value);
      return { field: f, op: op as 'in', value: op === 'glob' ? globs(values, value) : values };
    }
    case 'prompt': {
      const ci = input.case_insensitive ?? false;
      if (typeof ci !== 'boolean') refuse(`${at}.case_insensitive`, 'must be true or false');
      return { field: f, op: op as 'contains', value: op === 'regex' ? regex(input.value, value, ci) : text(input.value, value), case_insensitive: ci };
    }
    case 'header': {
      const name = text(input.name, `${at}.name`, 128);
      if (!HEADER_NAME.test(name)) refuse(`${at}.name`, 'must be an HTTP header name');
      if (op === 'exists') {
        if (input.value !== undefined) refuse(value, 'exists takes no value');
        return { field: f, op, name: name.toLowerCase() };
      }
      return { field: f, op: op as 'equals', name: name.toLowerCase(), value: op === 'regex' ? regex(input.value, value) : text(input.value, value) };
    }
    case 'dlp_class': {
      const classes = list(input.value, value);
      classes.forEach((c, i) => {
        if (!/^[a-z]+\.[a-z0-9_.-]+$/.test(c)) refuse(`${value}[${i}]`, `"${c}" is not a DLP class such as pii.email or custom.employee-id`);
      });
      return { field: f, op: 'in', value: classes, direction: direction(input.direction, `${at}.direction`) };
    }
    case 'dlp_category':
      return { field: f, op: 'in', value: list(input.value, value, DLP_CATEGORIES), direction: direction(input.direction, `${at}.direction`) };
    case 'risk_level': {
      const level = typeof input.value === 'string' ? input.value.toLowerCase() : input.value;
      if (!RISK_LEVELS.includes(level as RiskLevel)) refuse(value, `must be one of ${RISK_LEVELS.join(', ')}`);
      return { field: f, op: 'gte', value: level as RiskLevel, direction: direction(input.direction, `${at}.direction`) };
    }
    case 'request_bytes': {
      const n = input.value;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) refuse(value, 'must be a whole number of bytes');
      return { field: f, op: op as 'gt', value: n };
    }
    case 'user':
    case 'session':
    {
      const v = text(input.value, value, 256);
      return { field: f, op: op as 'equals', value: op === 'glob' ? globs([v], value)[0]! : v };
    }
  }
}

/** Response-stage when a condition reads response findings (SPEC §5), or when asked. */
export function stageOf(conditions: readonly Condition[], requested?: PolicyStage): PolicyStage {
  if (requested === 'response') return 'response';
  const readsResponse = conditions.some((c) => (c.field === 'dlp_class' || c.field === 'dlp_category' || c.field === 'risk_level') && c.direction === 'response');
  return readsResponse ? 'response' : 'request';
}

const POLICY_KEYS = new Set(['name', 'description', 'action', 'priority', 'enabled', 'message', 'scope', 'conditions', 'stage']);

/**
 * A policy from untrusted input (API body, YAML, CLI), checked and with defaults filled in:
 * description '', enabled true, message null, tenant-wide scope, no conditions (matches every
 * call), stage derived from the conditions.
 */
export function parsePolicy(input: unknown): PolicyDefinition {
  if (!isRecord(input)) refuse('policy', 'must be an object');
  for (const k of Object.keys(input)) if (!POLICY_KEYS.has(k)) refuse(k, `unknown key; a policy has ${[...POLICY_KEYS].join(', ')}`);
  const name = text(input.name, 'name', 63);
  if (!NAME.test(name)) refuse('name', "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
  const action = typeof input.action === 'string' ? input.action.toUpperCase() : input.action;
  if (!POLICY_ACTIONS.includes(action as PolicyAction)) refuse('action', 'must be ALLOW, FLAG or DENY');
  const priority = input.priority;
  if (typeof priority !== 'number' || !Number.isSafeInteger(priority) || priority < 0 || priority > 1_000_000) {
    refuse('priority', 'must be a whole number from 0 to 1000000 (lower runs first)');
  }
  const enabled = input.enabled ?? true;
  if (typeof enabled !== 'boolean') refuse('enabled', 'must be true or false');
  const description = input.description ?? '';
  if (typeof description !== 'string' || description.length > MAX_DESCRIPTION) refuse('description', `must be a string of at most ${MAX_DESCRIPTION} characters`);
  const message = input.message ?? null;
  if (message !== null && (typeof message !== 'string' || message.length > MAX_MESSAGE)) refuse('message', `must be a string of at most ${MAX_MESSAGE} characters`);
  let agents: string[] = [];
  if (input.scope !== undefined && input.scope !== null) {
    if (!isRecord(input.scope)) refuse('scope', 'must be {agents: [...]} or omitted for tenant-wide');
    for (const k of Object.keys(input.scope)) if (k !== 'agents') refuse(`scope.${k}`, 'unknown key; scope has agents');
    // An empty list is tenant-wide, as stored for policies saved without a scope.
    const a = input.scope.agents;
    if (a !== undefined && !(Array.isArray(a) && a.length === 0)) agents = list(a, 'scope.agents');
  }
  const raw = input.conditions ?? [];
  if (!Array.isArray(raw)) refuse('conditions', 'must be a list of {field, op, value}');
  if (raw.length > MAX_CONDITIONS) refuse('conditions', `at most ${MAX_CONDITIONS} conditions (write OR as several policies)`);
  const conditions = raw.map((c, i) => parseCondition(c, `conditions[${i}]`));
  const stage = input.stage;
  if (stage !== undefined && stage !== 'request' && stage !== 'response') refuse('stage', 'must be request or response');
  return {
    name,
    description,
    action: action as PolicyAction,
    priority,
    enabled,
    message: message === '' ? null : message,
    scope: { agents },
    conditions,
    stage: stageOf(conditions, stage),
  };
}
