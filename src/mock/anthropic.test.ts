import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from './server.js';
import { countTokens } from './text.js';

let mock: MockServer;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockUpstream({ port: 0 });
  client = new Anthropic({ baseURL: mock.url, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await mock.close();
});

const searchTool = {
  name: 'search',
  description: 'Search the web',
  input_schema: { type: 'object' as const, properties: { query: { type: 'string' } }, required: ['query'] },
};

describe('anthropic messages', () => {
  it('answers a plain message with text, end_turn and usage', async () => {
    const m = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello Claude' }],
    });
    expect(m.type).toBe('message');
    expect(m.role).toBe('assistant');
    expect(m.model).toBe('claude-test');
    expect(m.stop_reason).toBe('end_turn');
    expect(m.stop_sequence).toBeNull();
    const block = m.content[0]!;
    if (block.type !== 'text') throw new Error(`unexpected block ${block.type}`);
    expect(block.text).toContain('Hello Claude');
    expect(m.usage.input_tokens).toBe(countTokens('Be brief.\nHello Claude'));
    expect(m.usage.output_tokens).toBe(countTokens(block.text));
  });

  it('streams the real event order and finalMessage carries the usage', async () => {
    const stream = client.messages.stream({
      model: 'claude-test',
      max_tokens: 100,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Stream to me' }] }],
    });
    const events: string[] = [];
    let text = '';
    stream.on('streamEvent', (e) => {
      events.push(e.type);
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
    });
    const final = await stream.finalMessage();
    expect(events).toEqual([
      'message_start',
      'content_block_start',
      ...Array<string>(8).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const block = final.content[0]!;
    if (block.type !== 'text') throw new Error(`unexpected block ${block.type}`);
    expect(block.text).toBe(text);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.input_tokens).toBe(countTokens('Stream to me'));
    expect(final.usage.output_tokens).toBe(countTokens(text));
  });

  it('sends a ping event on the wire', async () => {
    const res = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'c', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const body = await res.text();
    const names = [...body.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(names.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
  });

  it('calls the offered tool, then answers in text after the tool_result', async () => {
    const m = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      tools: [searchTool],
      messages: [{ role: 'user', content: 'Find otters' }],
    });
    expect(m.stop_reason).toBe('tool_use');
    const use = m.content[0]!;
    if (use.type !== 'tool_use') throw new Error(`unexpected block ${use.type}`);
    expect(use.name).toBe('search');
    expect(use.input).toEqual({ query: 'Find otters' });
    expect(use.id).toMatch(/^toolu_/);

    const after = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      tools: [searchTool],
      messages: [
        { role: 'user', content: 'Find otters' },
        { role: 'assistant', content: [use] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'otters found' }] },
      ],
    });
    expect(after.stop_reason).toBe('end_turn');
    expect(after.content[0]!.type).toBe('text');
  });

  it('streams tool input as input_json_delta that the SDK parses', async () => {
    const stream = client.messages.stream({
      model: 'claude-test',
      max_tokens: 100,
      tools: [searchTool],
      messages: [{ role: 'user', content: 'Find otters' }],
    });
    const partials: string[] = [];
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') partials.push(e.delta.partial_json);
    });
    const final = await stream.finalMessage();
    expect(partials.length).toBe(8);
    expect(final.stop_reason).toBe('tool_use');
    const use = final.content[0]!;
    if (use.type !== 'tool_use') throw new Error(`unexpected block ${use.type}`);
    expect(use.input).toEqual({ query: 'Find otters' });
  });

  it('answers malformed JSON with an Anthropic-shaped 400', async () => {
    const res = await fetch(`${mock.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/JSON/);
  });

  it('counts tokens and lists models in the Anthropic shape', async () => {
    const c = await client.messages.countTokens({ model: 'claude-test', messages: [{ role: 'user', content: 'abcdefgh' }] });
    expect(c.input_tokens).toBe(2);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('mock-claude');
  });
});
