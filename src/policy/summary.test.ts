import { describe, expect, it } from 'vitest';
import { BUILTIN_CLASSES } from '../dlp/detectors/index.js';
import { parsePolicy } from './schema.js';
import { DLP_CATEGORY_NAMES, DLP_CLASS_NAMES, dlpClassName, summarize } from './summary.js';

const AGENTS = { agt_1: 'support-bot', agt_2: 'billing-bot' };

/** The sentence for a policy written as an operator would write it. */
function say(def: Record<string, unknown>, names = { agents: AGENTS }): string {
  return summarize(parsePolicy({ name: 'p', action: 'DENY', priority: 1, ...def }), names);
}

const when = (...conditions: Record<string, unknown>[]) => ({ conditions });

describe('summarize: golden sentences', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['the example from the issue',
      { scope: { agents: ['agt_1', 'agt_2'] }, message: 'Card numbers may not be sent to OpenAI.',
        conditions: [{ field: 'action_type', op: 'in', value: ['chat_completion'] }, { field: 'model', op: 'glob', value: ['gpt-4o*'] },
          { field: 'dlp_class', op: 'in', value: ['payment.credit_card'], direction: 'request' }] },
      'Deny chat completions from agents support-bot and billing-bot to model gpt-4o* when the request contains a credit card number, with the message "Card numbers may not be sent to OpenAI.".'],
    ['a tenant-wide rule without conditions', { action: 'ALLOW' }, 'Allow calls from all agents.'],
    ['flag, one agent by id without a name', { action: 'FLAG', scope: { agents: ['agt_9'] } }, 'Flag calls from agent agt_9.'],
    ['an agent condition names who when there is no scope', when({ field: 'agent', op: 'in', value: ['agt_1', 'agt_2', 'ops-bot'] }),
      'Deny calls from agents support-bot, billing-bot and ops-bot.'],
    ['scope and agent condition both kept', { scope: { agents: ['agt_1'] }, ...when({ field: 'agent', op: 'in', value: ['agt_2'] }) },
      'Deny calls from agent support-bot when the agent is billing-bot.'],
    ['several action types', when({ field: 'action_type', op: 'in', value: ['embedding', 'tool_call', 'mcp_request', 'http_request'] }),
      'Deny embeddings, tool calls, MCP requests and HTTP requests from all agents.'],
    ['providers only', when({ field: 'provider', op: 'in', value: ['anthropic', 'azure', 'together'] }),
      'Deny calls from all agents to Anthropic, Azure and together.'],
    ['models on a provider', when({ field: 'model', op: 'in', value: ['gpt-4o', 'gpt-4o-mini'] }, { field: 'provider', op: 'in', value: ['openai'] }),
      'Deny calls from all agents to models gpt-4o and gpt-4o-mini on OpenAI.'],
    ['upstream equals', when({ field: 'upstream', op: 'equals', value: 'api.openai.com' }),
      'Deny calls from all agents via upstream api.openai.com.'],
    ['upstream glob', when({ field: 'upstream', op: 'glob', value: '*.internal.example' }),
      'Deny calls from all agents via an upstream matching *.internal.example.'],
    ['upstream regex', when({ field: 'upstream', op: 'regex', value: '^http://' }),
      'Deny calls from all agents via an upstream matching /^http:\\/\\//.'],
    ['a regex that escapes its own slash is not escaped twice', when({ field: 'prompt', op: 'regex', value: 'a\\/b/c\\\\' }),
      'Deny calls from all agents when the prompt matches /a\\/b\\/c\\\\/.'],
    ['prompt contains', when({ field: 'prompt', op: 'contains', value: 'ignore previous instructions' }),
      'Deny calls from all agents when the prompt contains "ignore previous instructions".'],
    ['prompt contains, ignoring case, with quotes in the text', when({ field: 'prompt', op: 'contains', value: 'say "hi"', case_insensitive: true }),
      'Deny calls from all agents when the prompt contains "say \\"hi\\"" (ignoring case).'],
    ['prompt regex', { action: 'FLAG', ...when({ field: 'prompt', op: 'regex', value: 'pass(word)?\\s*[:=]' }) },
      'Flag calls from all agents when the prompt matches /pass(word)?\\s*[:=]/.'],
    ['header equals and contains', when({ field: 'header', op: 'equals', name: 'X-Team', value: 'red' }, { field: 'header', op: 'contains', name: 'user-agent', value: 'curl' }),
      'Deny calls from all agents when header X-Team is "red" and header User-Agent contains "curl".'],
    ['header regex and exists', when({ field: 'header', op: 'regex', name: 'x-env', value: '^prod' }, { field: 'header', op: 'exists', name: 'X-Debug' }),
      'Deny calls from all agents when header X-Env matches /^prod/ and header X-Debug exists.'],
    ['tool named', when({ field: 'tool_name', op: 'in', value: ['shell', 'fs_write'] }),
      'Deny calls from all agents when a tool named shell or fs_write is offered or called.'],
    ['tool matching', { action: 'FLAG', ...when({ field: 'action_type', op: 'in', value: ['tool_call'] }, { field: 'tool_name', op: 'glob', value: ['fs_*'] }) },
      'Flag tool calls from all agents when a tool matching fs_* is offered or called.'],
    ['dlp classes in any direction, custom included', when({ field: 'dlp_class', op: 'in', value: ['pii.email', 'secret.aws_access_key', 'custom.employee-id'] }),
      'Deny calls from all agents when the request or response contains an e-mail address, an AWS access key or a match of the custom pattern employee-id.'],
    ['dlp class in the response', when({ field: 'dlp_class', op: 'in', value: ['secret.private_key'], direction: 'response' }),
      'Deny calls from all agents when the response contains a private key.'],
    ['dlp categories in the request', when({ field: 'dlp_category', op: 'in', value: ['pii', 'gov', 'payment'], direction: 'request' }),
      'Deny calls from all agents when the request contains personal data, a government ID or payment data.'],
    ['dlp categories, the rest', { action: 'FLAG', ...when({ field: 'dlp_category', op: 'in', value: ['secret', 'code', 'custom'], direction: 'any' }) },
      'Flag calls from all agents when the request or response contains a secret, source code or a custom pattern match.'],
    ['risk level in the response', { action: 'FLAG', ...when({ field: 'risk_level', op: 'gte', value: 'high', direction: 'response' }) },
      'Flag calls from all agents when there is a finding of high severity or above in the response.'],
    ['risk level critical, any direction', when({ field: 'risk_level', op: 'gte', value: 'critical' }),
      'Deny calls from all agents when there is a finding of critical severity in the request or response.'],
    ['risk level low in the request', when({ field: 'risk_level', op: 'gte', value: 'low', direction: 'request' }),
      'Deny calls from all agents when there is a finding of low severity or above in the request.'],
    ['request bytes larger', when({ field: 'request_bytes', op: 'gt', value: 100000 }),
      'Deny calls from all agents when the request body is larger than 100,000 bytes.'],
    ['request bytes smaller, singular', { action: 'FLAG', ...when({ field: 'request_bytes', op: 'lt', value: 1 }) },
      'Flag calls from all agents when the request body is smaller than 1 byte.'],
    ['user equals and session glob', when({ field: 'user', op: 'equals', value: 'alice@corp.example' }, { field: 'session', op: 'glob', value: 'batch-*' }),
      'Deny calls from all agents when the user is "alice@corp.example" and the session matches "batch-*".'],
    ['user glob and session equals', { action: 'ALLOW', ...when({ field: 'user', op: 'glob', value: '*@corp.example' }, { field: 'session', op: 'equals', value: 's-1' }) },
      'Allow calls from all agents when the user matches "*@corp.example" and the session is "s-1".'],
    ['three conditions, no Oxford comma', when(
      { field: 'prompt', op: 'contains', value: 'x' }, { field: 'request_bytes', op: 'gt', value: 10 }, { field: 'user', op: 'equals', value: 'bob' }),
      'Deny calls from all agents when the prompt contains "x", the request body is larger than 10 bytes and the user is "bob".'],
    ['disabled', { enabled: false, action: 'FLAG', ...when({ field: 'model', op: 'in', value: ['o1'] }) },
      'Flag calls from all agents to model o1 (disabled).'],
    ['explicit response stage without a response condition', { stage: 'response', action: 'FLAG', ...when({ field: 'model', op: 'glob', value: ['claude-*'] }) },
      'Flag calls from all agents to model claude-* when the response is received.'],
    ['explicit response stage with another condition', { stage: 'response', ...when({ field: 'prompt', op: 'contains', value: 'x' }) },
      'Deny calls from all agents when the response is received and the prompt contains "x".'],
    ['the head absorbs one condition per field; the others stay conditions',
      when({ field: 'model', op: 'in', value: ['a'] }, { field: 'model', op: 'glob', value: ['a*', 'b*'] }, { field: 'action_type', op: 'in', value: ['chat_completion'] },
        { field: 'action_type', op: 'in', value: ['embedding', 'chat_completion'] }, { field: 'provider', op: 'in', value: ['openai'] }, { field: 'provider', op: 'in', value: ['vllm', 'mcp'] },
        { field: 'upstream', op: 'equals', value: 'h' }, { field: 'upstream', op: 'regex', value: 'x' }),
      'Deny chat completions from all agents to model a on OpenAI via upstream h when the model matches a* or b*, the call is an embedding or a chat completion, the provider is vLLM or MCP and the upstream matches /x/.'],
    ['everything at once, with message and disabled',
      { action: 'DENY', enabled: false, scope: { agents: ['agt_2'] }, message: 'Use the EU deployment.',
        conditions: [{ field: 'action_type', op: 'in', value: ['chat_completion', 'embedding'] }, { field: 'provider', op: 'in', value: ['http'] },
          { field: 'upstream', op: 'glob', value: 'https://*.us.example/*' }, { field: 'dlp_category', op: 'in', value: ['pii'], direction: 'request' }] },
      'Deny chat completions and embeddings from agent billing-bot to HTTP via an upstream matching https://*.us.example/* when the request contains personal data, with the message "Use the EU deployment." (disabled).'],
  ])('%s', (_name, def, expected) => {
    expect(say(def)).toBe(expected);
  });

  it('without a name map, agents are shown as written', () => {
    expect(summarize(parsePolicy({ name: 'p', action: 'DENY', priority: 1, scope: { agents: ['agt_1', 'research'] } })))
      .toBe('Deny calls from agents agt_1 and research.');
  });

  it('one sentence on one line, whatever the operator wrote', () => {
    const s = say({ message: 'line one\nline two', ...when({ field: 'prompt', op: 'contains', value: 'a\nb' }, { field: 'model', op: 'in', value: ['m\u2028x'] }) });
    expect(s).toBe('Deny calls from all agents to model m\\u2028x when the prompt contains "a\\nb", with the message "line one\\nline two".');
    expect(s).not.toMatch(/[\n\r\u2028\u2029]/);
  });

  it('is deterministic', () => {
    const def = { scope: { agents: ['agt_1'] }, ...when({ field: 'dlp_class', op: 'in', value: ['pii.phone'] }) };
    expect(say(def)).toBe(say(def));
  });
});

describe('DLP names', () => {
  it('has a human name for every built-in detector class', () => {
    expect(BUILTIN_CLASSES.filter((c) => !(c in DLP_CLASS_NAMES))).toEqual([]);
  });

  it('has a name for every category', () => {
    expect(Object.keys(DLP_CATEGORY_NAMES).sort()).toEqual(['code', 'custom', 'gov', 'payment', 'pii', 'secret']);
  });

  it('names custom patterns and unknown classes', () => {
    expect(dlpClassName('custom.badge')).toBe('a match of the custom pattern badge');
    expect(dlpClassName('pii.shoe_size')).toBe('a finding of class pii.shoe_size');
  });
});
