import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apiKind } from './kind.js';
import { normalizeRequest } from './normalize.js';
import type { ApiKind, TextPart } from './types.js';

const ALL_APIS: ApiKind[] = ['openai_chat', 'openai_completions', 'openai_responses', 'anthropic_messages', 'embeddings', 'mcp', 'http'];

const pick = (texts: TextPart[]) => texts.map((t) => [t.path, t.text, t.kind]);

describe('apiKind', () => {
  it.each([
    ['/v1/chat/completions', 'openai_chat'],
    ['/openai/deployments/gpt4/chat/completions?api-version=2024-10-21', 'openai_chat'],
    ['/v1/completions', 'openai_completions'],
    ['/v1/responses', 'openai_responses'],
    ['/v1/responses/', 'openai_responses'],
    ['/v1/messages', 'anthropic_messages'],
    ['/v1/messages?beta=true', 'anthropic_messages'],
    ['/v1/embeddings', 'embeddings'],
    ['/v1/models', 'http'],
    ['/v1/messages/count_tokens', 'http'],
    ['/v1/responses/resp_1/cancel', 'http'],
  ])('POST %s is %s', (path, kind) => {
    expect(apiKind('POST', path, {})).toBe(kind);
  });

  it('recognises JSON-RPC 2.0 bodies, single or batched, on any path', () => {
    expect(apiKind('POST', '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' })).toBe('mcp');
    expect(apiKind('POST', '/anything', [{ jsonrpc: '2.0', method: 'notifications/initialized' }])).toBe('mcp');
    expect(apiKind('POST', '/mcp', { jsonrpc: '1.0', method: 'x' })).toBe('http');
    expect(apiKind('POST', '/mcp', { jsonrpc: '2.0', id: 1, result: {} })).toBe('http');
    expect(apiKind('POST', '/mcp', [])).toBe('http');
  });

  it('treats only POST as a model call', () => {
    // GET …/chat/completions lists stored completions; it sends no prompt.
    expect(apiKind('GET', '/v1/chat/completions', null)).toBe('http');
    expect(apiKind('post', '/v1/chat/completions', null)).toBe('openai_chat');
  });
});

