import { isRenLayerError, RenLayerError } from '../core/errors.js';
import { ACTION_TYPES, DLP_CATEGORIES, parsePolicy, RISK_LEVELS, type PolicyDefinition, type RiskLevel } from './schema.js';

/**
 * Policy templates (SPEC §5): block PII, cost control, restrict provider or model, request-size
 * limit, flag high-risk responses, custom. Each returns ordinary, validated policy definitions,
 * so a template is a starting point the operator can then edit like any other policy.
 *
 * Every template returns the same shape, `{policies, limits}`:
 * - an allow-list needs "model NOT in list", which the condition language cannot say; it is
 *   written as an ALLOW for the list followed (priority + 1) by a DENY catch-all with the same
 *   scope and action types, so it takes two policies;
 * - a token cap cannot be a condition (the language has no max_tokens field), so cost control
 *   suggests a token budget (SPEC §7 rate limit) for the caller to create alongside.
 *
 * Caution, and why the default priorities are what they are: an ALLOW ends evaluation (first
 * match wins), so an allow-list lets through what it allows before any policy with a larger
 * priority number is consulted. DENY and FLAG templates default to low numbers (50–100),
 * allow-lists to high ones (800, 900). Two allow-lists do not combine as AND: restrict provider
 * and model in one restrictProvider call, which requires both in one ALLOW.
 *
 * Pure: no I/O. Refusals are RenLayerError('validation_failed') naming the template parameter.
 */

export type LimitScopeName = 'per_agent' | 'per_user' | 'per_tenant' | 'per_key';
export type LimitWindowName = 'minute' | 'hour' | 'day' | 'month';
const LIMIT_WINDOWS: readonly LimitWindowName[] = ['minute', 'hour', 'day', 'month'];

/** A rate limit the template needs, in the shape of a SPEC §7 limit; the caller creates it. */
export interface SuggestedLimit {
  scope: LimitScopeName;
  dimension: 'requests' | 'tokens' | 'cost_usd';
  window: LimitWindowName;
  limit: number;
  /** The agents it is for (one rule each); empty for every agent of the tenant. */
  agents: string[];
}

export interface TemplateResult {
  /** In priority order; each has passed parsePolicy. */
  policies: PolicyDefinition[];
  /** Limits to create alongside the policies; empty for most templates. */
  limits: SuggestedLimit[];
}

/** What every template accepts besides its own parameters. */
export interface CommonOptions {
  /** Policy name; templates that write two policies add `-allow` / `-deny`. */
  name?: string;
  /** Lower runs first (SPEC §5). */
  priority?: number;
  /** Agent ids or names; omitted or empty for tenant-wide. */
  agents?: string[];
  /** Custom message returned with a DENY; '' for none. */
  message?: string;
}

export type ActionTypeName = (typeof ACTION_TYPES)[number];
export type DlpCategoryName = (typeof DLP_CATEGORIES)[number];

function refuse(param: string, message: string): never {
  throw new RenLayerError('validation_failed', `${param}: ${message}`, { field: param });
}

// --- checks on template parameters: values may come from JSON, whatever TypeScript says -------

function optionalText(param: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') refuse(param, 'must be a string');
  return v;
}

function strings(param: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0) refuse(param, 'must be a non-empty list of strings');
  v.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') refuse(`${param}[${i}]`, 'must be a non-empty string');
  });
  return v as string[];
}

function optionalStrings(param: string, v: unknown): string[] | undefined {
  return v === undefined ? undefined : strings(param, v);
}

function integer(param: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) refuse(param, `must be a whole number from ${min} to ${max}`);
  return v;
}

function oneOf<T extends string>(param: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) refuse(param, `must be one of ${values.join(', ')}`);
  return v as T;
}

function allOf<T extends string>(param: string, v: unknown, values: readonly T[]): T[] {
  return strings(param, v).map((s, i) => oneOf(`${param}[${i}]`, s, values));
}

interface Common {
  priority: number;
  agents: string[];
  message: string | undefined;
}

/** Name, priority, agents and message, with the template's defaults; `span` policies are written. */
function common(o: CommonOptions, defaultName: string, defaultPriority: number, span: 1 | 2): Common & { name: string } {
  const suffix = span === 2 ? '-allow' : '';
  const name = optionalText('name', o.name) ?? defaultName;
  if (name.length + suffix.length > 63) refuse('name', `must be at most ${63 - suffix.length} characters${span === 2 ? ' (the template adds -allow and -deny)' : ''}`);
  const priority = o.priority === undefined ? defaultPriority : integer('priority', o.priority, 0, 1_000_000 - (span - 1));
  // No agents, or an empty list, is tenant-wide, as in a policy's scope.
  const agents = o.agents === undefined || (Array.isArray(o.agents) && o.agents.length === 0) ? [] : strings('agents', o.agents);
  return { name, priority, agents, message: optionalText('message', o.message) };
}

