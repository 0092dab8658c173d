import { describe, expect, it } from 'vitest';
import { isRenLayerError } from '../core/errors.js';
import { compilePolicies, evaluate, type PolicyInput } from './evaluate.js';
import { parsePolicy } from './schema.js';
import { summarize } from './summary.js';
import {
  blockPii, costControl, custom, flagHighRiskResponses, requestSizeLimit, restrictProvider, TEMPLATES, templateById,
  type TemplateResult,
} from './templates.js';

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

function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    agentId: 'agt_1', agentName: 'support-bot', actionType: 'chat_completion', upstreamUrl: 'https://api.openai.com/v1',
    provider: 'openai', model: 'gpt-4o', prompt: 'hi', headers: {}, tools: [], findings: [], requestBytes: 100, user: null, session: null,
    ...over,
  };
}

/** The action the template's policies decide for a call, at the stage they run. */
function decide(r: TemplateResult, over: Partial<PolicyInput>, stage: 'request' | 'response' = 'request'): string {
  const set = compilePolicies(r.policies.map((p, i) => ({ ...p, id: `pol_${i}`, createdAt: i })));
  return evaluate(set, stage, input(over)).action;
}

/** Each policy a template writes is exactly what parsePolicy makes of it (it can be saved and read back). */
function expectRoundTrip(r: TemplateResult): void {
  for (const p of r.policies) expect(parsePolicy(JSON.parse(JSON.stringify(p)))).toEqual(p);
}

const says = (r: TemplateResult) => r.policies.map((p) => summarize(p));

describe('blockPii', () => {
  it('denies personal data and government IDs in the request by default', () => {
    const r = blockPii();
    expectRoundTrip(r);
    expect(r.limits).toEqual([]);
    expect(says(r)).toEqual(['Deny calls from all agents when the request contains personal data or a government ID, '
      + 'with the message "The request contains personal data, which may not be sent to this provider.".']);
    expect(r.policies[0]).toMatchObject({ name: 'block-pii', priority: 100, action: 'DENY', stage: 'request' });
    expect(decide(r, { findings: [{ class: 'pii.email', severity: 'MEDIUM', direction: 'request' }] })).toBe('DENY');
    expect(decide(r, { findings: [{ class: 'gov.iban', severity: 'HIGH', direction: 'request' }] })).toBe('DENY');
    expect(decide(r, { findings: [{ class: 'secret.jwt', severity: 'CRITICAL', direction: 'request' }] })).toBe('ALLOW');
  });

  it('takes chosen classes, agents, name, priority and message', () => {
    const r = blockPii({ name: 'no-cards', priority: 5, agents: ['agt_1'], classes: ['payment.credit_card', 'custom.badge'], message: 'No cards.' });
    expectRoundTrip(r);
    expect(says(r)).toEqual(['Deny calls from agent agt_1 when the request contains a credit card number or a match of the custom pattern badge, with the message "No cards.".']);
    expect(decide(r, { findings: [{ class: 'custom.badge', severity: 'HIGH', direction: 'request' }] })).toBe('DENY');
    expect(decide(r, { agentId: 'agt_2', agentName: 'x', findings: [{ class: 'custom.badge', severity: 'HIGH', direction: 'request' }] })).toBe('ALLOW');
  });

  it('takes categories', () => {
    expect(blockPii({ categories: ['secret'] }).policies[0]!.conditions).toEqual([{ field: 'dlp_category', op: 'in', value: ['secret'], direction: 'request' }]);
  });

  it('refuses categories and classes together, and bad entries by parameter', () => {
    expect(refusal(() => blockPii({ categories: ['pii'], classes: ['pii.email'] }), 'classes')).toBe('classes: give categories or classes, not both');
    expect(refusal(() => blockPii({ categories: ['pii', 'health' as 'pii'] }), 'categories[1]')).toContain('must be one of pii, gov');
    expect(refusal(() => blockPii({ classes: ['email'] }), 'classes[0]')).toContain('"email" is not a DLP class');
  });
});

