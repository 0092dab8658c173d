import fc from 'fast-check';
import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import { compilePolicies, evaluate, globToRegex, policyOrder, type PolicyInput, type StoredPolicy } from './evaluate.js';
import { parsePolicy } from './schema.js';

function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    agentId: 'agt_1', agentName: 'support-bot', actionType: 'chat_completion',
    upstreamUrl: 'https://api.openai.com/v1', provider: 'openai', model: 'gpt-4o',
    prompt: 'Hello there', headers: {}, tools: [], findings: [], requestBytes: 1000, user: null, session: null,
    ...over,
  };
}

let seq = 0;
/** A stored policy from loose input, parsed as the store would; ids and times ascend unless given. */
function stored(def: Record<string, unknown>, meta: Partial<Pick<StoredPolicy, 'id' | 'createdAt'>> = {}): StoredPolicy {
  seq += 1;
  return { ...parsePolicy({ action: 'DENY', priority: 10, ...def }), id: meta.id ?? `pol_${String(seq).padStart(4, '0')}`, createdAt: meta.createdAt ?? seq };
}

/** Whether a single-condition policy matches the call. */
function matches(condition: Record<string, unknown>, over: Partial<PolicyInput> = {}): boolean {
  const p = stored({ name: 'c', conditions: [condition] });
  const set = compilePolicies([p]);
  return evaluate(set, p.stage, input(over)).winner !== null;
}