/**
 * parsePolicy on what a template wrote. A refusal names the policy field (`conditions[1].value[0]`);
 * `sources` maps those fields back to the template parameter that supplied them, so the caller is
 * told which of its inputs to fix (`allowedModels[0]`).
 */
function checked(def: Record<string, unknown>, sources: Record<string, string>): PolicyDefinition {
  try {
    return parsePolicy(def);
  } catch (err) {
    const field = isRenLayerError(err, 'validation_failed') ? err.details?.field : undefined;
    if (typeof field !== 'string') throw err;
    const from = Object.keys(sources).find((f) => field === f || field.startsWith(`${f}[`) || field.startsWith(`${f}.`));
    const param = from === undefined ? field : sources[from]! + field.slice(from.length);
    const reason = err instanceof Error ? err.message.slice(err.message.indexOf(': ') + 2) : String(err);
    refuse(param, reason);
  }
}

const COMMON_SOURCES = { name: 'name', priority: 'priority', message: 'message', 'scope.agents': 'agents' };

function provenance(id: string, text: string): string {
  return `From the ${id} template: ${text}`;
}

/** A DENY message listing what is allowed, or a shorter one when the list is too long to quote. */
function allowListMessage(what: string, items: readonly string[]): string {
  const full = `Only these ${what} are allowed: ${items.join(', ')}.`;
  return full.length <= 1000 ? full : `This ${what.replace(/s$/, '')} is not on the allowed list.`;
}

const hasWildcard = (s: string) => s.includes('*') || s.includes('?');

// --- the templates ----------------------------------------------------------------------------

export interface BlockPiiOptions extends CommonOptions {
  /** DLP categories; default pii and gov (personal data and government IDs). */
  categories?: DlpCategoryName[];
  /** DLP classes instead of categories, e.g. pii.email, custom.employee-id. */
  classes?: string[];
}

/** DENY when the request carries personal data (by category, or by the classes chosen). */
export function blockPii(o: BlockPiiOptions = {}): TemplateResult {
  const c = common(o, 'block-pii', 100, 1);
  if (o.categories !== undefined && o.classes !== undefined) refuse('classes', 'give categories or classes, not both');
  const classes = optionalStrings('classes', o.classes);
  const condition = classes
    ? { field: 'dlp_class', op: 'in', value: classes, direction: 'request' }
    : { field: 'dlp_category', op: 'in', value: o.categories === undefined ? ['pii', 'gov'] : allOf('categories', o.categories, DLP_CATEGORIES), direction: 'request' };
  const policy = checked({
    name: c.name, priority: c.priority, action: 'DENY', scope: { agents: c.agents },
    description: provenance('block-pii', 'deny requests that carry personal data.'),
    message: c.message ?? 'The request contains personal data, which may not be sent to this provider.',
    conditions: [condition],
  }, { ...COMMON_SOURCES, 'conditions[0].value': classes ? 'classes' : 'categories' });
  return { policies: [policy], limits: [] };
}

export interface CostControlOptions extends CommonOptions {
  /** Models allowed (exact names or globs such as gpt-4o-mini*); every other model is denied. */
  allowedModels: string[];
  /** Token budget per agent per `tokenWindow` (prompt + completion), enforced as a rate limit. */
  maxTokens?: number;
  tokenWindow?: LimitWindowName;
  /** The calls the allow-list applies to; default chat completions and embeddings. */
  actionTypes?: ActionTypeName[];
}

/**
 * A model allow-list (ALLOW the list, DENY the rest) and, with maxTokens, a per-agent token
 * budget. The request's own max_tokens is not read: the condition language has no such field,
 * and a budget over real usage caps spend where a per-request cap would not.
 */
