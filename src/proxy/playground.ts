import { RenLayerError } from '../core/errors.js';
import { classify } from '../dialects/classify.js';
import { apiKind, normalizeRequest } from '../dialects/index.js';
import { scan, type CompiledDlp, type Finding } from '../dlp/engine.js';
import { evaluate, type CompiledPolicy, type PolicySet } from '../policy/evaluate.js';
import { policyInput, type CallView } from './policy-input.js';
import type { TraceRow } from './traces.js';
import { PRECEDENCE, publicFinding, verdict, type Enforcement, type Status } from './verdict.js';

/**
 * The policy tester and simulator (SPEC §5): the proxy's own classification, normalisation, DLP
 * scan, policy evaluation and verdict, run on a sample request or on stored traces instead of
 * live traffic. Pure; the API and the CLI load what it needs.
 */

export interface TenantRules {
  dlp: CompiledDlp;
  policies: PolicySet;
  enforcement: Enforcement;
}

export interface TestAgent {
  id: string;
  name: string;
  upstreamType: string;
  upstream?: { url: string; type: string } | null;
}

export interface SampleRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** The body as sent: a JSON value, or its text. */
  body?: unknown;
  user?: string | null;
  session?: string | null;
}

const summaryOf = (p: CompiledPolicy) => ({ id: p.id, name: p.name, action: p.action, priority: p.priority, stage: p.stage });

export interface TestResult {
  action_type: string;
  model: string | null;
  findings: (ReturnType<typeof publicFinding> & { confidence: number; action: string })[];
  /** Request-stage policies that match, in evaluation order; the first decided. */
  matched: ReturnType<typeof summaryOf>[];
  winner: ReturnType<typeof summaryOf> | null;
  action: 'ALLOW' | 'FLAG' | 'DENY';
  /** No policy matched: the tenant's default action decided. */
  defaulted: boolean;
  status: Status;
  reason: string | null;
  http_status: number;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  /** Response-stage policies are judged on the answer, which a test request does not have. */
  response_policies: ReturnType<typeof summaryOf>[];
}

