import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from './server.js';
import { ANSWER_WORDS, countTokens, embedding } from './text.js';

let mock: MockServer;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMockUpstream({ port: 0 });
  client = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await mock.close();
});

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  },
};

describe('chat completions', () => {
  it('answers deterministically, echoes the model and reports usage', async () => {
    const ask = () =>
      client.chat.completions.create({
        model: 'gpt-test',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'What is the capital of France?' },
        ],
      });
    const a = await ask();
    const b = await ask();
    expect(a.object).toBe('chat.completion');
    expect(a.model).toBe('gpt-test');
    expect(a.id).not.toBe(b.id);
    const choice = a.choices[0]!;
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content).toContain('What is the capital of France?');
    expect(choice.message.content!.split(' ')).toHaveLength(ANSWER_WORDS);
    expect(b.choices[0]!.message.content).toBe(choice.message.content);
    expect(a.usage).toMatchObject({
      prompt_tokens: countTokens('Be brief.\nWhat is the capital of France?'),
      completion_tokens: countTokens(choice.message.content!),
    });
    expect(a.usage!.total_tokens).toBe(a.usage!.prompt_tokens + a.usage!.completion_tokens);
  });

  it('streams a role chunk, content deltas and a finish chunk without usage by default', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      stream: true,
      messages: [{ role: 'user', content: 'Tell me a story' }],
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toContain('Tell me a story');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(8);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.every((c) => !c.usage)).toBe(true);
  });

  it('adds a final usage chunk with empty choices when include_usage is set', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Count my tokens' }],
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(last.usage).toMatchObject({ prompt_tokens: countTokens('Count my tokens'), completion_tokens: countTokens(text) });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('calls the first offered tool on a user turn and answers in text after the tool result', async () => {
    const first = await client.chat.completions.create({
      model: 'gpt-test',
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Weather in Oslo?' });
    const again = await client.chat.completions.create({
      model: 'gpt-test',
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    expect(again.choices[0]!.message.tool_calls![0]!.id).toBe(call.id);

    const second = await client.chat.completions.create({
      model: 'gpt-test',
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '{"temp": 3}' },
      ],
    });
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect(second.choices[0]!.message.content).toContain('Weather in Oslo?');
  });

  it('does not call a tool when tool_choice is none', async () => {
    const r = await client.chat.completions.create({
      model: 'gpt-test',
      tools: [weatherTool],
      tool_choice: 'none',
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    expect(r.choices[0]!.finish_reason).toBe('stop');
  });

  it('streams tool call deltas that the SDK assembles into a complete call', async () => {
    const stream = client.chat.completions.stream({
      model: 'gpt-test',
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather in Rome?' }],
    });
    let argDeltas = 0;
    stream.on('chunk', (c) => {
      if (c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments) argDeltas++;
    });
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Weather in Rome?' });
    expect(argDeltas).toBe(8);
  });
});

describe('legacy completions', () => {
  it('answers with a text_completion', async () => {
    const r = await client.completions.create({ model: 'gpt-instruct', prompt: 'Say hi' });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]!.text).toContain('Say hi');
    expect(r.usage!.prompt_tokens).toBe(countTokens('Say hi'));
  });
});

describe('responses API', () => {
  it('returns a completed response with an output_text message and usage', async () => {
    const r = await client.responses.create({ model: 'gpt-resp', input: 'Explain the mock', instructions: 'Be short' });
    expect(r.object).toBe('response');
    expect(r.status).toBe('completed');
    expect(r.model).toBe('gpt-resp');
    const msg = r.output[0]!;
    if (msg.type !== 'message') throw new Error(`unexpected output ${msg.type}`);
    const part = msg.content[0]!;
    if (part.type !== 'output_text') throw new Error(`unexpected part ${part.type}`);
    expect(part.annotations).toEqual([]);
    expect(part.text).toContain('Explain the mock');
    expect(r.output_text).toBe(part.text);
    expect(r.usage).toMatchObject({ input_tokens: countTokens('Be short\nExplain the mock'), output_tokens: countTokens(part.text) });
    expect(r.usage!.total_tokens).toBe(r.usage!.input_tokens + r.usage!.output_tokens);
  });

  it('streams the real event sequence and the SDK accumulates the final response', async () => {
    const stream = await client.responses.create({
      model: 'gpt-resp',
      stream: true,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Stream please' }] }],
    });
    const types: string[] = [];
    let text = '';
    let done = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.output_text.done') done = ev.text;
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(8);
    expect(types).toContain('response.output_text.done');
    expect(text).toBe(done);
    expect(text).toContain('Stream please');

    const helper = client.responses.stream({ model: 'gpt-resp', input: 'Stream please' });
    const final = await helper.finalResponse();
    expect(final.output_text).toBe(text);
    expect(final.usage!.output_tokens).toBe(countTokens(text));
  });

  it('calls a function tool and streams its arguments', async () => {
    const tools = [
      { type: 'function' as const, name: 'lookup', parameters: { type: 'object', properties: { term: { type: 'string' } } }, strict: false },
    ];
    const r = await client.responses.create({ model: 'gpt-resp', input: 'Find cats', tools });
    const call = r.output[0]!;
    if (call.type !== 'function_call') throw new Error(`unexpected output ${call.type}`);
    expect(call.name).toBe('lookup');
    expect(JSON.parse(call.arguments)).toEqual({ term: 'Find cats' });

    const final = await client.responses.stream({ model: 'gpt-resp', input: 'Find cats', tools }).finalResponse();
    const streamed = final.output[0]!;
    if (streamed.type !== 'function_call') throw new Error(`unexpected output ${streamed.type}`);
    expect(streamed.arguments).toBe(call.arguments);

    const after = await client.responses.create({
      model: 'gpt-resp',
      tools,
      input: [
        { role: 'user', content: 'Find cats' },
        { type: 'function_call', call_id: call.call_id, name: 'lookup', arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: 'three cats' },
      ],
    });
    expect(after.output[0]!.type).toBe('message');
  });
});

describe('embeddings and models', () => {
  it('returns deterministic 8-dimension vectors through the SDK default (base64) path', async () => {
    const r = await client.embeddings.create({ model: 'emb', input: ['alpha', 'beta'] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]!.embedding).toHaveLength(8);
    expect(r.data[0]!.embedding).toEqual(embedding('alpha', 8));
    expect(r.data[0]!.embedding).not.toEqual(r.data[1]!.embedding);
    expect(r.usage.prompt_tokens).toBe(countTokens('alpha') + countTokens('beta'));
  });

  it('returns float arrays when asked for floats, equal to the base64 values', async () => {
    const r = await client.embeddings.create({ model: 'emb', input: 'alpha', encoding_format: 'float' });
    expect(r.data[0]!.embedding).toEqual(embedding('alpha', 8));
    const norm = Math.hypot(...r.data[0]!.embedding);
    expect(norm).toBeCloseTo(1, 5);
  });

  it('lists models', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain('mock-gpt');
  });
});
