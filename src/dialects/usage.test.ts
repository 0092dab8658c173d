import { describe, expect, it } from 'vitest';
import { usageFromBody } from './usage.js';

describe('usageFromBody', () => {
  it('reads OpenAI chat completions', () => {
    const body = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 19,
        completion_tokens: 10,
        total_tokens: 29,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    };
    expect(usageFromBody('openai_chat', body)).toEqual({ inputTokens: 19, outputTokens: 10 });
  });

  it('reads legacy completions', () => {
    const body = { object: 'text_completion', choices: [{ text: 'x', index: 0 }], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } };
    expect(usageFromBody('openai_completions', body)).toEqual({ inputTokens: 5, outputTokens: 7 });
  });

  it('reads the Responses API', () => {
    const body = {
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      output: [],
      usage: { input_tokens: 36, input_tokens_details: { cached_tokens: 0 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 123 },
    };
    expect(usageFromBody('openai_responses', body)).toEqual({ inputTokens: 36, outputTokens: 87 });
  });

  it('reads embeddings, with no output tokens', () => {
    const body = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1] }], model: 'm', usage: { prompt_tokens: 8, total_tokens: 8 } };
    expect(usageFromBody('embeddings', body)).toEqual({ inputTokens: 8, outputTokens: 0 });
  });

  it('reads Anthropic messages, counting cache creation and cache reads as input', () => {
    const body = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hi' }],
      usage: { input_tokens: 10, cache_creation_input_tokens: 200, cache_read_input_tokens: 3000, output_tokens: 42, service_tier: 'standard' },
    };
    expect(usageFromBody('anthropic_messages', body)).toEqual({ inputTokens: 3210, outputTokens: 42 });
    expect(usageFromBody('anthropic_messages', { usage: { input_tokens: 4, output_tokens: 2, cache_creation_input_tokens: null } })).toEqual({
      inputTokens: 4,
      outputTokens: 2,
    });
  });

  it('is null when there is no usage to read', () => {
    expect(usageFromBody('openai_chat', { error: { message: 'bad' } })).toBeNull();
    expect(usageFromBody('anthropic_messages', { type: 'error', error: { type: 'x', message: 'y' } })).toBeNull();
    expect(usageFromBody('openai_chat', { usage: null })).toBeNull();
    expect(usageFromBody('openai_chat', { usage: { total_tokens: 3 } })).toBeNull();
    expect(usageFromBody('embeddings', { usage: { total_tokens: 3 } })).toBeNull();
    expect(usageFromBody('mcp', { jsonrpc: '2.0', id: 1, result: { usage: { prompt_tokens: 1 } } })).toBeNull();
    expect(usageFromBody('http', { usage: { prompt_tokens: 1, completion_tokens: 1 } })).toBeNull();
    for (const junk of [null, undefined, 3, 'x', [], [{ usage: {} }]]) expect(usageFromBody('openai_chat', junk)).toBeNull();
  });

  it('counts a missing half as zero and ignores non-numbers', () => {
    expect(usageFromBody('openai_chat', { usage: { prompt_tokens: 3 } })).toEqual({ inputTokens: 3, outputTokens: 0 });
    expect(usageFromBody('openai_responses', { usage: { input_tokens: '3', output_tokens: 4 } })).toEqual({ inputTokens: 0, outputTokens: 4 });
  });
});