describe('OpenAI chat completions', () => {
  const body = {
    model: 'gpt-4o',
    stream: true,
    max_tokens: 100,
    max_completion_tokens: 200,
    messages: [
      { role: 'developer', content: 'You are terse.' },
      { role: 'system', content: [{ type: 'text', text: 'Never reveal secrets.' }] },
      {
        role: 'user',
        name: 'alice',
        content: [
          { type: 'text', text: 'What is the weather in Paris?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          { type: 'text', text: 'And in Tokyo?' },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: { city: 'Tokyo' } } },
          { id: 'call_3', type: 'custom', custom: { name: 'run_sql', input: 'SELECT 1' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'Sunny, 21°C' },
      { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'Rain, 14°C' }] },
      { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot help with that.' }] },
      { role: 'assistant', content: null, function_call: { name: 'legacy_fn', arguments: '{"q":1}' } },
      { role: 'function', name: 'legacy_fn', content: 'legacy result' },
      { role: 'user', content: [{ type: 'file', file: { file_data: 'JVBERi0=', filename: 'a.pdf' } }, { type: 'future_part', note: 'hidden text' }] },
    ],
    tools: [
      { type: 'function', function: { name: 'get_weather', parameters: {} } },
      { type: 'custom', custom: { name: 'run_sql' } },
      { type: 'function', function: { name: 'get_weather' } },
    ],
    functions: [{ name: 'legacy_fn' }],
    prediction: { type: 'content', content: 'predicted text' },
  };

  it('finds every text with its path and kind, in order', () => {
    const n = normalizeRequest('openai_chat', body);
    expect(pick(n.texts)).toEqual([
      ['$.messages[0].content', 'You are terse.', 'system'],
      ['$.messages[1].content[0].text', 'Never reveal secrets.', 'system'],
      ['$.messages[2].name', 'alice', 'message'],
      ['$.messages[2].content[0].text', 'What is the weather in Paris?', 'message'],
      ['$.messages[2].content[2].text', 'And in Tokyo?', 'message'],
      ['$.messages[3].tool_calls[0].function.arguments', '{"city":"Paris"}', 'tool_arguments'],
      ['$.messages[3].tool_calls[1].function.arguments', '{"city":"Tokyo"}', 'tool_arguments'],
      ['$.messages[3].tool_calls[2].custom.input', 'SELECT 1', 'tool_arguments'],
      ['$.messages[4].content', 'Sunny, 21°C', 'tool_result'],
      ['$.messages[5].content[0].text', 'Rain, 14°C', 'tool_result'],
      ['$.messages[6].content[0].refusal', 'I cannot help with that.', 'message'],
      ['$.messages[7].function_call.arguments', '{"q":1}', 'tool_arguments'],
      ['$.messages[8].name', 'legacy_fn', 'tool_result'],
      ['$.messages[8].content', 'legacy result', 'tool_result'],
      ['$.messages[9].content[1].note', 'hidden text', 'message'],
      ['$.prediction.content', 'predicted text', 'input'],
    ]);
    expect(n.prompt).toBe(n.texts.map((t) => t.text).join('\n'));
  });

  it('reads model, stream, max tokens and tools', () => {
    const n = normalizeRequest('openai_chat', body);
    expect(n).toMatchObject({ api: 'openai_chat', model: 'gpt-4o', stream: true, maxTokens: 200 });
    expect(n.toolsOffered).toEqual(['get_weather', 'run_sql', 'legacy_fn']);
    expect(n.toolsCalled).toEqual(['get_weather', 'run_sql', 'legacy_fn']);
    expect(normalizeRequest('openai_chat', { messages: [], max_tokens: 50 }).maxTokens).toBe(50);
    expect(normalizeRequest('openai_chat', { messages: [] })).toMatchObject({ model: null, stream: false, maxTokens: null, prompt: '' });
  });
});

describe('OpenAI legacy completions', () => {
  it('reads a string prompt, an array of prompts, the suffix, and ignores token arrays', () => {
    const n = normalizeRequest('openai_completions', {
      model: 'gpt-3.5-turbo-instruct',
      prompt: ['Say hello', [1, 2, 3], 'Say bye'],
      suffix: 'END',
      max_tokens: 16,
      stream: true,
    });
    expect(pick(n.texts)).toEqual([
      ['$.prompt[0]', 'Say hello', 'input'],
      ['$.prompt[2]', 'Say bye', 'input'],
      ['$.suffix', 'END', 'input'],
    ]);
    expect(n).toMatchObject({ model: 'gpt-3.5-turbo-instruct', maxTokens: 16, stream: true, prompt: 'Say hello\nSay bye\nEND' });
    expect(normalizeRequest('openai_completions', { prompt: 'one' }).texts).toEqual([{ path: '$.prompt', text: 'one', kind: 'input' }]);
    expect(normalizeRequest('openai_completions', { prompt: [5, 6] }).texts).toEqual([]);
  });
});

describe('OpenAI Responses API', () => {
  it('reads instructions, a plain string input, tools and max_output_tokens', () => {
    const n = normalizeRequest('openai_responses', {
      model: 'gpt-5',
      instructions: 'Talk like a pirate.',
      input: 'Are semicolons optional in JavaScript?',
      tools: [{ type: 'function', name: 'lookup' }, { type: 'web_search' }],
      max_output_tokens: 300,
      stream: true,
    });
    expect(pick(n.texts)).toEqual([
      ['$.instructions', 'Talk like a pirate.', 'system'],
      ['$.input', 'Are semicolons optional in JavaScript?', 'message'],
    ]);
    expect(n).toMatchObject({ model: 'gpt-5', maxTokens: 300, stream: true, toolsOffered: ['lookup'], toolsCalled: [] });
  });

  it('reads every kind of input item', () => {
    const n = normalizeRequest('openai_responses', {
      model: 'gpt-5',
      input: [
        { role: 'developer', content: 'Use metric units.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Oslo?' }, { type: 'input_image', image_url: 'data:image/png;base64,AA' }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '{"temp":3}' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'array output' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is 3°C.', annotations: [] }, { type: 'refusal', refusal: 'no' }] },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Thought about Oslo.' }], encrypted_content: 'gAAAA' },
        { type: 'custom_tool_call', call_id: 'c', name: 'code_exec', input: 'print(1)' },
        { type: 'custom_tool_call_output', call_id: 'c', output: '1' },
        { type: 'mcp_call', id: 'm', name: 'search_docs', arguments: '{"q":"x"}', output: 'doc text', server_label: 'docs' },
        { type: 'local_shell_call_output', id: 'ls', output: 'total 0' },
        { type: 'item_reference', id: 'msg_old' },
        'a bare string item',
      ],
    });
    expect(pick(n.texts)).toEqual([
      ['$.input[0].content', 'Use metric units.', 'system'],
      ['$.input[1].content[0].text', 'Weather in Oslo?', 'message'],
      ['$.input[2].arguments', '{"city":"Oslo"}', 'tool_arguments'],
      ['$.input[3].output', '{"temp":3}', 'tool_result'],
      ['$.input[4].output[0].text', 'array output', 'tool_result'],
      ['$.input[5].content[0].text', 'It is 3°C.', 'message'],
      ['$.input[5].content[1].refusal', 'no', 'message'],
      ['$.input[6].summary[0].text', 'Thought about Oslo.', 'message'],
      ['$.input[7].input', 'print(1)', 'tool_arguments'],
      ['$.input[8].output', '1', 'tool_result'],
      ['$.input[9].arguments', '{"q":"x"}', 'tool_arguments'],
      ['$.input[9].output', 'doc text', 'tool_result'],
      ['$.input[10].output', 'total 0', 'tool_result'],
      ['$.input[12]', 'a bare string item', 'message'],
    ]);
    expect(n.toolsCalled).toEqual(['get_weather', 'code_exec', 'search_docs']);
  });

  it('reads prompt template variables', () => {
    const n = normalizeRequest('openai_responses', {
      prompt: { id: 'pmpt_1', variables: { customer: 'Jane Doe', 'order id': { type: 'input_text', text: 'A-1' }, pic: { type: 'input_image', file_id: 'f' } } },
    });
    expect(pick(n.texts)).toEqual([
      ['$.prompt.variables.customer', 'Jane Doe', 'input'],
      ["$.prompt.variables['order id'].text", 'A-1', 'input'],
    ]);
  });
});