export function costControl(o: CostControlOptions): TemplateResult {
  const c = common(o, 'cost-control', 900, 2);
  const models = strings('allowedModels', o.allowedModels);
  const types = o.actionTypes === undefined ? ['chat_completion', 'embedding'] : allOf('actionTypes', o.actionTypes, ACTION_TYPES);
  const limits: SuggestedLimit[] = [];
  if (o.maxTokens !== undefined) {
    const window = o.tokenWindow === undefined ? 'day' : oneOf('tokenWindow', o.tokenWindow, LIMIT_WINDOWS);
    limits.push({ scope: 'per_agent', dimension: 'tokens', window, limit: integer('maxTokens', o.maxTokens, 1, Number.MAX_SAFE_INTEGER), agents: c.agents });
  } else if (o.tokenWindow !== undefined) {
    refuse('tokenWindow', 'applies only with maxTokens');
  }
  return {
    policies: allowThenDeny('cost-control', c, types, [{ field: 'model', op: models.some(hasWildcard) ? 'glob' : 'in', value: models }],
      { 'conditions[1].value': 'allowedModels', 'conditions[0].value': 'actionTypes' }, allowListMessage('models', models)),
    limits,
  };
}

export interface RestrictProviderOptions extends CommonOptions {
  /** Providers allowed (openai, anthropic, azure, vllm, …). */
  providers?: string[];
  /** Models allowed (exact names or globs). With providers, a call needs both. */
  models?: string[];
  actionTypes?: ActionTypeName[];
}

/** Only these providers and/or models: ALLOW them, DENY the rest of the chosen call types. */
export function restrictProvider(o: RestrictProviderOptions): TemplateResult {
  const c = common(o, 'restrict-provider', 800, 2);
  if (o.providers === undefined && o.models === undefined) refuse('providers', 'give providers, models or both');
  const providers = optionalStrings('providers', o.providers);
  const models = optionalStrings('models', o.models);
  const types = o.actionTypes === undefined ? ['chat_completion', 'embedding'] : allOf('actionTypes', o.actionTypes, ACTION_TYPES);
  const conditions: Record<string, unknown>[] = [];
  const sources: Record<string, string> = { 'conditions[0].value': 'actionTypes' };
  if (providers) {
    sources[`conditions[${conditions.length + 1}].value`] = 'providers';
    conditions.push({ field: 'provider', op: 'in', value: providers });
  }
  if (models) {
    sources[`conditions[${conditions.length + 1}].value`] = 'models';
    conditions.push({ field: 'model', op: models.some(hasWildcard) ? 'glob' : 'in', value: models });
  }
  const message = providers && models
    ? allowListMessage('providers and models', [...providers, ...models])
    : providers ? allowListMessage('providers', providers) : allowListMessage('models', models!);
  return { policies: allowThenDeny('restrict-provider', c, types, conditions, sources, message), limits: [] };
}

/** The allow-list pattern: ALLOW at p when the conditions hold, DENY at p + 1 for the rest. */
function allowThenDeny(id: string, c: Common & { name: string }, types: string[], allowed: Record<string, unknown>[],
  sources: Record<string, string>, defaultMessage: string): PolicyDefinition[] {
  const scope = { agents: c.agents };
  const callTypes = { field: 'action_type', op: 'in', value: types };
  const allow = checked({
    name: `${c.name}-allow`, priority: c.priority, action: 'ALLOW', scope,
    description: provenance(id, `allow the listed choices; ${c.name}-deny denies the rest.`),
    conditions: [callTypes, ...allowed],
  }, { ...COMMON_SOURCES, ...sources });
  const deny = checked({
    name: `${c.name}-deny`, priority: c.priority + 1, action: 'DENY', scope,
    description: provenance(id, `deny what ${c.name}-allow did not allow.`),
    message: c.message ?? defaultMessage,
    conditions: [callTypes],
  }, { ...COMMON_SOURCES, ...sources });
  return [allow, deny];
}

export interface RequestSizeLimitOptions extends CommonOptions {
  /** Largest request body allowed, in bytes. */
  maxBytes: number;
}

/** DENY request bodies larger than maxBytes (below the proxy-wide RENLAYER_MAX_BODY_BYTES). */
export function requestSizeLimit(o: RequestSizeLimitOptions): TemplateResult {
  const c = common(o, 'request-size-limit', 50, 1);
  const maxBytes = integer('maxBytes', o.maxBytes, 0, Number.MAX_SAFE_INTEGER);
  const policy = checked({
    name: c.name, priority: c.priority, action: 'DENY', scope: { agents: c.agents },
    description: provenance('request-size-limit', `deny requests larger than ${maxBytes} bytes.`),
    message: c.message ?? `The request is larger than the ${maxBytes} bytes allowed.`,
    conditions: [{ field: 'request_bytes', op: 'gt', value: maxBytes }],
  }, { ...COMMON_SOURCES, 'conditions[0].value': 'maxBytes' });
  return { policies: [policy], limits: [] };
}