describe('costControl', () => {
  const r = costControl({ allowedModels: ['gpt-4o-mini', 'claude-3-5-haiku*'], maxTokens: 200_000 });

  it('is an ALLOW for the list, then a DENY for the rest at the next priority', () => {
    expectRoundTrip(r);
    expect(r.policies.map((p) => [p.name, p.action, p.priority])).toEqual([['cost-control-allow', 'ALLOW', 900], ['cost-control-deny', 'DENY', 901]]);
    expect(says(r)).toEqual([
      'Allow chat completions and embeddings from all agents to models gpt-4o-mini and claude-3-5-haiku*.',
      'Deny chat completions and embeddings from all agents, with the message "Only these models are allowed: gpt-4o-mini, claude-3-5-haiku*.".',
    ]);
  });

  it('allows listed models, denies others, and leaves other kinds of call alone', () => {
    expect(decide(r, { model: 'gpt-4o-mini' })).toBe('ALLOW');
    expect(decide(r, { model: 'claude-3-5-haiku-latest', provider: 'anthropic' })).toBe('ALLOW');
    expect(decide(r, { model: 'gpt-4o' })).toBe('DENY');
    expect(decide(r, { model: null })).toBe('DENY');
    expect(decide(r, { model: 'text-embedding-3-large', actionType: 'embedding' })).toBe('DENY');
    expect(decide(r, { model: null, actionType: 'tool_call' })).toBe('ALLOW');
  });

  it('suggests the token cap as a per-agent token budget, since no condition can express it', () => {
    expect(r.limits).toEqual([{ scope: 'per_agent', dimension: 'tokens', window: 'day', limit: 200_000, agents: [] }]);
    expect(costControl({ allowedModels: ['a'], maxTokens: 5, tokenWindow: 'hour', agents: ['agt_1'] }).limits)
      .toEqual([{ scope: 'per_agent', dimension: 'tokens', window: 'hour', limit: 5, agents: ['agt_1'] }]);
    expect(costControl({ allowedModels: ['a'] }).limits).toEqual([]);
  });

  it('uses an exact list when no entry is a glob', () => {
    const p = costControl({ allowedModels: ['gpt-4o-mini'] }).policies[0]!;
    expect(p.conditions[1]).toEqual({ field: 'model', op: 'in', value: ['gpt-4o-mini'] });
  });

  it('scopes both policies alike', () => {
    const scoped = costControl({ allowedModels: ['a'], agents: ['support-bot'], actionTypes: ['chat_completion'] });
    expectRoundTrip(scoped);
    expect(scoped.policies.map((p) => p.scope.agents)).toEqual([['support-bot'], ['support-bot']]);
    expect(decide(scoped, { model: 'b', agentName: 'other', agentId: 'agt_9' })).toBe('ALLOW');
    expect(decide(scoped, { model: 'b' })).toBe('DENY');
    expect(decide(scoped, { model: 'b', actionType: 'embedding' })).toBe('ALLOW');
  });

  it('refuses what it cannot build, naming the parameter', () => {
    expect(refusal(() => costControl({ allowedModels: [] }), 'allowedModels')).toContain('non-empty list');
    expect(refusal(() => costControl({ allowedModels: ['a', ''] }), 'allowedModels[1]')).toContain('non-empty string');
    expect(refusal(() => costControl({ allowedModels: ['m'.repeat(5000)] }), 'allowedModels[0]')).toBe('allowedModels[0]: must be at most 4096 characters');
    expect(refusal(() => costControl({ allowedModels: ['a'], maxTokens: 0 }), 'maxTokens')).toContain('whole number from 1');
    expect(refusal(() => costControl({ allowedModels: ['a'], tokenWindow: 'day' }), 'tokenWindow')).toBe('tokenWindow: applies only with maxTokens');
    expect(refusal(() => costControl({ allowedModels: ['a'], maxTokens: 1, tokenWindow: 'week' as 'day' }), 'tokenWindow')).toContain('minute, hour, day, month');
    expect(refusal(() => costControl({ allowedModels: ['a'], priority: 1_000_000 }), 'priority')).toContain('from 0 to 999999');
    expect(refusal(() => costControl({ allowedModels: ['a'], name: 'x'.repeat(58) }), 'name')).toContain('at most 57 characters (the template adds -allow and -deny)');
    expect(refusal(() => costControl({ allowedModels: ['a'], name: 'no spaces' }), 'name')).toContain("letters, digits, '.', '_' or '-'");
    expect(refusal(() => costControl({ allowedModels: ['a'], actionTypes: ['chat'] as never }), 'actionTypes[0]')).toContain('must be one of chat_completion');
    expect(refusal(() => costControl({ allowedModels: ['a'], agents: ['a'.repeat(5000)] }), 'agents[0]')).toContain('at most 4096 characters');
    expect(refusal(() => costControl({ allowedModels: ['a'], message: 'm'.repeat(1001) }), 'message')).toContain('at most 1000 characters');
  });

  it('keeps the default message short when the list is long', () => {
    const many = Array.from({ length: 200 }, (_, i) => `model-${i}`);
    expect(costControl({ allowedModels: many }).policies[1]!.message).toBe('This model is not on the allowed list.');
  });
});

