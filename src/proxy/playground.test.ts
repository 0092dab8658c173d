import { describe, expect, it } from 'vitest';
import { compileDlp, type Finding } from '../dlp/engine.js';
import { compilePolicies, type StoredPolicy } from '../policy/evaluate.js';
import { parsePolicy } from '../policy/schema.js';
import { simulate, testRequest, type TraceForSimulation } from './playground.js';
import { verdict } from './verdict.js';

const DLP = compileDlp({ overrides: {}, patterns: [], allow: [] }, 'salt');
const AGENT = { id: 'agt_1', name: 'support-bot', upstreamType: 'openai', upstream: { url: 'https://api.openai.com', type: 'openai' } };
const AWS = ['AKIA', 'J7Q3R5T2', 'W6Y4Z2PL'].join('');
const EMAIL = 'anna.berg@nordlicht-logistik.de';

let n = 0;
function stored(input: Record<string, unknown>): StoredPolicy {
  n++;
  return { ...parsePolicy(input), id: `pol_${n}`, createdAt: n };
}
const chat = (content: string, model = 'gpt-4o') => ({ path: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content }] } });

describe('verdict: status precedence (SPEC §3) and flag-only', () => {
  const finding = (action: Finding['action']): Finding => ({
    class: 'x.y', severity: 'HIGH', direction: 'request', location: { path: '$', start: 0, end: 1 }, confidence: 1, hash: 'h', action,
  });
  const evaluation = (action: 'ALLOW' | 'FLAG' | 'DENY') => ({ matched: [], winner: null, action, defaulted: false });
  const cases: [string, Finding['action'][], 'ALLOW' | 'FLAG' | 'DENY', 'enforce' | 'flag_only', string, string | null][] = [
    ['nothing', [], 'ALLOW', 'enforce', 'ALLOWED', null],
    ['record only', ['record'], 'ALLOW', 'enforce', 'ALLOWED', null],
    ['warn', ['warn'], 'ALLOW', 'enforce', 'DLP_WARNED', 'dlp_warned'],
    ['redact beats warn as the reason', ['warn', 'redact'], 'ALLOW', 'enforce', 'DLP_WARNED', 'dlp_redacted'],
    ['flag beats a warning', ['warn'], 'FLAG', 'enforce', 'FLAGGED', 'policy_flagged'],
    ['a block beats a flag', ['block'], 'FLAG', 'enforce', 'DLP_BLOCKED', 'dlp_blocked_request'],
    ['deny beats a block', ['block'], 'DENY', 'enforce', 'DENIED', 'policy_denied'],
    ['flag-only: a block is a warning', ['block'], 'ALLOW', 'flag_only', 'DLP_WARNED', 'would_block'],
    ['flag-only: a deny is a flag', [], 'DENY', 'flag_only', 'FLAGGED', 'would_deny'],
    ['flag-only: would_deny over would_block', ['block'], 'DENY', 'flag_only', 'FLAGGED', 'would_deny'],
    ['flag-only: would_deny over a plain flag reason', ['block'], 'DENY', 'flag_only', 'FLAGGED', 'would_deny'],
  ];
  it.each(cases)('%s', (_name, actions, action, enforcement, status, reason) => {
    const v = verdict(actions.map(finding), evaluation(action), enforcement);
    expect([v.status, v.reason]).toEqual([status, reason]);
    expect(v.refusal !== null).toBe(status === 'DENIED' || status === 'DLP_BLOCKED');
  });

  it('a default deny refuses without a policy id, with a message that says why', () => {
    const v = verdict([], { matched: [], winner: null, action: 'DENY', defaulted: true }, 'enforce');
    expect(v.refusal?.code).toBe('policy_denied');
    expect(v.refusal?.details).toMatchObject({ policy_id: null, default_action: 'DENY' });
    expect(v.refusal?.message).toMatch(/denies by default/);
  });
});