export interface FlagHighRiskResponsesOptions extends CommonOptions {
  /** Lowest finding severity that flags; default high. */
  level?: RiskLevel;
}

/** FLAG answers with a DLP finding at `level` or above: a response-stage policy. */
export function flagHighRiskResponses(o: FlagHighRiskResponsesOptions = {}): TemplateResult {
  const c = common(o, 'flag-high-risk-responses', 100, 1);
  const level = o.level === undefined ? 'high' : oneOf('level', o.level, RISK_LEVELS);
  const policy = checked({
    name: c.name, priority: c.priority, action: 'FLAG', scope: { agents: c.agents },
    description: provenance('flag-high-risk-responses', `flag responses with a finding of ${level} severity or above.`),
    message: c.message ?? null,
    conditions: [{ field: 'risk_level', op: 'gte', value: level, direction: 'response' }],
  }, { ...COMMON_SOURCES, 'conditions[0].value': 'level' });
  return { policies: [policy], limits: [] };
}

/** Any policy, written out in full: parsePolicy, with refusals named under `definition`. */
export function custom(definition: unknown): TemplateResult {
  try {
    return { policies: [parsePolicy(definition)], limits: [] };
  } catch (err) {
    const field = isRenLayerError(err, 'validation_failed') ? err.details?.field : undefined;
    if (typeof field !== 'string') throw err;
    refuse(field === 'policy' ? 'definition' : `definition.${field}`, (err as Error).message.slice((err as Error).message.indexOf(': ') + 2));
  }
}

// --- the registry the API and console list ----------------------------------------------------

export interface TemplateParameter {
  name: string;
  type: 'string' | 'string[]' | 'integer' | 'object';
  required: boolean;
  description: string;
  /** For enumerations: the values allowed (each entry, for string[]). */
  values?: readonly string[];
  default?: unknown;
}

export interface PolicyTemplate {
  id: string;
  title: string;
  description: string;
  parameters: readonly TemplateParameter[];
  /** Checks `params` against `parameters` (refusals name the parameter) and builds the policies. */
  build(params: unknown): TemplateResult;
}

function commonParameters(name: string, priority: number, span: 1 | 2, message: string): TemplateParameter[] {
  return [
    { name: 'name', type: 'string', required: false, default: name,
      description: span === 2 ? 'Base name; the policies are <name>-allow and <name>-deny.' : 'Policy name.' },
    { name: 'priority', type: 'integer', required: false, default: priority,
      description: span === 2 ? 'Priority of the ALLOW; the DENY takes the next one. Lower runs first.' : 'Lower runs first.' },
    { name: 'agents', type: 'string[]', required: false, description: 'Agent ids or names the policy applies to; omit for every agent.' },
    { name: 'message', type: 'string', required: false, description: message },
  ];
}

/** Params against the declared parameters: an object, no unknown keys, required ones present, types right. */
function checkParams(params: unknown, declared: readonly TemplateParameter[]): Record<string, unknown> {
  if (params === undefined || params === null) params = {};
  if (typeof params !== 'object' || Array.isArray(params)) refuse('params', 'must be an object of template parameters');
  const given = params as Record<string, unknown>;
  const names = declared.map((d) => d.name);
  for (const k of Object.keys(given)) if (!names.includes(k)) refuse(k, `unknown parameter; this template takes ${names.join(', ')}`);
  // A copy without null/undefined entries: null in JSON means "use the default", as omission does.
  const out: Record<string, unknown> = {};
  for (const d of declared) {
    const v = given[d.name];
    if (v === undefined || v === null) {
      if (d.required) refuse(d.name, 'is required');
      continue;
    }
    out[d.name] = v;
    if (d.type === 'string' && typeof v !== 'string') refuse(d.name, 'must be a string');
    if (d.type === 'integer' && (typeof v !== 'number' || !Number.isSafeInteger(v))) refuse(d.name, 'must be a whole number');
    if (d.type === 'string[]') {
      if (!Array.isArray(v)) refuse(d.name, 'must be a list of strings');
      v.forEach((s, i) => {
        if (typeof s !== 'string') refuse(`${d.name}[${i}]`, 'must be a string');
      });
    }
    if (d.type === 'object' && (typeof v !== 'object' || Array.isArray(v))) refuse(d.name, 'must be an object');
  }
  return out;
}

function template(t: Omit<PolicyTemplate, 'build'>, make: (p: Record<string, unknown>) => TemplateResult): PolicyTemplate {
  return Object.freeze({ ...t, parameters: Object.freeze(t.parameters), build: (params: unknown) => make(checkParams(params, t.parameters)) });
}

