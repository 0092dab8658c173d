import { describe, expect, it } from 'vitest';
import { isRenLayerError } from '../core/errors.js';
import { FIELD_OPERATORS, parseCondition, parsePolicy, type ConditionField } from './schema.js';

/** The refusal's message, checked to be a validation_failed error naming `field`. */
function refusal(fn: () => unknown, field: string): string {
  try {
    fn();
  } catch (err) {
    expect(isRenLayerError(err, 'validation_failed')).toBe(true);
    expect((err as { details: { field: string } }).details.field).toBe(field);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

const policy = (extra: Record<string, unknown> = {}) => ({ name: 'p1', action: 'DENY', priority: 10, ...extra });
const withCondition = (c: Record<string, unknown>) => policy({ conditions: [c] });

describe('parsePolicy defaults and top-level fields', () => {
  it('fills in defaults: enabled, tenant-wide, no conditions, request stage', () => {
    expect(parsePolicy(policy())).toEqual({
      name: 'p1', description: '', action: 'DENY', priority: 10, enabled: true, message: null,
      scope: { agents: [] }, conditions: [], stage: 'request',
    });
  });

  it('accepts a lower-case action and turns an empty message into null', () => {
    const p = parsePolicy(policy({ action: 'flag', message: '' }));
    expect(p.action).toBe('FLAG');
    expect(p.message).toBeNull();
  });

  it.each([
    [{ name: '' }, 'name', 'must be a non-empty string'],
    [{ name: '-x' }, 'name', 'starting with a letter or digit'],
    [{ name: 'a b' }, 'name', "letters, digits, '.', '_' or '-'"],
    [{ action: 'BLOCK' }, 'action', 'must be ALLOW, FLAG or DENY'],
    [{ priority: -1 }, 'priority', 'whole number from 0 to 1000000'],
    [{ priority: 1.5 }, 'priority', 'whole number'],
    [{ priority: '1' }, 'priority', 'whole number'],
    [{ priority: 1_000_001 }, 'priority', 'whole number from 0 to 1000000'],
    [{ enabled: 'yes' }, 'enabled', 'must be true or false'],
    [{ description: 5 }, 'description', 'must be a string'],
    [{ message: 'x'.repeat(1001) }, 'message', 'at most 1000 characters'],
    [{ scope: ['a'] }, 'scope', 'must be {agents: [...]}'],
    [{ scope: { agent: ['a'] } }, 'scope.agent', 'scope has agents'],
    [{ scope: { agents: {} } }, 'scope.agents', 'non-empty list'],
    [{ scope: { agents: ['a', ''] } }, 'scope.agents[1]', 'non-empty string'],
    [{ conditions: {} }, 'conditions', 'must be a list'],
    [{ conditions: Array.from({ length: 33 }, () => ({ field: 'agent', op: 'in', value: ['a'] })) }, 'conditions', 'at most 32 conditions'],
    [{ stage: 'after' }, 'stage', 'must be request or response'],
    [{ when: 'always' }, 'when', 'unknown key'],
  ])('refuses %j naming %s', (extra, field, message) => {
    expect(refusal(() => parsePolicy(policy(extra)), field)).toContain(message);
  });

  it('refuses a non-object', () => {
    expect(refusal(() => parsePolicy('DENY everything'), 'policy')).toBe('policy: must be an object');
  });

  it('reads an empty agent list as tenant-wide, as it is stored', () => {
    expect(parsePolicy(policy({ scope: { agents: [] } })).scope).toEqual({ agents: [] });
    expect(parsePolicy(policy({ scope: {} })).scope).toEqual({ agents: [] });
  });

  it('keeps scope agents as written', () => {
    expect(parsePolicy(policy({ scope: { agents: ['agt_1', 'support-bot'] } })).scope).toEqual({ agents: ['agt_1', 'support-bot'] });
  });

  it('is idempotent for a tenant-wide policy', () => {
    const once = parsePolicy(policy());
    expect(parsePolicy(JSON.parse(JSON.stringify(once)))).toEqual(once);
  });

  it('is idempotent: its output parses to itself', () => {
    const input = policy({
      description: 'd', message: 'm', scope: { agents: ['a'] }, stage: 'response',
      conditions: [
        { field: 'prompt', op: 'regex', value: 'x+', case_insensitive: true },
        { field: 'header', op: 'exists', name: 'X-Debug' },
        { field: 'risk_level', op: 'gte', value: 'HIGH' },
      ],
    });
    const once = parsePolicy(input);
    expect(parsePolicy(JSON.parse(JSON.stringify(once)))).toEqual(once);
  });
});

describe('parseCondition: every field and operator', () => {
  it.each([
    [{ field: 'agent', op: 'in', value: ['a', 'b'] }, { field: 'agent', op: 'in', value: ['a', 'b'] }],
    [{ field: 'agent', op: 'in', value: 'a' }, { field: 'agent', op: 'in', value: ['a'] }],
    [{ field: 'action_type', op: 'in', value: ['chat_completion', 'embedding', 'tool_call', 'mcp_request', 'http_request'] },
      { field: 'action_type', op: 'in', value: ['chat_completion', 'embedding', 'tool_call', 'mcp_request', 'http_request'] }],
    [{ field: 'upstream', op: 'equals', value: 'api.openai.com' }, { field: 'upstream', op: 'equals', value: 'api.openai.com' }],
    [{ field: 'upstream', op: 'glob', value: '*.openai.com' }, { field: 'upstream', op: 'glob', value: '*.openai.com' }],
    [{ field: 'upstream', op: 'regex', value: '^https://[a-z]+\\.example$' }, { field: 'upstream', op: 'regex', value: '^https://[a-z]+\\.example$' }],
    [{ field: 'provider', op: 'in', value: ['openai'] }, { field: 'provider', op: 'in', value: ['openai'] }],
    [{ field: 'model', op: 'in', value: ['gpt-4o'] }, { field: 'model', op: 'in', value: ['gpt-4o'] }],
    [{ field: 'model', op: 'glob', value: ['gpt-4o*', 'o?'] }, { field: 'model', op: 'glob', value: ['gpt-4o*', 'o?'] }],
    [{ field: 'prompt', op: 'contains', value: 'secret' }, { field: 'prompt', op: 'contains', value: 'secret', case_insensitive: false }],
    [{ field: 'prompt', op: 'regex', value: 'a.b', case_insensitive: true }, { field: 'prompt', op: 'regex', value: 'a.b', case_insensitive: true }],
    [{ field: 'header', op: 'equals', name: 'X-Team', value: 'red' }, { field: 'header', op: 'equals', name: 'x-team', value: 'red' }],
    [{ field: 'header', op: 'contains', name: 'x-team', value: 're' }, { field: 'header', op: 'contains', name: 'x-team', value: 're' }],
    [{ field: 'header', op: 'regex', name: 'x-team', value: '^r' }, { field: 'header', op: 'regex', name: 'x-team', value: '^r' }],
    [{ field: 'header', op: 'exists', name: 'X-Debug' }, { field: 'header', op: 'exists', name: 'x-debug' }],
    [{ field: 'tool_name', op: 'in', value: ['fs_read'] }, { field: 'tool_name', op: 'in', value: ['fs_read'] }],
    [{ field: 'tool_name', op: 'glob', value: ['fs_*'] }, { field: 'tool_name', op: 'glob', value: ['fs_*'] }],
    [{ field: 'dlp_class', op: 'in', value: ['pii.email', 'custom.employee-id'] }, { field: 'dlp_class', op: 'in', value: ['pii.email', 'custom.employee-id'], direction: 'any' }],
    [{ field: 'dlp_class', op: 'in', value: ['secret.jwt'], direction: 'response' }, { field: 'dlp_class', op: 'in', value: ['secret.jwt'], direction: 'response' }],
    [{ field: 'dlp_category', op: 'in', value: ['pii', 'gov', 'payment', 'secret', 'code', 'custom'], direction: 'request' },
      { field: 'dlp_category', op: 'in', value: ['pii', 'gov', 'payment', 'secret', 'code', 'custom'], direction: 'request' }],
    [{ field: 'risk_level', op: 'gte', value: 'High' }, { field: 'risk_level', op: 'gte', value: 'high', direction: 'any' }],
    [{ field: 'request_bytes', op: 'gt', value: 100000 }, { field: 'request_bytes', op: 'gt', value: 100000 }],
    [{ field: 'request_bytes', op: 'lt', value: 0 }, { field: 'request_bytes', op: 'lt', value: 0 }],
    [{ field: 'user', op: 'equals', value: 'alice' }, { field: 'user', op: 'equals', value: 'alice' }],
    [{ field: 'user', op: 'glob', value: '*@corp.example' }, { field: 'user', op: 'glob', value: '*@corp.example' }],
    [{ field: 'session', op: 'equals', value: 's-1' }, { field: 'session', op: 'equals', value: 's-1' }],
    [{ field: 'session', op: 'glob', value: 'batch-*' }, { field: 'session', op: 'glob', value: 'batch-*' }],
  ])('%j', (input, expected) => {
    expect(parseCondition(input, 'conditions[0]')).toEqual(expected);
  });

  it('covers every operator of the table above', () => {
    // Guards this file: a field or operator added to the schema must get a case here.
    const fields = Object.keys(FIELD_OPERATORS) as ConditionField[];
    expect(fields.sort()).toEqual(['action_type', 'agent', 'dlp_category', 'dlp_class', 'header', 'model', 'prompt', 'provider',
      'request_bytes', 'risk_level', 'session', 'tool_name', 'upstream', 'user']);
    expect(Object.values(FIELD_OPERATORS).flat().length).toBe(25);
  });
});

describe('parseCondition refusals name the field', () => {
  it.each([
    [{ field: 'model', op: 'equals', value: 'x' }, 'conditions[0].op', 'conditions[0].op: model takes in or glob'],
    [{ field: 'header', op: 'in', name: 'x', value: 'x' }, 'conditions[0].op', 'conditions[0].op: header takes equals or contains or regex or exists'],
    [{ field: 'request_bytes', op: 'gte', value: 1 }, 'conditions[0].op', 'conditions[0].op: request_bytes takes gt or lt'],
    [{ field: 'cost', op: 'gt', value: 1 }, 'conditions[0].field', 'conditions[0].field: must be one of agent, action_type'],
    [{ field: 'agent', op: 'in', value: ['a'], negate: true }, 'conditions[0].negate', 'unknown key'],
    [{ field: 'agent', op: 'in', value: [] }, 'conditions[0].value', 'non-empty list of strings'],
    [{ field: 'agent', op: 'in', value: [1] }, 'conditions[0].value[0]', 'non-empty string'],
    [{ field: 'action_type', op: 'in', value: ['chat_completion', 'chat'] }, 'conditions[0].value[1]', '"chat" is not one of chat_completion, embedding'],
    [{ field: 'upstream', op: 'equals', value: '' }, 'conditions[0].value', 'non-empty string'],
    [{ field: 'prompt', op: 'contains', value: 'x', case_insensitive: 'yes' }, 'conditions[0].case_insensitive', 'must be true or false'],
    [{ field: 'prompt', op: 'contains', value: 'x'.repeat(4097) }, 'conditions[0].value', 'at most 4096 characters'],
    [{ field: 'header', op: 'equals', name: 'X Team', value: 'x' }, 'conditions[0].name', 'must be an HTTP header name'],
    [{ field: 'header', op: 'equals', value: 'x' }, 'conditions[0].name', 'non-empty string'],
    [{ field: 'header', op: 'exists', name: 'x-a', value: 'y' }, 'conditions[0].value', 'exists takes no value'],
    [{ field: 'dlp_class', op: 'in', value: ['email'] }, 'conditions[0].value[0]', '"email" is not a DLP class'],
    [{ field: 'dlp_class', op: 'in', value: ['pii.email'], direction: 'both' }, 'conditions[0].direction', 'must be request, response or any'],
    [{ field: 'dlp_category', op: 'in', value: ['health'] }, 'conditions[0].value[0]', '"health" is not one of pii, gov, payment, secret, code, custom'],
    [{ field: 'risk_level', op: 'gte', value: 'severe' }, 'conditions[0].value', 'must be one of low, medium, high, critical'],
    [{ field: 'request_bytes', op: 'gt', value: '100' }, 'conditions[0].value', 'whole number of bytes'],
    [{ field: 'request_bytes', op: 'gt', value: -1 }, 'conditions[0].value', 'whole number of bytes'],
    [{ field: 'request_bytes', op: 'gt', value: 1.5 }, 'conditions[0].value', 'whole number of bytes'],
    [{ field: 'user', op: 'equals', value: 'u'.repeat(257) }, 'conditions[0].value', 'at most 256 characters'],
    // Keys a field does not read are refused rather than silently dropped.
    [{ field: 'model', op: 'in', value: ['a'], case_insensitive: true }, 'conditions[0].case_insensitive', 'model takes no case_insensitive (only prompt)'],
    [{ field: 'prompt', op: 'contains', value: 'a', direction: 'response' }, 'conditions[0].direction', 'prompt takes no direction (only dlp_class, dlp_category, risk_level)'],
    [{ field: 'user', op: 'equals', value: 'a', name: 'x' }, 'conditions[0].name', 'user takes no name (only header)'],
  ])('%j', (input, field, message) => {
    expect(refusal(() => parseCondition(input, 'conditions[0]'), field)).toContain(message);
  });

  it('names the condition by its place in the policy', () => {
    const msg = refusal(() => parsePolicy(policy({ conditions: [{ field: 'agent', op: 'in', value: ['a'] }, { field: 'model', op: 'regex', value: 'x' }] })), 'conditions[1].op');
    expect(msg).toBe('conditions[1].op: model takes in or glob');
  });

  it('refuses a non-object condition', () => {
    expect(refusal(() => parseCondition('model = x', 'conditions[0]'), 'conditions[0]')).toContain('must be an object');
  });
});

describe('regexes run on RE2 and are refused at parse when it cannot compile them', () => {
  it.each([
    ['prompt', { field: 'prompt', op: 'regex', value: '(?=password)\\w+' }],
    ['header', { field: 'header', op: 'regex', name: 'x-a', value: '(?!x)y' }],
    ['upstream', { field: 'upstream', op: 'regex', value: '(?<=https://)api' }],
  ])('lookaround in %s', (_f, c) => {
    const msg = refusal(() => parsePolicy(withCondition(c)), 'conditions[0].value');
    expect(msg).toContain('does not compile (RE2 syntax: no lookaround or backreferences)');
    expect(msg).toContain('invalid perl operator');
  });

  it('a backreference', () => {
    expect(refusal(() => parseCondition({ field: 'prompt', op: 'regex', value: '(a)\\1' }, 'c'), 'c.value')).toContain('invalid escape sequence');
  });

  it('a repetition RE2 will not build', () => {
    expect(refusal(() => parseCondition({ field: 'prompt', op: 'regex', value: 'x{1001}' }, 'c'), 'c.value')).toContain('invalid repetition size');
  });

  it('a case-insensitive regex is checked with the flag', () => {
    expect(parseCondition({ field: 'prompt', op: 'regex', value: '(?i)abc', case_insensitive: true }, 'c')).toMatchObject({ value: '(?i)abc' });
  });

  it('a glob list too large for one RE2 program is refused at parse, not when the proxy compiles it', () => {
    const huge = Array.from({ length: 1000 }, (_, i) => `m${i}${'?'.repeat(4000)}`);
    const msg = refusal(() => parseCondition({ field: 'model', op: 'glob', value: huge }, 'conditions[0]'), 'conditions[0].value');
    expect(msg).toContain('do not compile together');
  });
});

describe('stage', () => {
  const stage = (conditions: unknown[], extra: Record<string, unknown> = {}) => parsePolicy(policy({ conditions, ...extra })).stage;

  it('is request unless a condition reads response findings', () => {
    expect(stage([{ field: 'dlp_class', op: 'in', value: ['pii.email'] }])).toBe('request');
    expect(stage([{ field: 'dlp_class', op: 'in', value: ['pii.email'], direction: 'request' }])).toBe('request');
  });

  it.each(['dlp_class', 'dlp_category', 'risk_level'])('is response when %s has direction response', (field) => {
    const value = field === 'risk_level' ? 'high' : field === 'dlp_category' ? ['secret'] : ['secret.jwt'];
    expect(stage([{ field, op: field === 'risk_level' ? 'gte' : 'in', value, direction: 'response' }])).toBe('response');
  });

  it('is response when asked, and a request-stage ask cannot hide a response condition', () => {
    expect(stage([], { stage: 'response' })).toBe('response');
    expect(stage([{ field: 'risk_level', op: 'gte', value: 'low', direction: 'response' }], { stage: 'request' })).toBe('response');
  });
});