describe('testRequest: what the proxy would do', () => {
  const policies = [
    stored({ name: 'deny-secrets', action: 'DENY', priority: 10, message: 'No secrets.', conditions: [{ field: 'dlp_category', op: 'in', value: ['secret'] }] }),
    stored({ name: 'flag-emails', action: 'FLAG', priority: 20, conditions: [{ field: 'dlp_class', op: 'in', value: ['pii.email'] }] }),
    stored({ name: 'flag-answers', action: 'FLAG', priority: 30, conditions: [{ field: 'risk_level', op: 'gte', value: 'high', direction: 'response' }] }),
  ];
  const rules = { dlp: DLP, policies: compilePolicies(policies), enforcement: 'enforce' as const };

  it('a secret: the DENY wins, every match is listed, the finding without its value', () => {
    const r = testRequest(rules, AGENT, chat(`deploy with ${AWS} and mail ${EMAIL}`));
    expect(r.matched.map((p) => p.name)).toEqual(['deny-secrets', 'flag-emails']);
    expect(r.winner).toMatchObject({ name: 'deny-secrets', action: 'DENY' });
    expect(r).toMatchObject({ status: 'DENIED', reason: 'policy_denied', http_status: 403, action: 'DENY', defaulted: false });
    expect(r.error).toMatchObject({ code: 'policy_denied', message: 'No secrets.' });
    expect(r.findings.map((f) => f.class).sort()).toEqual(['pii.email', 'secret.aws_access_key']);
    expect(JSON.stringify(r)).not.toContain(AWS);
    expect(r.response_policies.map((p) => p.name)).toEqual(['flag-answers']);
  });

  it('an e-mail address: flagged, forwarded', () => {
    const r = testRequest(rules, AGENT, chat(`write to ${EMAIL}`));
    expect(r).toMatchObject({ status: 'FLAGGED', reason: 'policy_flagged', http_status: 200, error: null, winner: { name: 'flag-emails' } });
  });

  it('nothing: allowed; a body given as text is read the same way; bad JSON is refused', () => {
    expect(testRequest(rules, AGENT, chat('hello'))).toMatchObject({ status: 'ALLOWED', matched: [], winner: null, action: 'ALLOW' });
    const text = testRequest(rules, AGENT, { path: '/v1/chat/completions', body: JSON.stringify(chat(`mail ${EMAIL}`).body) });
    expect(text.status).toBe('FLAGGED');
    expect(() => testRequest(rules, AGENT, { path: '/v1/chat/completions', body: '{nope' })).toThrow(/not valid JSON/);
  });

  it('headers, user and MCP tool names reach the conditions', () => {
    const p = compilePolicies([
      stored({ name: 'deny-shell', action: 'DENY', priority: 1, conditions: [{ field: 'tool_name', op: 'glob', value: ['shell_*'] }] }),
      stored({ name: 'flag-team', action: 'FLAG', priority: 2, conditions: [{ field: 'header', op: 'equals', name: 'X-Team', value: 'red' }, { field: 'user', op: 'equals', value: 'bob' }] }),
    ]);
    const r = { dlp: DLP, policies: p, enforcement: 'enforce' as const };
    const mcp = testRequest(r, { ...AGENT, upstreamType: 'mcp' }, { path: '/mcp', body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'shell_exec', arguments: { cmd: 'ls' } } } });
    expect(mcp).toMatchObject({ action_type: 'tool_call', status: 'DENIED' });
    expect(testRequest(r, AGENT, { ...chat('hi'), headers: { 'X-Team': 'red', 'X-RenLayer-User': 'bob' } }).status).toBe('FLAGGED');
    expect(testRequest(r, AGENT, { ...chat('hi'), headers: { 'X-Team': 'red' }, user: 'alice' }).status).toBe('ALLOWED');
  });
});

describe('simulate: replaying stored traces under candidate policies', () => {
  const trace = (id: string, over: Partial<TraceForSimulation>): TraceForSimulation => ({
    id, agent_id: 'agt_1', action_type: 'chat_completion', provider: 'openai', upstream_url: 'https://api.openai.com', model: 'gpt-4o',
    method: 'POST', path: '/v1/chat/completions', status: 'ALLOWED', reason: null, request_bytes: 100, end_user: null, session_id: null,
    dlp_findings: [], request_body: JSON.stringify(chat('hello').body), ...over,
  });
  const traces = [
    trace('t1', {}),
    trace('t2', { dlp_findings: [{ class: 'pii.email', severity: 'MEDIUM', direction: 'request', action: 'warn' }], status: 'DLP_WARNED', reason: 'dlp_warned' }),
    trace('t3', { model: 'gpt-4o-mini', request_body: JSON.stringify(chat('hello', 'gpt-4o-mini').body) }),
    trace('t4', { status: 'DENIED', reason: 'rate_limit_exceeded' }),
    trace('t5', { request_body: null, model: 'gpt-4o' }),
    trace('t6', { request_body: JSON.stringify(chat('please DEPLOY now').body) }),
  ];

  it('counts what would change, grouped by old → new status, with examples; refusals before policies stay', () => {
    const candidate = compilePolicies([
      stored({ name: 'deny-big-model', action: 'DENY', priority: 1, conditions: [{ field: 'model', op: 'in', value: ['gpt-4o'] }, { field: 'prompt', op: 'contains', value: 'deploy', case_insensitive: true }] }),
      stored({ name: 'flag-emails', action: 'FLAG', priority: 2, conditions: [{ field: 'dlp_class', op: 'in', value: ['pii.email'] }] }),
    ]);
    const r = simulate(candidate, traces, { enforcement: 'enforce' });
    expect(r.total).toBe(6);
    expect(r.changed).toBe(2);
    expect(r.transitions).toEqual([
      { from: 'DLP_WARNED', to: 'FLAGGED', count: 1, examples: ['t2'] },
      { from: 'ALLOWED', to: 'DENIED', count: 1, examples: ['t6'] },
    ].sort((a, b) => b.count - a.count));
    expect(r.without_body).toBe(1);
    expect(r.notes.join(' ')).toMatch(/no stored body/);
  });

  it('a default-deny candidate with an allow-list denies the rest, and flag-only turns denials into flags', () => {
    const allowMini = compilePolicies([stored({ name: 'allow-mini', action: 'ALLOW', priority: 1, conditions: [{ field: 'model', op: 'in', value: ['gpt-4o-mini'] }] })], 'DENY');
    const enforce = simulate(allowMini, traces, { enforcement: 'enforce' });
    expect(enforce.transitions.find((t) => t.from === 'ALLOWED')).toMatchObject({ to: 'DENIED', count: 3 });
    const flagOnly = simulate(allowMini, traces, { enforcement: 'flag_only' });
    expect(flagOnly.transitions.find((t) => t.from === 'ALLOWED')).toMatchObject({ to: 'FLAGGED', count: 3 });
  });

  it('says when header conditions could not be replayed', () => {
    const p = compilePolicies([stored({ name: 'hdr', action: 'DENY', priority: 1, conditions: [{ field: 'header', op: 'exists', name: 'x-debug' }] })]);
    const r = simulate(p, traces, { enforcement: 'enforce' });
    expect(r.changed).toBe(0);
    expect(r.notes.join(' ')).toMatch(/header conditions cannot be replayed/);
  });
});