describe('restrictProvider', () => {
  it('allows the providers and denies the rest', () => {
    const r = restrictProvider({ providers: ['openai', 'azure'] });
    expectRoundTrip(r);
    expect(says(r)).toEqual([
      'Allow chat completions and embeddings from all agents to OpenAI and Azure.',
      'Deny chat completions and embeddings from all agents, with the message "Only these providers are allowed: openai, azure.".',
    ]);
    expect(r.policies.map((p) => p.priority)).toEqual([800, 801]);
    expect(decide(r, { provider: 'azure' })).toBe('ALLOW');
    expect(decide(r, { provider: 'anthropic' })).toBe('DENY');
  });

  it('with providers and models, requires both', () => {
    const r = restrictProvider({ providers: ['openai'], models: ['gpt-4o*'], name: 'eu', priority: 10, message: 'Not here.' });
    expectRoundTrip(r);
    expect(says(r)[0]).toBe('Allow chat completions and embeddings from all agents to model gpt-4o* on OpenAI.');
    expect(decide(r, { provider: 'openai', model: 'gpt-4o-mini' })).toBe('ALLOW');
    expect(decide(r, { provider: 'openai', model: 'o1' })).toBe('DENY');
    expect(decide(r, { provider: 'azure', model: 'gpt-4o' })).toBe('DENY');
  });

  it('models alone', () => {
    const r = restrictProvider({ models: ['llama-3'] });
    expect(r.policies[1]!.message).toBe('Only these models are allowed: llama-3.');
    expect(decide(r, { model: 'llama-3', provider: 'vllm' })).toBe('ALLOW');
  });

  it('refuses neither, naming the parameter', () => {
    expect(refusal(() => restrictProvider({}), 'providers')).toBe('providers: give providers, models or both');
    expect(refusal(() => restrictProvider({ models: ['m'.repeat(5000)] }), 'models[0]')).toContain('at most 4096');
    expect(refusal(() => restrictProvider({ providers: ['p'], models: ['m'.repeat(5000)] }), 'models[0]')).toContain('at most 4096');
  });
});

describe('requestSizeLimit', () => {
  it('denies bodies over maxBytes', () => {
    const r = requestSizeLimit({ maxBytes: 100_000 });
    expectRoundTrip(r);
    expect(says(r)).toEqual(['Deny calls from all agents when the request body is larger than 100,000 bytes, with the message "The request is larger than the 100000 bytes allowed.".']);
    expect(decide(r, { requestBytes: 100_000 })).toBe('ALLOW');
    expect(decide(r, { requestBytes: 100_001 })).toBe('DENY');
  });

  it('refuses a bad size', () => {
    expect(refusal(() => requestSizeLimit({ maxBytes: -1 }), 'maxBytes')).toContain('whole number');
    expect(refusal(() => requestSizeLimit({} as never), 'maxBytes')).toContain('whole number');
  });
});

describe('flagHighRiskResponses', () => {
  it('flags responses with a finding of high severity or above, at the response stage', () => {
    const r = flagHighRiskResponses();
    expectRoundTrip(r);
    expect(r.policies[0]).toMatchObject({ action: 'FLAG', stage: 'response', message: null });
    expect(says(r)).toEqual(['Flag calls from all agents when there is a finding of high severity or above in the response.']);
    expect(decide(r, { findings: [{ class: 'gov.iban', severity: 'HIGH', direction: 'response' }] }, 'response')).toBe('FLAG');
    expect(decide(r, { findings: [{ class: 'gov.iban', severity: 'HIGH', direction: 'request' }] }, 'response')).toBe('ALLOW');
    expect(decide(r, { findings: [{ class: 'gov.iban', severity: 'HIGH', direction: 'response' }] }, 'request')).toBe('ALLOW');
  });

  it('takes a level', () => {
    expect(flagHighRiskResponses({ level: 'critical' }).policies[0]!.conditions[0]).toEqual({ field: 'risk_level', op: 'gte', value: 'critical', direction: 'response' });
    expect(refusal(() => flagHighRiskResponses({ level: 'severe' as 'high' }), 'level')).toContain('low, medium, high, critical');
  });
});

