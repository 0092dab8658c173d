import type { Condition, FindingDirection, PolicyAction, PolicyDefinition } from './schema.js';

/**
 * The plain-language sentence of a policy (SPEC §5): who, which calls and where they go, under
 * what condition, and what happens — shown in the console and returned by the API.
 *
 * Deterministic (no locale, no clock), so the API, the console and golden tests agree, and
 * faithful: every condition is rendered, because a summary that leaves one out would describe a
 * wider rule than the one enforced. Identifiers (agents, models, tools, headers, upstreams) appear
 * as written; free text an operator typed (prompt text, header values, users, messages) is quoted.
 * The sentence always ends with a period and never spans lines: control characters are escaped.
 *
 * Shape: `<Verb> <calls> <from whom>[ to <models/providers>][ via <upstream>][ when <conditions>]
 * [, with the message "…"][ (disabled)].`
 */

export interface SummaryNames {
  /** Agent id → display name; ids not in the map (or names already) are shown as written. */
  agents?: Readonly<Record<string, string>>;
}

const VERB: Record<PolicyAction, string> = { ALLOW: 'Allow', FLAG: 'Flag', DENY: 'Deny' };

const ACTION_TYPE_PLURAL: Record<string, string> = {
  chat_completion: 'chat completions',
  embedding: 'embeddings',
  tool_call: 'tool calls',
  mcp_request: 'MCP requests',
  http_request: 'HTTP requests',
};

const ACTION_TYPE_SINGULAR: Record<string, string> = {
  chat_completion: 'a chat completion',
  embedding: 'an embedding',
  tool_call: 'a tool call',
  mcp_request: 'an MCP request',
  http_request: 'an HTTP request',
};

const PROVIDER_NAMES: Record<string, string> = {
  openai: 'OpenAI',
  anthropic: 'Anthropic',
  azure: 'Azure',
  vllm: 'vLLM',
  mcp: 'MCP',
  http: 'HTTP',
};

/** A human name for every built-in DLP class (SPEC §6); the test suite checks none is missing. */
export const DLP_CLASS_NAMES: Readonly<Record<string, string>> = {
  'pii.email': 'an e-mail address',
  'pii.phone': 'a phone number',
  'pii.ip_address': 'an IP address',
  'pii.postal_address': 'a postal address',
  'pii.person_with_id': 'a person named with an identifier',
  'gov.us_ssn': 'a US Social Security number',
  'gov.iban': 'an IBAN',
  'gov.passport': 'a passport number',
  'gov.tax_id': 'a tax ID',
  'gov.eu_national_id': 'an EU national ID number',
  'payment.credit_card': 'a credit card number',
  'payment.cvv': 'a card security code',
  'secret.aws_access_key': 'an AWS access key',
  'secret.aws_secret_key': 'an AWS secret key',
  'secret.gcp_api_key': 'a Google Cloud API key',
  'secret.stripe_key': 'a Stripe key',
  'secret.slack_token': 'a Slack token',
  'secret.github_token': 'a GitHub token',
  'secret.openai_key': 'an OpenAI API key',
  'secret.anthropic_key': 'an Anthropic API key',
  'secret.private_key': 'a private key',
  'secret.jwt': 'a JSON Web Token',
  'secret.renlayer_key': 'a RenLayer API key',
  'secret.generic_api_key': 'an API key or password',
  'code.source': 'source code',
};

export const DLP_CATEGORY_NAMES: Readonly<Record<string, string>> = {
  pii: 'personal data',
  gov: 'a government ID',
  payment: 'payment data',
  secret: 'a secret',
  code: 'source code',
  custom: 'a custom pattern match',
};

/** Control characters escaped, so a value with a newline cannot break the sentence in two. */
function plain(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Operator-written text, in double quotes with JSON escapes (quotes, backslashes, newlines). */
function quote(s: string): string {
  return JSON.stringify(s).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** A regex as a `/…/` literal; a bare `/` inside is escaped (as JavaScript would) so the end stays unambiguous. */
function regex(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i]!;
    if (ch === '\\') out += ch + (source[++i] ?? '');
    else out += ch === '/' ? '\\/' : ch;
  }
  return `/${plain(out)}/`;
}