const finding = (cls: string, severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW', direction: 'request' | 'response' = 'request') => ({ class: cls, severity, direction });

describe('every field and operator, matching and not', () => {
  it.each<[string, Record<string, unknown>, Partial<PolicyInput>, boolean]>([
    ['agent in by id', { field: 'agent', op: 'in', value: ['agt_1'] }, {}, true],
    ['agent in by name', { field: 'agent', op: 'in', value: ['support-bot'] }, {}, true],
    ['agent in, other', { field: 'agent', op: 'in', value: ['agt_2', 'billing-bot'] }, {}, false],
    ['action_type in', { field: 'action_type', op: 'in', value: ['embedding', 'chat_completion'] }, {}, true],
    ['action_type in, other', { field: 'action_type', op: 'in', value: ['tool_call'] }, {}, false],
    ['provider in, any case', { field: 'provider', op: 'in', value: ['OpenAI'] }, {}, true],
    ['provider in, other', { field: 'provider', op: 'in', value: ['anthropic'] }, {}, false],
    ['provider in, none known', { field: 'provider', op: 'in', value: ['openai'] }, { provider: null }, false],
    ['model in', { field: 'model', op: 'in', value: ['gpt-4o'] }, {}, true],
    ['model in is exact', { field: 'model', op: 'in', value: ['gpt-4o'] }, { model: 'gpt-4o-mini' }, false],
    ['model in, no model', { field: 'model', op: 'in', value: ['gpt-4o'] }, { model: null }, false],
    ['model glob *', { field: 'model', op: 'glob', value: ['gpt-4o*'] }, { model: 'gpt-4o-mini' }, true],
    ['model glob, any of the list', { field: 'model', op: 'glob', value: ['claude-*', 'gpt-4o*'] }, { model: 'gpt-4o' }, true],
    ['model glob is anchored', { field: 'model', op: 'glob', value: ['4o*'] }, { model: 'gpt-4o' }, false],
    ['model glob is case-sensitive', { field: 'model', op: 'glob', value: ['GPT-*'] }, {}, false],
    ['upstream equals host', { field: 'upstream', op: 'equals', value: 'api.openai.com' }, {}, true],
    ['upstream equals host, any case', { field: 'upstream', op: 'equals', value: 'API.OpenAI.com' }, {}, true],
    ['upstream equals URL, trailing slash ignored', { field: 'upstream', op: 'equals', value: 'https://api.openai.com/v1/' }, {}, true],
    ['upstream equals, other host', { field: 'upstream', op: 'equals', value: 'openai.com' }, {}, false],
    ['upstream equals, other path', { field: 'upstream', op: 'equals', value: 'https://api.openai.com/v2' }, {}, false],
    ['upstream equals host with port', { field: 'upstream', op: 'equals', value: 'localhost:8080' }, { upstreamUrl: 'http://localhost:8080' }, true],
    ['upstream equals, no upstream', { field: 'upstream', op: 'equals', value: 'api.openai.com' }, { upstreamUrl: null }, false],
    ['upstream glob host', { field: 'upstream', op: 'glob', value: '*.openai.com' }, {}, true],
    ['upstream glob URL', { field: 'upstream', op: 'glob', value: 'https://api.openai.com/*' }, {}, true],
    ['upstream glob, other', { field: 'upstream', op: 'glob', value: '*.anthropic.com' }, {}, false],
    ['upstream regex', { field: 'upstream', op: 'regex', value: 'openai\\.com' }, {}, true],
    ['upstream regex, other', { field: 'upstream', op: 'regex', value: '^http://' }, {}, false],
    ['prompt contains', { field: 'prompt', op: 'contains', value: 'there' }, {}, true],
    ['prompt contains is case-sensitive by default', { field: 'prompt', op: 'contains', value: 'THERE' }, {}, false],
    ['prompt contains, case-insensitive', { field: 'prompt', op: 'contains', value: 'THERE', case_insensitive: true }, {}, true],
    ['prompt contains, case-insensitive, non-ASCII', { field: 'prompt', op: 'contains', value: 'ÉTÉ', case_insensitive: true }, { prompt: 'un été chaud' }, true],
    ['prompt contains, absent', { field: 'prompt', op: 'contains', value: 'password' }, {}, false],
    ['prompt regex', { field: 'prompt', op: 'regex', value: 'H[a-z]+o' }, {}, true],
    ['prompt regex is case-sensitive by default', { field: 'prompt', op: 'regex', value: 'hello' }, {}, false],
    ['prompt regex, case-insensitive', { field: 'prompt', op: 'regex', value: 'hello', case_insensitive: true }, {}, true],
    ['prompt regex across lines', { field: 'prompt', op: 'regex', value: '^second$' }, { prompt: 'first\nsecond' }, false],
    ['prompt regex, multi-line flag', { field: 'prompt', op: 'regex', value: '(?m)^second$' }, { prompt: 'first\nsecond' }, true],
    ['header equals', { field: 'header', op: 'equals', name: 'X-Team', value: 'red' }, { headers: { 'x-team': 'red' } }, true],
    ['header equals is exact', { field: 'header', op: 'equals', name: 'X-Team', value: 'red' }, { headers: { 'x-team': 'Red' } }, false],
    ['header equals, absent', { field: 'header', op: 'equals', name: 'X-Team', value: 'red' }, {}, false],
    ['header contains', { field: 'header', op: 'contains', name: 'user-agent', value: 'python' }, { headers: { 'user-agent': 'openai-python/1.0' } }, true],
    ['header contains, other', { field: 'header', op: 'contains', name: 'user-agent', value: 'node' }, { headers: { 'user-agent': 'openai-python/1.0' } }, false],
    ['header regex', { field: 'header', op: 'regex', name: 'x-team', value: '^r.d$' }, { headers: { 'x-team': 'red' } }, true],
    ['header regex, absent', { field: 'header', op: 'regex', name: 'x-team', value: '.*' }, {}, false],
    ['header exists', { field: 'header', op: 'exists', name: 'X-Debug' }, { headers: { 'x-debug': '' } }, true],
    ['header exists, absent', { field: 'header', op: 'exists', name: 'X-Debug' }, { headers: { 'x-debug': undefined } }, false],
    ['header arrays joined for equals', { field: 'header', op: 'equals', name: 'x-tag', value: 'a, b' }, { headers: { 'x-tag': ['a', 'b'] } }, true],
    ['header arrays joined for regex', { field: 'header', op: 'regex', name: 'x-tag', value: '^a, b$' }, { headers: { 'x-tag': ['a', 'b'] } }, true],
    ['header arrays joined for contains', { field: 'header', op: 'contains', name: 'x-tag', value: 'b' }, { headers: { 'x-tag': ['a', 'b'] } }, true],
    ['tool_name in', { field: 'tool_name', op: 'in', value: ['fs_write'] }, { tools: ['fs_read', 'fs_write'] }, true],
    ['tool_name in, other', { field: 'tool_name', op: 'in', value: ['shell'] }, { tools: ['fs_read'] }, false],
    ['tool_name in, no tools', { field: 'tool_name', op: 'in', value: ['shell'] }, {}, false],
    ['tool_name glob', { field: 'tool_name', op: 'glob', value: ['fs_*'] }, { tools: ['search', 'fs_read'] }, true],
    ['tool_name glob, other', { field: 'tool_name', op: 'glob', value: ['fs_*'] }, { tools: ['search'] }, false],
    ['dlp_class in', { field: 'dlp_class', op: 'in', value: ['pii.email'] }, { findings: [finding('pii.email', 'MEDIUM')] }, true],
    ['dlp_class in, other class', { field: 'dlp_class', op: 'in', value: ['pii.email'] }, { findings: [finding('pii.phone', 'MEDIUM')] }, false],
    ['dlp_class, direction request', { field: 'dlp_class', op: 'in', value: ['pii.email'], direction: 'request' }, { findings: [finding('pii.email', 'MEDIUM', 'request')] }, true],
    ['dlp_class, direction request ignores the response', { field: 'dlp_class', op: 'in', value: ['pii.email'], direction: 'request' }, { findings: [finding('pii.email', 'MEDIUM', 'response')] }, false],
    ['dlp_class custom', { field: 'dlp_class', op: 'in', value: ['custom.employee-id'] }, { findings: [finding('custom.employee-id', 'HIGH')] }, true],
    ['dlp_category in', { field: 'dlp_category', op: 'in', value: ['secret'] }, { findings: [finding('secret.aws_access_key', 'CRITICAL')] }, true],
    ['dlp_category in, other family', { field: 'dlp_category', op: 'in', value: ['pii'] }, { findings: [finding('secret.aws_access_key', 'CRITICAL')] }, false],
    ['dlp_category is the family, not a prefix', { field: 'dlp_category', op: 'in', value: ['pii'] }, { findings: [finding('piix.email', 'LOW')] }, false],
    ['dlp_category, a class with no family', { field: 'dlp_category', op: 'in', value: ['pii'] }, { findings: [finding('piix', 'LOW')] }, false],
    ['risk_level gte, equal', { field: 'risk_level', op: 'gte', value: 'high' }, { findings: [finding('gov.iban', 'HIGH')] }, true],
    ['risk_level gte, above', { field: 'risk_level', op: 'gte', value: 'high' }, { findings: [finding('pii.email', 'MEDIUM'), finding('payment.credit_card', 'CRITICAL')] }, true],
    ['risk_level gte, below', { field: 'risk_level', op: 'gte', value: 'high' }, { findings: [finding('pii.email', 'MEDIUM')] }, false],
    ['risk_level gte low, no findings', { field: 'risk_level', op: 'gte', value: 'low' }, {}, false],
    ['request_bytes gt', { field: 'request_bytes', op: 'gt', value: 999 }, {}, true],
    ['request_bytes gt is strict', { field: 'request_bytes', op: 'gt', value: 1000 }, {}, false],
    ['request_bytes lt', { field: 'request_bytes', op: 'lt', value: 1001 }, {}, true],
    ['request_bytes lt is strict', { field: 'request_bytes', op: 'lt', value: 1000 }, {}, false],
    ['user equals', { field: 'user', op: 'equals', value: 'alice' }, { user: 'alice' }, true],
    ['user equals, other', { field: 'user', op: 'equals', value: 'alice' }, { user: 'alice2' }, false],
    ['user equals, none', { field: 'user', op: 'equals', value: 'alice' }, {}, false],
    ['user glob', { field: 'user', op: 'glob', value: '*@corp.example' }, { user: 'bob@corp.example' }, true],
    ['user glob, other', { field: 'user', op: 'glob', value: '*@corp.example' }, { user: 'bob@corp-example' }, false],
    ['session equals', { field: 'session', op: 'equals', value: 's-1' }, { session: 's-1' }, true],
    ['session equals, other', { field: 'session', op: 'equals', value: 's-1' }, { session: 's-2' }, false],
    ['session glob', { field: 'session', op: 'glob', value: 'batch-?' }, { session: 'batch-7' }, true],
    ['session glob, none', { field: 'session', op: 'glob', value: '*' }, {}, false],
  ])('%s', (_name, condition, over, expected) => {
    expect(matches(condition, over)).toBe(expected);
  });

  it('requires every condition (AND)', () => {
    const conditions = [{ field: 'model', op: 'in', value: ['gpt-4o'] }, { field: 'prompt', op: 'contains', value: 'secret' }];
    const set = compilePolicies([stored({ name: 'and', conditions })]);
    expect(evaluate(set, 'request', input({ prompt: 'a secret' })).action).toBe('DENY');
    expect(evaluate(set, 'request', input({ prompt: 'nothing' })).action).toBe('ALLOW');
    expect(evaluate(set, 'request', input({ model: 'o1', prompt: 'a secret' })).action).toBe('ALLOW');
  });

  it('a policy without conditions matches every call', () => {
    expect(evaluate(compilePolicies([stored({ name: 'all' })]), 'request', input()).action).toBe('DENY');
  });
});

describe('risk_level across directions', () => {
  const responseCritical = { findings: [finding('pii.email', 'MEDIUM', 'request'), finding('secret.jwt', 'CRITICAL', 'response')] };
  it.each<[string, boolean]>([['any', true], ['response', true], ['request', false]])('direction %s', (direction, expected) => {
    // direction response makes the policy response-stage; `matches` evaluates at the policy's own stage.
    expect(matches({ field: 'risk_level', op: 'gte', value: 'critical', direction }, responseCritical)).toBe(expected);
  });

  it('request direction sees only request findings even when both exist', () => {
    expect(matches({ field: 'risk_level', op: 'gte', value: 'medium', direction: 'request' }, responseCritical)).toBe(true);
    expect(matches({ field: 'risk_level', op: 'gte', value: 'high', direction: 'request' }, responseCritical)).toBe(false);
  });
});

describe('globs are globs, not regexes', () => {
  it('escapes every regex metacharacter', () => {
    expect(globToRegex('a.b+c(d)[e]{f}|g^h$i\\j')).toBe('^(?s:a\\.b\\+c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\\\j)$');
    expect(new RE2(globToRegex('a.b+c(d)[e]{f}|g^h$i\\j')).test('a.b+c(d)[e]{f}|g^h$i\\j')).toBe(true);
  });

  it('`gpt-4o.*` is a literal dot followed by anything, not a regex', () => {
    const glob = { field: 'model', op: 'glob', value: ['gpt-4o.*'] };
    expect(matches(glob, { model: 'gpt-4o-mini' })).toBe(false);
    expect(matches(glob, { model: 'gpt-4o' })).toBe(false);
    expect(matches(glob, { model: 'gpt-4o.2024' })).toBe(true);
  });

  it('`?` is exactly one character', () => {
    const glob = { field: 'model', op: 'glob', value: ['o?'] };
    expect(matches(glob, { model: 'o1' })).toBe(true);
    expect(matches(glob, { model: 'o' })).toBe(false);
    expect(matches(glob, { model: 'o1-mini' })).toBe(false);
  });

  it('`?` counts a character outside the BMP as one', () => {
    expect(matches({ field: 'tool_name', op: 'glob', value: ['t?'] }, { tools: ['t😀'] })).toBe(true);
  });

  it('`*` crosses newlines', () => {
    expect(matches({ field: 'session', op: 'glob', value: 'a*b' }, { session: 'a\nb' })).toBe(true);
  });
});

describe('scope', () => {
  it.each<[string, string[], boolean]>([
    ['by agent id', ['agt_1'], true],
    ['by agent name', ['support-bot'], true],
    ['another agent', ['agt_2', 'billing-bot'], false],
    ['tenant-wide', [], true],
  ])('%s', (_n, agents, expected) => {
    const set = compilePolicies([stored({ name: 'scoped', scope: agents.length ? { agents } : undefined })]);
    expect(evaluate(set, 'request', input()).winner !== null).toBe(expected);
  });

  it('scope and conditions must both hold', () => {
    const set = compilePolicies([stored({ name: 's', scope: { agents: ['agt_1'] }, conditions: [{ field: 'model', op: 'in', value: ['o1'] }] })]);
    expect(evaluate(set, 'request', input()).winner).toBeNull();
    expect(evaluate(set, 'request', input({ model: 'o1' })).winner?.name).toBe('s');
  });
});

describe('order, precedence and defaults', () => {
  it('lower priority first; every match reported, the first wins', () => {
    const set = compilePolicies([
      stored({ name: 'flag-all', action: 'FLAG', priority: 50 }),
      stored({ name: 'allow-4o', action: 'ALLOW', priority: 5, conditions: [{ field: 'model', op: 'in', value: ['gpt-4o'] }] }),
      stored({ name: 'deny-o1', action: 'DENY', priority: 1, conditions: [{ field: 'model', op: 'in', value: ['o1'] }] }),
      stored({ name: 'deny-all', action: 'DENY', priority: 100 }),
    ]);
    const e = evaluate(set, 'request', input());
    expect(e.matched.map((p) => p.name)).toEqual(['allow-4o', 'flag-all', 'deny-all']);
    expect(e.winner?.name).toBe('allow-4o');
    expect(e.action).toBe('ALLOW');
    expect(e.defaulted).toBe(false);
  });

  it('priority ties: the older policy first, then the smaller id — whatever order the rows arrive in', () => {
    // Stable across reloads and proxies: the database returns rows in any order, and two policies
    // saved with the same priority must not swap places between one snapshot and the next.
    const a = stored({ name: 'older', action: 'FLAG', priority: 7 }, { id: 'pol_z', createdAt: 100 });
    const b = stored({ name: 'newer', action: 'DENY', priority: 7 }, { id: 'pol_a', createdAt: 200 });
    const c = stored({ name: 'same-time-bigger-id', action: 'ALLOW', priority: 7 }, { id: 'pol_y', createdAt: 200 });
    for (const rows of [[a, b, c], [c, b, a], [b, c, a]]) {
      const e = evaluate(compilePolicies(rows), 'request', input());
      expect(e.matched.map((p) => p.name)).toEqual(['older', 'newer', 'same-time-bigger-id']);
    }
    expect([c, b, a].sort(policyOrder).map((p) => p.id)).toEqual(['pol_z', 'pol_a', 'pol_y']);
  });

  it('does not reorder the caller\'s array', () => {
    const rows = [stored({ name: 'b', priority: 2 }), stored({ name: 'a', priority: 1 })];
    compilePolicies(rows);
    expect(rows.map((p) => p.name)).toEqual(['b', 'a']);
  });

  it('skips disabled policies', () => {
    const set = compilePolicies([stored({ name: 'off', enabled: false, priority: 1 }), stored({ name: 'on', action: 'FLAG', priority: 2 })]);
    const e = evaluate(set, 'request', input());
    expect(e.matched.map((p) => p.name)).toEqual(['on']);
    expect(e.action).toBe('FLAG');
  });

  it('a default-deny tenant denies what no policy matches, and says it defaulted', () => {
    const set = compilePolicies([stored({ name: 'allow-4o', action: 'ALLOW', conditions: [{ field: 'model', op: 'in', value: ['gpt-4o'] }] })], 'DENY');
    expect(evaluate(set, 'request', input())).toMatchObject({ action: 'ALLOW', defaulted: false });
    expect(evaluate(set, 'request', input({ model: 'o1' }))).toMatchObject({ action: 'DENY', defaulted: true, winner: null, matched: [] });
  });

  it('a default-allow tenant allows what no policy matches, also by default', () => {
    const set = compilePolicies([stored({ name: 'deny-o1', conditions: [{ field: 'model', op: 'in', value: ['o1'] }] })]);
    expect(evaluate(set, 'request', input())).toMatchObject({ action: 'ALLOW', defaulted: true, winner: null });
  });

  it('the response stage falls back to ALLOW, not the tenant default', () => {
    const set = compilePolicies([], 'DENY');
    expect(evaluate(set, 'response', input())).toMatchObject({ action: 'ALLOW', defaulted: false, winner: null });
  });
});

describe('stages', () => {
  const set = compilePolicies([
    stored({ name: 'resp-jwt', priority: 1, conditions: [{ field: 'dlp_class', op: 'in', value: ['secret.jwt'], direction: 'response' }] }),
    stored({ name: 'req-jwt', action: 'FLAG', priority: 2, conditions: [{ field: 'dlp_class', op: 'in', value: ['secret.jwt'] }] }),
    stored({ name: 'resp-explicit', action: 'FLAG', priority: 3, stage: 'response' }),
  ]);

  it('separates response-stage policies from request-stage ones', () => {
    expect(set.request.map((p) => p.name)).toEqual(['req-jwt']);
    expect(set.response.map((p) => p.name)).toEqual(['resp-jwt', 'resp-explicit']);
  });

  it('request stage never runs response policies', () => {
    const e = evaluate(set, 'request', input({ findings: [finding('secret.jwt', 'CRITICAL', 'request')] }));
    expect(e.matched.map((p) => p.name)).toEqual(['req-jwt']);
  });

  it('response stage matches response findings', () => {
    const e = evaluate(set, 'response', input({ findings: [finding('secret.jwt', 'CRITICAL', 'response')] }));
    expect(e.matched.map((p) => p.name)).toEqual(['resp-jwt', 'resp-explicit']);
    expect(e.action).toBe('DENY');
  });

  it('a response-direction policy ignores the same class found in the request', () => {
    const e = evaluate(set, 'response', input({ findings: [finding('secret.jwt', 'CRITICAL', 'request')] }));
    expect(e.matched.map((p) => p.name)).toEqual(['resp-explicit']);
  });
});

describe('evaluate on arbitrary input', () => {
  // One policy per field and operator, so every compiled predicate meets the generated input.
  const policies = [
    { field: 'agent', op: 'in', value: ['a'] },
    { field: 'action_type', op: 'in', value: ['chat_completion'] },
    { field: 'upstream', op: 'equals', value: 'a.b' },
    { field: 'upstream', op: 'glob', value: '*a*' },
    { field: 'upstream', op: 'regex', value: 'a' },
    { field: 'provider', op: 'in', value: ['a'] },
    { field: 'model', op: 'in', value: ['a'] },
    { field: 'model', op: 'glob', value: ['a*', '?'] },
    { field: 'prompt', op: 'contains', value: 'a' },
    { field: 'prompt', op: 'contains', value: 'A', case_insensitive: true },
    { field: 'prompt', op: 'regex', value: '\\w+\\s' },
    { field: 'prompt', op: 'regex', value: 'a', case_insensitive: true },
    { field: 'header', op: 'equals', name: 'a', value: 'a' },
    { field: 'header', op: 'contains', name: 'a', value: 'a' },
    { field: 'header', op: 'regex', name: 'a', value: 'a' },
    { field: 'header', op: 'exists', name: 'b' },
    { field: 'tool_name', op: 'in', value: ['a'] },
    { field: 'tool_name', op: 'glob', value: ['*a'] },
    { field: 'dlp_class', op: 'in', value: ['pii.email'] },
    { field: 'dlp_category', op: 'in', value: ['pii'], direction: 'request' },
    { field: 'risk_level', op: 'gte', value: 'medium' },
    { field: 'request_bytes', op: 'gt', value: 10 },
    { field: 'request_bytes', op: 'lt', value: 10 },
    { field: 'user', op: 'equals', value: 'a' },
    { field: 'user', op: 'glob', value: 'a*' },
    { field: 'session', op: 'equals', value: 'a' },
    { field: 'session', op: 'glob', value: '*' },
  ].map((c, i) => stored({ name: `p${i}`, action: (['ALLOW', 'FLAG', 'DENY'] as const)[i % 3], priority: i % 5, conditions: [c] }));
  const respPolicies = [stored({ name: 'r', conditions: [{ field: 'risk_level', op: 'gte', value: 'low', direction: 'response' }] })];

  const str = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('a', 'A', 'a.b', 'https://a.b/', 'http://[::1', ''));
  const arbInput: fc.Arbitrary<PolicyInput> = fc.record({
    agentId: str, agentName: str, actionType: str,
    upstreamUrl: fc.option(str), provider: fc.option(str), model: fc.option(str),
    prompt: str,
    headers: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.option(fc.oneof(str, fc.array(str)), { nil: undefined })),
    tools: fc.array(str),
    findings: fc.array(fc.record({
      class: fc.oneof(str, fc.constantFrom('pii.email', 'pii', '.pii', 'secret.jwt')),
      severity: fc.constantFrom('CRITICAL', 'HIGH', 'MEDIUM', 'LOW'),
      direction: fc.constantFrom('request', 'response'),
    })),
    requestBytes: fc.integer({ min: 0, max: 1e9 }),
    user: fc.option(str), session: fc.option(str),
  });

  it('never throws, and the winner is always the first match', () => {
    const set = compilePolicies([...policies, ...respPolicies], 'DENY');
    fc.assert(fc.property(arbInput, fc.constantFrom('request' as const, 'response' as const), (i, stage) => {
      const e = evaluate(set, stage, i);
      expect(e.winner).toBe(e.matched[0] ?? null);
      expect(e.action).toBe(e.winner ? e.winner.action : stage === 'request' ? 'DENY' : 'ALLOW');
      // Evaluation order is the priority order.
      for (let k = 1; k < e.matched.length; k++) expect(e.matched[k - 1]!.priority).toBeLessThanOrEqual(e.matched[k]!.priority);
    }), { numRuns: 500 });
  });
});