describe('Anthropic messages', () => {
  it('reads the system prompt, every block type, tools and max_tokens', () => {
    const n = normalizeRequest('anthropic_messages', {
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      stream: true,
      system: [
        { type: 'text', text: 'You are a helpful assistant.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'Answer in French.' },
      ],
      messages: [
        { role: 'user', content: 'What is in this picture?' },
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'text', text: 'Be precise.' },
            { type: 'document', title: 'Notes', source: { type: 'text', media_type: 'text/plain', data: 'plain document text' } },
            { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'chunk one' }] } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'The user wants…', signature: 'sig' },
            { type: 'redacted_thinking', data: 'encrypted' },
            { type: 'text', text: 'Let me look that up.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Lyon' } },
            { type: 'tool_use', id: 'toolu_2', name: 'raw_tool', input: '{"already":"json"}' },
            { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'lyon weather' } },
            { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [{ type: 'web_search_result', title: 'Lyon forecast', url: 'https://example.com', encrypted_content: 'xyz' }] },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Cloudy' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'block result' }, { type: 'image', source: { type: 'base64', data: 'AA' } }], is_error: false },
            { type: 'search_result', title: 'Doc', source: 'https://docs', content: [{ type: 'text', text: 'search text' }] },
          ],
        },
      ],
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }, { type: 'web_search_20250305', name: 'web_search' }],
    });
    expect(pick(n.texts)).toEqual([
      ['$.system[0].text', 'You are a helpful assistant.', 'system'],
      ['$.system[1].text', 'Answer in French.', 'system'],
      ['$.messages[0].content', 'What is in this picture?', 'message'],
      ['$.messages[1].content[1].text', 'Be precise.', 'message'],
      ['$.messages[1].content[2].title', 'Notes', 'message'],
      ['$.messages[1].content[2].source.data', 'plain document text', 'message'],
      ['$.messages[1].content[3].source.content[0].text', 'chunk one', 'message'],
      ['$.messages[2].content[0].thinking', 'The user wants…', 'message'],
      ['$.messages[2].content[2].text', 'Let me look that up.', 'message'],
      ['$.messages[2].content[3].input', '{"city":"Lyon"}', 'tool_arguments'],
      ['$.messages[2].content[4].input', '{"already":"json"}', 'tool_arguments'],
      ['$.messages[2].content[5].input', '{"query":"lyon weather"}', 'tool_arguments'],
      ['$.messages[2].content[6].content[0].title', 'Lyon forecast', 'tool_result'],
      ['$.messages[2].content[6].content[0].url', 'https://example.com', 'tool_result'],
      ['$.messages[3].content[0].content', 'Cloudy', 'tool_result'],
      ['$.messages[3].content[1].content[0].text', 'block result', 'tool_result'],
      ['$.messages[3].content[2].title', 'Doc', 'message'],
      ['$.messages[3].content[2].source', 'https://docs', 'message'],
      ['$.messages[3].content[2].content[0].text', 'search text', 'message'],
    ]);
    expect(n).toMatchObject({ model: 'claude-sonnet-4-5', maxTokens: 1024, stream: true });
    expect(n.toolsOffered).toEqual(['get_weather', 'web_search']);
    expect(n.toolsCalled).toEqual(['get_weather', 'raw_tool', 'web_search']);
  });

  it('reads a plain string system prompt', () => {
    const n = normalizeRequest('anthropic_messages', { system: 'Be kind.', messages: [{ role: 'user', content: 'hi' }] });
    expect(n.prompt).toBe('Be kind.\nhi');
    expect(n.texts[0]).toEqual({ path: '$.system', text: 'Be kind.', kind: 'system' });
  });
});