/** `a`, `a and b`, `a, b and c` — no Oxford comma. */
function join(items: readonly string[], conjunction: 'and' | 'or'): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items[items.length - 1]}`;
}

/** 100000 → 100,000, independent of the host's locale. */
function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function bytes(n: number): string {
  return `${count(n)} ${n === 1 ? 'byte' : 'bytes'}`;
}

export function dlpClassName(cls: string): string {
  const known = DLP_CLASS_NAMES[cls];
  if (known) return known;
  if (cls.startsWith('custom.')) return `a match of the custom pattern ${plain(cls.slice('custom.'.length))}`;
  return `a finding of class ${plain(cls)}`;
}

function providerName(p: string): string {
  return PROVIDER_NAMES[p.toLowerCase()] ?? plain(p);
}

/** Header names are stored lower-case; shown the way HTTP usually capitalises them (`X-Team`). */
function headerName(name: string): string {
  return name.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('-');
}

function direction(d: FindingDirection): string {
  return d === 'any' ? 'request or response' : d;
}

function agentName(id: string, names: SummaryNames): string {
  return plain(names.agents?.[id] ?? id);
}

function agents(ids: readonly string[], names: SummaryNames): string {
  return `${ids.length === 1 ? 'agent' : 'agents'} ${join(ids.map((id) => agentName(id, names)), 'and')}`;
}

/** A condition as a clause after "when"; also used for conditions the head of the sentence could not absorb. */
function clause(c: Condition, names: SummaryNames): string {
  switch (c.field) {
    case 'agent':
      return `the agent is ${join(c.value.map((id) => agentName(id, names)), 'or')}`;
    case 'action_type':
      return `the call is ${join(c.value.map((t) => ACTION_TYPE_SINGULAR[t] ?? plain(t)), 'or')}`;
    case 'provider':
      return `the provider is ${join(c.value.map(providerName), 'or')}`;
    case 'model':
      return `the model ${c.op === 'in' ? 'is' : 'matches'} ${join(c.value.map(plain), 'or')}`;
    case 'upstream':
      return c.op === 'equals' ? `the upstream is ${plain(c.value)}` : `the upstream matches ${c.op === 'regex' ? regex(c.value) : plain(c.value)}`;
    case 'prompt': {
      const what = c.op === 'contains' ? `contains ${quote(c.value)}` : `matches ${regex(c.value)}`;
      return `the prompt ${what}${c.case_insensitive ? ' (ignoring case)' : ''}`;
    }
    case 'header': {
      const h = `header ${headerName(c.name)}`;
      switch (c.op) {
        case 'exists': return `${h} exists`;
        case 'equals': return `${h} is ${quote(c.value)}`;
        case 'contains': return `${h} contains ${quote(c.value)}`;
        case 'regex': return `${h} matches ${regex(c.value)}`;
      }
      break;
    }
    case 'tool_name':
      return `a tool ${c.op === 'in' ? 'named' : 'matching'} ${join(c.value.map(plain), 'or')} is offered or called`;
    case 'dlp_class':
      return `the ${direction(c.direction)} contains ${join(c.value.map(dlpClassName), 'or')}`;
    case 'dlp_category':
      return `the ${direction(c.direction)} contains ${join(c.value.map((k) => DLP_CATEGORY_NAMES[k] ?? plain(k)), 'or')}`;
    case 'risk_level': {
      const level = c.value === 'critical' ? 'critical severity' : `${c.value} severity or above`;
      return `there is a finding of ${level} in the ${direction(c.direction)}`;
    }
    case 'request_bytes':
      return `the request body is ${c.op === 'gt' ? 'larger' : 'smaller'} than ${bytes(c.value)}`;
    case 'user':
    case 'session':
      return `the ${c.field} ${c.op === 'equals' ? 'is' : 'matches'} ${quote(c.value)}`;
  }
  return plain(JSON.stringify(c));
}

/** Takes the first condition of a field out of `rest`, for the head of the sentence. */
function take<F extends Condition['field']>(rest: Condition[], field: F): Extract<Condition, { field: F }> | undefined {
  const i = rest.findIndex((c) => c.field === field);
  if (i < 0) return undefined;
  return rest.splice(i, 1)[0] as Extract<Condition, { field: F }>;
}

export function summarize(policy: PolicyDefinition, names: SummaryNames = {}): string {
  // Conditions not absorbed by the head stay here, in the policy's own order, for "when".
  const rest = [...policy.conditions];

  const types = take(rest, 'action_type');
  const calls = types ? join(types.value.map((t) => ACTION_TYPE_PLURAL[t] ?? plain(t)), 'and') : 'calls';

  // An agent condition names the agents only when there is no scope; with both, the scope is
  // "who" and the condition stays a condition, so neither is lost.
  const scoped = policy.scope.agents;
  const agentCondition = scoped.length === 0 ? take(rest, 'agent') : undefined;
  const who = scoped.length > 0 ? agents(scoped, names) : agentCondition ? agents(agentCondition.value, names) : 'all agents';

  let where = '';
  const model = take(rest, 'model');
  const provider = take(rest, 'provider');
  const providers = provider ? join(provider.value.map(providerName), 'and') : '';
  if (model) {
    where += ` to ${model.value.length === 1 ? 'model' : 'models'} ${join(model.value.map(plain), 'and')}`;
    if (provider) where += ` on ${providers}`;
  } else if (provider) {
    where += ` to ${providers}`;
  }
  const upstream = take(rest, 'upstream');
  if (upstream) {
    where += upstream.op === 'equals'
      ? ` via upstream ${plain(upstream.value)}`
      : ` via an upstream matching ${upstream.op === 'regex' ? regex(upstream.value) : plain(upstream.value)}`;
  }

  const clauses = rest.map((c) => clause(c, names));
  // A response-stage policy whose conditions do not mention the response still runs only once
  // the response is in; say so, or the sentence would read as a request-time rule.
  const mentionsResponse = policy.conditions.some((c) => 'direction' in c && c.direction === 'response');
  if (policy.stage === 'response' && !mentionsResponse) clauses.unshift('the response is received');
  const when = clauses.length > 0 ? ` when ${join(clauses, 'and')}` : '';

  const message = policy.message ? `, with the message ${quote(policy.message)}` : '';
  const disabled = policy.enabled ? '' : ' (disabled)';
  return `${VERB[policy.action]} ${calls} from ${who}${where}${when}${message}${disabled}.`;
}
