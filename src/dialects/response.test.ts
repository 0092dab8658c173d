import { describe, expect, it } from 'vitest';
import { messages } from '../mock/anthropic.js';
import { chatCompletions, completions, responses } from '../mock/openai.js';
import type { RequestOptions } from '../mock/options.js';
import type { Reply } from '../mock/reply.js';
import { responseTexts } from './response.js';
import type { ApiKind } from './types.js';

const ECHO: RequestOptions = { latencyMs: 0, chunks: 1, chunkDelayMs: 0, echo: true, status: null, fail: null };
const TEXT = 'My IBAN is DE89 3704 0044 0532 0130 00 🏦';
const TOOL_SCHEMA = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] };

function body(r: Reply): unknown {
  if (r.kind !== 'json') throw new Error('expected JSON');
  return JSON.parse(JSON.stringify(r.body));
}

const pick = (api: ApiKind, b: unknown) => responseTexts(api, b).map((t) => [t.path, t.text, t.kind]);

describe('responseTexts', () => {
  it('reads OpenAI chat answers: content and tool call arguments', () => {
    expect(pick('openai_chat', body(chatCompletions({ messages: [{ role: 'user', content: TEXT }] }, ECHO)))).toEqual([
      ['$.choices[0].message.content', TEXT, 'message'],
    ]);
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: TOOL_SCHEMA } }];
    expect(pick('openai_chat', body(chatCompletions({ messages: [{ role: 'user', content: TEXT }], tools }, ECHO)))).toEqual([
      ['$.choices[0].message.tool_calls[0].function.arguments', JSON.stringify({ q: TEXT }), 'tool_arguments'],
    ]);
    expect(pick('openai_chat', { choices: [{ message: { content: null, refusal: 'No.', audio: { transcript: 'spoken' } } }] })).toEqual([
      ['$.choices[0].message.refusal', 'No.', 'message'],
      ['$.choices[0].message.audio.transcript', 'spoken', 'message'],
    ]);
  });

  it('reads legacy completions', () => {
    expect(pick('openai_completions', body(completions({ prompt: TEXT }, ECHO)))).toEqual([['$.choices[0].text', TEXT, 'message']]);
  });

  it('reads Responses API output items', () => {
    expect(pick('openai_responses', body(responses({ input: TEXT }, ECHO)))).toEqual([['$.output[0].content[0].text', TEXT, 'message']]);
    const tools = [{ type: 'function', name: 'lookup', parameters: TOOL_SCHEMA }];
    expect(pick('openai_responses', body(responses({ input: TEXT, tools }, ECHO)))).toEqual([
      ['$.output[0].arguments', JSON.stringify({ q: TEXT }), 'tool_arguments'],
    ]);
  });

  it('reads Anthropic content blocks', () => {
    expect(pick('anthropic_messages', body(messages({ max_tokens: 10, messages: [{ role: 'user', content: TEXT }] }, ECHO)))).toEqual([
      ['$.content[0].text', TEXT, 'message'],
    ]);
    const tools = [{ name: 'lookup', input_schema: TOOL_SCHEMA }];
    expect(pick('anthropic_messages', body(messages({ max_tokens: 10, messages: [{ role: 'user', content: TEXT }], tools }, ECHO)))).toEqual([
      ['$.content[0].input', JSON.stringify({ q: TEXT }), 'tool_arguments'],
    ]);
  });

  it('reads MCP results, single and batched', () => {
    const result = { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: TEXT }], isError: false } };
    expect(pick('mcp', result)).toEqual([['$.result.content[0].text', TEXT, 'tool_result']]);
    expect(pick('mcp', [{ jsonrpc: '2.0', id: 2, error: { code: -1, message: 'x' } }, result])).toEqual([['$[1].result.content[0].text', TEXT, 'tool_result']]);
  });

  it('never throws', () => {
    for (const api of ['openai_chat', 'openai_completions', 'openai_responses', 'anthropic_messages', 'embeddings', 'mcp', 'http'] as const) {
      for (const junk of [null, 1, 'x', [], [null], {}, { choices: 'x', output: [null, 5], content: {} }, { choices: [{ message: 5 }] }]) {
        expect(Array.isArray(responseTexts(api, junk))).toBe(true);
      }
    }
  });
});