describe('embeddings', () => {
  it('reads a string or an array of strings and ignores token arrays', () => {
    expect(pick(normalizeRequest('embeddings', { model: 'text-embedding-3-small', input: 'hello' }).texts)).toEqual([['$.input', 'hello', 'input']]);
    const n = normalizeRequest('embeddings', { model: 'm', input: ['a', [1, 2], 'b', 7], stream: true });
    expect(pick(n.texts)).toEqual([
      ['$.input[0]', 'a', 'input'],
      ['$.input[2]', 'b', 'input'],
    ]);
    expect(n).toMatchObject({ model: 'm', stream: false, maxTokens: null });
    expect(normalizeRequest('embeddings', { input: [1, 2, 3] }).texts).toEqual([]);
  });
});

describe('MCP', () => {
  it('reads a tools/call: name and arguments as JSON text', () => {
    const n = normalizeRequest('mcp', {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'card 4111 1111 1111 1111' }, _meta: { progressToken: 'tok' } },
    });
    expect(pick(n.texts)).toEqual([
      ['$.params.arguments', '{"text":"card 4111 1111 1111 1111"}', 'tool_arguments'],
      ['$.params._meta.progressToken', 'tok', 'input'],
    ]);
    expect(n).toMatchObject({ api: 'mcp', model: null, stream: false, maxTokens: null, toolsCalled: ['echo'], toolsOffered: [] });
  });

  it('reads a batch: tool calls, other requests’ params and client responses', () => {
    const n = normalizeRequest('mcp', [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } },
      { jsonrpc: '2.0', id: 2, method: 'prompts/get', params: { name: 'summarise', arguments: { topic: 'secrets' } } },
      { jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'file:///etc/passwd' } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'srv-1', result: { role: 'assistant', content: { type: 'text', text: 'sampled answer' } } },
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'echo', arguments: '{"text":"as a string"}' } },
      42,
    ]);
    expect(pick(n.texts)).toEqual([
      ['$[0].params.arguments', '{"a":1,"b":2}', 'tool_arguments'],
      ['$[1].params.name', 'summarise', 'input'],
      ['$[1].params.arguments.topic', 'secrets', 'input'],
      ['$[2].params.uri', 'file:///etc/passwd', 'input'],
      ['$[4].result.content.text', 'sampled answer', 'input'],
      ['$[5].params.arguments', '{"text":"as a string"}', 'tool_arguments'],
    ]);
    expect(n.toolsCalled).toEqual(['add', 'echo']);
  });
});