/** What the proxy would do with this request from this agent, without sending it anywhere. */
export function testRequest(rules: TenantRules, agent: TestAgent, sample: SampleRequest): TestResult {
  const method = (sample.method ?? 'POST').toUpperCase();
  const headers = Object.fromEntries(Object.entries(sample.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  let json: unknown;
  let bytes = 0;
  if (typeof sample.body === 'string') {
    bytes = Buffer.byteLength(sample.body);
    try {
      json = sample.body === '' ? undefined : JSON.parse(sample.body);
    } catch {
      throw new RenLayerError('invalid_request', 'the sample body is not valid JSON');
    }
  } else if (sample.body !== undefined) {
    json = sample.body;
    bytes = Buffer.byteLength(JSON.stringify(sample.body));
  }
  const classification = classify(method, sample.path, json, agent.upstreamType);
  const normalized = normalizeRequest(apiKind(method, sample.path, json), json);
  const findings = normalized.texts.length > 0 ? scan(rules.dlp, normalized.texts, 'request', agent.id) : [];
  const view: CallView = {
    agent, classification, normalized, upstream: agent.upstream ?? undefined, headers, requestBytes: bytes,
    user: sample.user ?? headers['x-renlayer-user'] ?? null, session: sample.session ?? headers['x-renlayer-session'] ?? null,
  };
  const evaluation = evaluate(rules.policies, 'request', policyInput(view, findings));
  const v = verdict(findings, evaluation, rules.enforcement);
  return {
    action_type: classification.actionType,
    model: normalized.model,
    findings: findings.map((f) => ({ ...publicFinding(f), confidence: f.confidence, action: f.action })),
    matched: evaluation.matched.map(summaryOf),
    winner: evaluation.winner ? summaryOf(evaluation.winner) : null,
    action: evaluation.action,
    defaulted: evaluation.defaulted,
    status: v.status,
    reason: v.reason,
    http_status: v.refusal?.status ?? 200,
    error: v.refusal ? { code: v.refusal.code, message: v.refusal.message, ...(v.refusal.details ? { details: v.refusal.details } : {}) } : null,
    response_policies: rules.policies.response.map(summaryOf),
  };
}

// ---------------------------------------------------------------------------------------------
// Simulation

/** The trace columns a simulation reads (renlayer.traces); `request_body` is the redacted body, when stored. */
export type TraceForSimulation = Pick<TraceRow, 'id' | 'agent_id' | 'action_type' | 'provider' | 'upstream_url' | 'model' | 'method' | 'path'
  | 'status' | 'reason' | 'end_user' | 'session_id' | 'request_body'> & {
  request_bytes: number;
  dlp_findings: { class: string; severity: Finding['severity']; direction: Finding['direction']; action: Finding['action']; location?: Finding['location']; confidence?: number }[] | null;
};

export interface Transition {
  from: Status;
  to: Status;
  count: number;
  /** Up to five trace ids. */
  examples: string[];
}

export interface SimulationResult {
  total: number;
  changed: number;
  transitions: Transition[];
  /** Traces without a stored body: their prompt, model and tool conditions saw nothing. */
  without_body: number;
  notes: string[];
}

/** Outcomes policies cannot change: the call was refused before policies ran. */
const BEFORE_POLICIES = new Set(['rate_limit_exceeded', 'invalid_request', 'invalid_header', 'payload_too_large', 'agent_disabled']);
const EXAMPLES = 5;

/** The status a stored call would have had under the candidate policies. */
function replay(t: TraceForSimulation, policies: PolicySet, enforcement: Enforcement, agentNames: ReadonlyMap<string, string>): Status {
  let json: unknown;
  if (t.request_body !== null) {
    try {
      json = JSON.parse(t.request_body);
    } catch {
      // A truncated stored body: conditions on its text see nothing.
    }
  }
  const findings = (t.dlp_findings ?? []).map((f) => ({
    class: f.class, severity: f.severity, direction: f.direction, action: f.action,
    location: f.location ?? { path: '$', start: 0, end: 0 }, confidence: f.confidence ?? 1, hash: '',
  })) as Finding[];
  const request = findings.filter((f) => f.direction === 'request');
  const response = findings.filter((f) => f.direction === 'response');
  const agentId = t.agent_id ?? '';
  const view: CallView = {
    agent: { id: agentId, name: agentNames.get(agentId) ?? agentId, upstreamType: t.provider ?? 'http' },
    classification: { actionType: t.action_type as never, toolName: null, rpcId: null, isJsonRpc: false },
    normalized: json === undefined ? null : normalizeRequest(apiKind(t.method, t.path, json), json),
    upstream: t.upstream_url ? { url: t.upstream_url, type: t.provider ?? 'http' } : undefined,
    headers: {},
    requestBytes: t.request_bytes,
    user: t.end_user,
    session: t.session_id?.startsWith('auto:') ? null : t.session_id,
  };
  if (view.normalized && view.normalized.model === null && t.model) view.normalized = { ...view.normalized, model: t.model };
  const first = verdict(request, evaluate(policies, 'request', policyInput(view, request)), enforcement);
  if (first.refusal) return first.status;
  const second = verdict(response, evaluate(policies, 'response', policyInput(view, findings)), enforcement, 'response');
  return PRECEDENCE[second.status] > PRECEDENCE[first.status] ? second.status : first.status;
}

/**
 * Replays stored traces under a candidate policy set and reports how many calls would change
 * status, grouped by old → new status, with examples. Traces refused before policies ran (rate
 * limits, bad requests) keep their status.
 */
export function simulate(policies: PolicySet, traces: readonly TraceForSimulation[], opts: { enforcement: Enforcement; agentNames?: ReadonlyMap<string, string> }): SimulationResult {
  const transitions = new Map<string, Transition>();
  let changed = 0;
  let withoutBody = 0;
  for (const t of traces) {
    if (t.request_body === null) withoutBody++;
    const to = t.reason !== null && BEFORE_POLICIES.has(t.reason) ? t.status : replay(t, policies, opts.enforcement, opts.agentNames ?? new Map());
    if (to === t.status) continue;
    changed++;
    const key = `${t.status}>${to}`;
    let tr = transitions.get(key);
    if (!tr) transitions.set(key, (tr = { from: t.status, to, count: 0, examples: [] }));
    tr.count++;
    if (tr.examples.length < EXAMPLES) tr.examples.push(t.id);
  }
  const notes: string[] = [];
  const all = [...policies.request, ...policies.response];
  if (all.some((p) => p.definition.conditions.some((c) => c.field === 'header'))) {
    notes.push('header conditions cannot be replayed: traces do not keep request headers, so they were treated as not matching');
  }
  if (withoutBody > 0) notes.push(`${withoutBody} trace(s) have no stored body (store_bodies: none): prompt, model and tool conditions saw only what the trace row keeps`);
  return {
    total: traces.length,
    changed,
    transitions: [...transitions.values()].sort((a, b) => b.count - a.count),
    without_body: withoutBody,
    notes,
  };
}
