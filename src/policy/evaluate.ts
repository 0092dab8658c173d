import RE2 from 're2';
import { globMatcher } from './glob.js';
import type { Condition, PolicyAction, PolicyDefinition, PolicyStage, RiskLevel } from './schema.js';

/**
 * Policies compiled once per configuration change (regexes on RE2, globs to anchored RE2
 * patterns, lists to sets) and evaluated per call, first match by priority (SPEC §5). Every
 * matching policy is reported, so the trace shows what the precedence hid. Pure: no I/O.
 */

/** A saved policy: its definition plus what orders ties. */
export interface StoredPolicy extends PolicyDefinition {
  id: string;
  /** Creation time, ms since the epoch: among equal priorities the older policy runs first. */
  createdAt: number;
  version?: number;
}

/** What policies see of one call: the normalised view (SPEC §4), the agent and the findings. */
export interface PolicyInput {
  agentId: string;
  agentName: string;
  actionType: string;
  upstreamUrl: string | null;
  provider: string | null;
  model: string | null;
  /** The normalised prompt: every message text, joined with newlines. */
  prompt: string;
  /** Request headers with lower-case names, as node:http gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Tools offered, called in the history, or invoked over MCP. */
  tools: readonly string[];
  findings: readonly { class: string; severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW'; direction: 'request' | 'response' }[];
  requestBytes: number;
  user: string | null;
  session: string | null;
}

export interface CompiledPolicy {
  id: string;
  name: string;
  action: PolicyAction;
  priority: number;
  message: string | null;
  stage: PolicyStage;
  definition: StoredPolicy;
  matches(input: PolicyInput, lowerPrompt: () => string): boolean;
}

export interface PolicySet {
  request: readonly CompiledPolicy[];
  response: readonly CompiledPolicy[];
  /** What happens when no request-stage policy matches (tenant setting). */
  defaultAction: 'ALLOW' | 'DENY';
}

export interface Evaluation {
  /** Every enabled policy of the stage that matched, in evaluation order. */
  matched: CompiledPolicy[];
  winner: CompiledPolicy | null;
  /** The winner's action; with no winner, the tenant's default at the request stage, ALLOW at the response stage. */
  action: PolicyAction;
  /**
   * No request-stage policy matched, so the tenant's default_action decided (ALLOW or DENY). Never
   * true at the response stage, whose fallback is always ALLOW rather than a tenant setting.
   */
  defaulted: boolean;
}

type Test = (input: PolicyInput, lowerPrompt: () => string) => boolean;

const RISK_RANK: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const SEVERITY_RANK = { LOW: 0, MEDIUM: 1, HIGH: 2, CRITICAL: 3 } as const;

export { globToRegex } from './glob.js';

function headerValue(headers: PolicyInput['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The last URL's host: an agent's upstream repeats call after call, and parsing a URL is not free. */
let lastUrl: string | null = null;
let lastHost: string | null = null;

function hostOf(url: string | null): string | null {
  if (!url) return null;
  if (url === lastUrl) return lastHost;
  let host: string | null;
  try {
    host = new URL(url).host.toLowerCase();
  } catch {
    host = null;
  }
  lastUrl = url;
  lastHost = host;
  return host;
}

function regexTest(re: RE2): (s: string) => boolean {
  return (s) => re.test(s);
}

/** `pii.email` → `pii`; a class without a family (not one the DLP engine emits) belongs to none. */
function familyOf(cls: string): string {
  const dot = cls.indexOf('.');
  return dot > 0 ? cls.slice(0, dot) : '';
}

function findingsIn(input: PolicyInput, direction: 'request' | 'response' | 'any') {
  return direction === 'any' ? input.findings : input.findings.filter((f) => f.direction === direction);
}

/** One condition as a predicate; everything that can be prepared is prepared here. */
function compileCondition(c: Condition): Test {
  switch (c.field) {
    case 'agent': {
      const ids = new Set(c.value);
      return (i) => ids.has(i.agentId) || ids.has(i.agentName);
    }
    case 'action_type': {
      const types = new Set(c.value);
      return (i) => types.has(i.actionType);
    }
    case 'provider': {
      const providers = new Set(c.value.map((p) => p.toLowerCase()));
      return (i) => i.provider !== null && providers.has(i.provider.toLowerCase());
    }
    case 'upstream': {
      // Matched against the full URL and against the host, so `api.openai.com` and
      // `https://api.openai.com/*` both work.
      if (c.op === 'equals') {
        const want = c.value.replace(/\/+$/, '').toLowerCase();
        return (i) => i.upstreamUrl !== null && (i.upstreamUrl.replace(/\/+$/, '').toLowerCase() === want || hostOf(i.upstreamUrl) === want);
      }
      const test = c.op === 'glob' ? globMatcher([c.value], true) : regexTest(new RE2(c.value));
      return (i) => i.upstreamUrl !== null && (test(i.upstreamUrl) || test(hostOf(i.upstreamUrl) ?? ''));
    }
    case 'model': {
      if (c.op === 'in') {
        const models = new Set(c.value);
        return (i) => i.model !== null && models.has(i.model);
      }
      const test = globMatcher(c.value);
      return (i) => i.model !== null && test(i.model);
    }
    case 'tool_name': {
      if (c.op === 'in') {
        const tools = new Set(c.value);
        return (i) => i.tools.some((t) => tools.has(t));
      }
      const test = globMatcher(c.value);
      return (i) => i.tools.some(test);
    }
    case 'prompt': {
      if (c.op === 'contains') {
        if (!c.case_insensitive) return (i) => i.prompt.includes(c.value);
        const needle = c.value.toLowerCase();
        return (_i, lower) => lower().includes(needle);
      }
      const re = new RE2(c.value, c.case_insensitive ? 'iu' : 'u');
      return (i) => re.test(i.prompt);
    }
    case 'header': {
      const name = c.name;
      switch (c.op) {
        case 'exists':
          return (i) => headerValue(i.headers, name) !== undefined;
        case 'equals':
          return (i) => headerValue(i.headers, name) === c.value;
        case 'contains':
          return (i) => headerValue(i.headers, name)?.includes(c.value) ?? false;
        case 'regex': {
          const re = new RE2(c.value);
          return (i) => {
            const v = headerValue(i.headers, name);
            return v !== undefined && re.test(v);
          };
        }
      }
      break;
    }
    case 'dlp_class': {
      const classes = new Set(c.value);
      return (i) => findingsIn(i, c.direction).some((f) => classes.has(f.class));
    }
    case 'dlp_category': {
      const families = new Set(c.value);
      return (i) => findingsIn(i, c.direction).some((f) => families.has(familyOf(f.class)));
    }
    case 'risk_level': {
      const min = RISK_RANK[c.value];
      return (i) => findingsIn(i, c.direction).some((f) => SEVERITY_RANK[f.severity] >= min);
    }
    case 'request_bytes':
      return c.op === 'gt' ? (i) => i.requestBytes > c.value : (i) => i.requestBytes < c.value;
    case 'user':
    case 'session': {
      const pick = c.field === 'user' ? (i: PolicyInput) => i.user : (i: PolicyInput) => i.session;
      if (c.op === 'equals') return (i) => pick(i) === c.value;
      const test = globMatcher([c.value]);
      return (i) => {
        const v = pick(i);
        return v !== null && test(v);
      };
    }
  }
  throw new Error(`unknown condition ${JSON.stringify(c)}`);
}

/** Cheap tests first, so most policies are rejected before any text is searched. */
function cost(c: Condition): number {
  if (c.field === 'prompt') return c.op === 'regex' ? 4 : 3;
  if (c.field === 'header' || c.field === 'upstream' || c.field === 'tool_name') return c.op === 'regex' ? 2 : 1;
  return 0;
}

function compilePolicy(p: StoredPolicy): CompiledPolicy {
  const scope = p.scope.agents.length > 0 ? new Set(p.scope.agents) : null;
  const tests = [...p.conditions].sort((a, b) => cost(a) - cost(b)).map(compileCondition);
  return {
    id: p.id,
    name: p.name,
    action: p.action,
    priority: p.priority,
    message: p.message,
    stage: p.stage,
    definition: p,
    matches(input, lower) {
      if (scope && !scope.has(input.agentId) && !scope.has(input.agentName)) return false;
      for (const t of tests) if (!t(input, lower)) return false;
      return true;
    },
  };
}

/** Order of evaluation: priority, then creation time, then id — stable however the rows were read. */
export function policyOrder(a: StoredPolicy, b: StoredPolicy): number {
  return a.priority - b.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The tenant's enabled policies, compiled and ordered per stage. Throws on a definition that does not compile. */
export function compilePolicies(policies: readonly StoredPolicy[], defaultAction: 'ALLOW' | 'DENY' = 'ALLOW'): PolicySet {
  const compiled = policies.filter((p) => p.enabled).sort(policyOrder).map(compilePolicy);
  return {
    request: compiled.filter((p) => p.stage === 'request'),
    response: compiled.filter((p) => p.stage === 'response'),
    defaultAction,
  };
}

export const EMPTY_POLICIES: PolicySet = Object.freeze({ request: [], response: [], defaultAction: 'ALLOW' as const });

/** First match by priority decides; every match is reported. */
export function evaluate(set: PolicySet, stage: PolicyStage, input: PolicyInput): Evaluation {
  const policies = stage === 'request' ? set.request : set.response;
  let lowered: string | undefined;
  const lower = () => (lowered ??= input.prompt.toLowerCase());
  const matched: CompiledPolicy[] = [];
  for (const p of policies) if (p.matches(input, lower)) matched.push(p);
  const winner = matched[0] ?? null;
  if (winner) return { matched, winner, action: winner.action, defaulted: false };
  const action = stage === 'request' ? set.defaultAction : 'ALLOW';
  return { matched, winner: null, action, defaulted: stage === 'request' };
}