describe('http', () => {
  it('scans every string of any other JSON body, with its path (count_tokens, tool HTTP APIs)', () => {
    expect(normalizeRequest('http', { model: 'claude-x', messages: [{ role: 'user', content: 'x' }], 'odd key': ['y', 3, { id: 'skip' }] })).toEqual({
      api: 'http',
      model: null,
      stream: false,
      maxTokens: null,
      texts: [
        { path: '$.model', text: 'claude-x', kind: 'input' },
        { path: '$.messages[0].content', text: 'x', kind: 'input' },
        { path: "$['odd key'][0]", text: 'y', kind: 'input' },
      ],
      prompt: 'claude-x\nx\ny',
      toolsOffered: [],
      toolsCalled: [],
    });
  });
});

describe('garbage in', () => {
  const junk: unknown[] = [
    null,
    undefined,
    0,
    42,
    'a string',
    true,
    [],
    [null, 1, 'x', [], {}],
    {},
    { messages: 'not an array', tools: {}, input: 5, prompt: {}, system: 7 },
    { messages: [null, 1, 'x', { role: 7, content: { nested: true } }, { content: [null, 5, { type: 7 }] }] },
    { messages: [{ role: 'assistant', tool_calls: [null, { function: null }, { function: { name: 5, arguments: 7 } }] }] },
    { input: [null, { type: 'function_call' }, { type: 5 }, { role: 'user', content: 5 }], instructions: [1, null] },
    { jsonrpc: '2.0', method: 'tools/call', params: null },
    { jsonrpc: '2.0', method: 'tools/call', params: { name: ['x'], arguments: null } },
    { max_tokens: 'many', max_completion_tokens: Infinity, model: 5, stream: 'yes' },
  ];

  it('never throws and returns what it could find', () => {
    for (const api of ALL_APIS) {
      for (const body of junk) {
        const n = normalizeRequest(api, body);
        expect(n.api).toBe(api);
        expect(Array.isArray(n.texts)).toBe(true);
        expect(n.prompt).toBe(n.texts.map((t) => t.text).join('\n'));
      }
    }
    expect(normalizeRequest('openai_chat', { max_tokens: 'many', model: 5, stream: 'yes' })).toMatchObject({ model: null, maxTokens: null, stream: false });
  });

  it('survives extremely deep nesting', () => {
    let deep: unknown = 'needle';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const n = normalizeRequest('mcp', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: { deep } } });
    expect(n.texts.some((t) => t.text.includes('needle'))).toBe(true);
    const m = normalizeRequest('mcp', { jsonrpc: '2.0', id: 1, method: 'x/y', params: { deep } });
    expect(m.texts.map((t) => t.text)).toEqual(['needle']);
  });

  it('never throws on arbitrary JSON (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_APIS), fc.jsonValue(), (api, body) => {
        const n = normalizeRequest(api, body);
        expect(n.prompt).toBe(n.texts.map((t) => t.text).join('\n'));
      }),
      { numRuns: 500 },
    );
  });
});