describe('custom', () => {
  it('is parsePolicy', () => {
    const def = { name: 'x', action: 'FLAG', priority: 3, conditions: [{ field: 'model', op: 'in', value: ['o1'] }] };
    expect(custom(def)).toEqual({ policies: [parsePolicy(def)], limits: [] });
  });

  it('names refusals under definition', () => {
    expect(refusal(() => custom({ name: 'x', action: 'DENY', priority: 1, conditions: [{ field: 'model', op: 'regex', value: 'x' }] }), 'definition.conditions[0].op'))
      .toBe('definition.conditions[0].op: model takes in or glob');
    expect(refusal(() => custom('nope'), 'definition')).toBe('definition: must be an object');
  });
});

describe('TEMPLATES registry', () => {
  it('lists every template of SPEC §5 once, each parameter described', () => {
    expect(TEMPLATES.map((t) => t.id)).toEqual(['block-pii', 'cost-control', 'restrict-provider', 'request-size-limit', 'flag-high-risk-responses', 'custom']);
    for (const t of TEMPLATES) {
      expect(t.title).not.toBe('');
      expect(t.description).not.toBe('');
      expect(new Set(t.parameters.map((p) => p.name)).size).toBe(t.parameters.length);
      for (const p of t.parameters) expect(p.description).not.toBe('');
    }
  });

  it('builds each from its required parameters alone, and the result round-trips', () => {
    const minimal: Record<string, unknown> = {
      'block-pii': {}, 'cost-control': { allowedModels: ['a'] }, 'restrict-provider': { providers: ['openai'] },
      'request-size-limit': { maxBytes: 10 }, 'flag-high-risk-responses': {},
      custom: { definition: { name: 'c', action: 'ALLOW', priority: 1 } },
    };
    for (const t of TEMPLATES) {
      const r = t.build(minimal[t.id]);
      expect(r.policies.length).toBeGreaterThan(0);
      expectRoundTrip(r);
    }
  });

  it('matches the functions', () => {
    expect(templateById('cost-control').build({ allowedModels: ['a'], maxTokens: 9 })).toEqual(costControl({ allowedModels: ['a'], maxTokens: 9 }));
  });

  it('reads null as omitted and leaves the caller\'s params untouched', () => {
    const params = { level: null, agents: null };
    expect(templateById('flag-high-risk-responses').build(params)).toEqual(flagHighRiskResponses());
    expect(params).toEqual({ level: null, agents: null });
  });

  it.each<[string, unknown, string, string]>([
    ['cost-control', {}, 'allowedModels', 'allowedModels: is required'],
    ['cost-control', { allowedModels: 'gpt-4o' }, 'allowedModels', 'allowedModels: must be a list of strings'],
    ['cost-control', { allowedModels: [1] }, 'allowedModels[0]', 'allowedModels[0]: must be a string'],
    ['cost-control', { allowedModels: ['a'], maxTokens: '10' }, 'maxTokens', 'maxTokens: must be a whole number'],
    ['cost-control', { allowedModels: ['a'], budget: 10 }, 'budget', 'budget: unknown parameter; this template takes name, priority, agents, message, allowedModels, maxTokens, tokenWindow, actionTypes'],
    ['block-pii', { categories: ['pii'], classes: ['pii.email'] }, 'classes', 'classes: give categories or classes, not both'],
    ['block-pii', { name: 5 }, 'name', 'name: must be a string'],
    ['block-pii', [], 'params', 'params: must be an object of template parameters'],
    ['request-size-limit', { maxBytes: 1.5 }, 'maxBytes', 'maxBytes: must be a whole number'],
    ['restrict-provider', { providers: [] }, 'providers', 'providers: must be a non-empty list of strings'],
    ['custom', { definition: [] }, 'definition', 'definition: must be an object'],
    ['custom', {}, 'definition', 'definition: is required'],
  ])('%s %j', (id, params, field, message) => {
    expect(refusal(() => templateById(id).build(params), field)).toBe(message);
  });

  it('an unknown template is not_found', () => {
    expect(() => templateById('nope')).toThrow(expect.objectContaining({ code: 'not_found' }));
  });
});