const ACTION_TYPES_PARAM: TemplateParameter = {
  name: 'actionTypes', type: 'string[]', required: false, values: ACTION_TYPES, default: ['chat_completion', 'embedding'],
  description: 'The kinds of call the allow-list governs; others are left to other policies.',
};

export const TEMPLATES: readonly PolicyTemplate[] = Object.freeze([
  template({
    id: 'block-pii',
    title: 'Block personal data',
    description: 'Deny requests that carry personal data (by DLP category, or chosen classes) before they leave.',
    parameters: [
      ...commonParameters('block-pii', 100, 1, 'Returned to the agent with the refusal.'),
      { name: 'categories', type: 'string[]', required: false, values: DLP_CATEGORIES, default: ['pii', 'gov'], description: 'DLP categories that block.' },
      { name: 'classes', type: 'string[]', required: false, description: 'DLP classes that block (e.g. pii.email), instead of categories.' },
    ],
  }, (p) => blockPii(p as unknown as BlockPiiOptions)),
  template({
    id: 'cost-control',
    title: 'Cost control',
    description: 'Allow only the listed models (an ALLOW, then a DENY for the rest) and optionally cap tokens per agent with a rate limit. '
      + 'The ALLOW ends evaluation for allowed models, so keep DENY and FLAG rules at lower priority numbers.',
    parameters: [
      ...commonParameters('cost-control', 900, 2, 'Returned to the agent when its model is not allowed.'),
      { name: 'allowedModels', type: 'string[]', required: true, description: 'Models allowed: exact names or globs (gpt-4o-mini*).' },
      { name: 'maxTokens', type: 'integer', required: false, description: 'Token budget per agent per window, prompt and completion together (a rate limit, SPEC §7).' },
      { name: 'tokenWindow', type: 'string', required: false, values: LIMIT_WINDOWS, default: 'day', description: 'Window of the token budget.' },
      ACTION_TYPES_PARAM,
    ],
  }, (p) => costControl(p as unknown as CostControlOptions)),
  template({
    id: 'restrict-provider',
    title: 'Restrict provider or model',
    description: 'Allow only the listed providers and/or models (both must hold when both are given) and deny the rest. '
      + 'The ALLOW ends evaluation for what it allows, so keep DENY and FLAG rules at lower priority numbers.',
    parameters: [
      ...commonParameters('restrict-provider', 800, 2, 'Returned to the agent when the call is not allowed.'),
      { name: 'providers', type: 'string[]', required: false, description: 'Providers allowed (openai, anthropic, azure, vllm, …).' },
      { name: 'models', type: 'string[]', required: false, description: 'Models allowed: exact names or globs.' },
      ACTION_TYPES_PARAM,
    ],
  }, (p) => restrictProvider(p as unknown as RestrictProviderOptions)),
  template({
    id: 'request-size-limit',
    title: 'Request-size limit',
    description: 'Deny request bodies larger than a number of bytes.',
    parameters: [
      ...commonParameters('request-size-limit', 50, 1, 'Returned to the agent with the refusal.'),
      { name: 'maxBytes', type: 'integer', required: true, description: 'Largest request body allowed, in bytes.' },
    ],
  }, (p) => requestSizeLimit(p as unknown as RequestSizeLimitOptions)),
  template({
    id: 'flag-high-risk-responses',
    title: 'Flag high-risk responses',
    description: 'Flag answers in which DLP finds something at the chosen severity or above (evaluated on the response).',
    parameters: [
      ...commonParameters('flag-high-risk-responses', 100, 1, 'Recorded with the flag.'),
      { name: 'level', type: 'string', required: false, values: RISK_LEVELS, default: 'high', description: 'Lowest severity that flags.' },
    ],
  }, (p) => flagHighRiskResponses(p as unknown as FlagHighRiskResponsesOptions)),
  template({
    id: 'custom',
    title: 'Custom',
    description: 'Any policy, written out in full: name, action, priority, scope and conditions.',
    parameters: [{ name: 'definition', type: 'object', required: true, description: 'The policy definition (SPEC §5).' }],
  }, (p) => custom(p.definition)),
]);

/** The template of that id, or a not_found refusal listing the ids there are. */
export function templateById(id: string): PolicyTemplate {
  const t = TEMPLATES.find((x) => x.id === id);
  if (!t) throw new RenLayerError('not_found', `no policy template ${JSON.stringify(id)}; templates are ${TEMPLATES.map((x) => x.id).join(', ')}`, { field: 'template' });
  return t;
}
