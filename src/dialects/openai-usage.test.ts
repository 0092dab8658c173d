import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chatCompletions, completions } from '../mock/openai.js';
import type { RequestOptions } from '../mock/options.js';
import { requestStreamUsage, stripInjectedUsage } from './openai-usage.js';
import { SseParser } from './sse.js';

const OPTS: RequestOptions = { latencyMs: 0, chunks: 5, chunkDelayMs: 0, echo: false, status: null, fail: null };

describe('requestStreamUsage', () => {
  it('asks for usage on a stream that did not', () => {
    const body = { model: 'gpt-4o', stream: true, messages: [] };
    const r = requestStreamUsage(body);
    expect(r).toEqual({ injected: true, body: { ...body, stream_options: { include_usage: true } } });
    expect(body).not.toHaveProperty('stream_options');
  });

  it('keeps other stream options and overrides an explicit false', () => {
    const body = { stream: true, stream_options: { include_usage: false, include_obfuscation: false } };
    const r = requestStreamUsage(body);
    expect(r).toEqual({ injected: true, body: { stream: true, stream_options: { include_usage: true, include_obfuscation: false } } });
    expect(body.stream_options.include_usage).toBe(false);
    expect(requestStreamUsage({ stream: true, stream_options: null })).toEqual({ injected: true, body: { stream: true, stream_options: { include_usage: true } } });
  });

  it('leaves alone what needs nothing or is not ours to fix', () => {
    for (const body of [
      { stream: true, stream_options: { include_usage: true } },
      { stream: false },
      {},
      { stream: 'true' },
      { stream: true, stream_options: 'garbage' },
    ]) {
      const r = requestStreamUsage(body);
      expect(r.injected).toBe(false);
      expect(r.body).toBe(body);
    }
  });
});

describe('stripInjectedUsage', () => {
  it('drops the usage-only chunk and removes `"usage":null`, leaving what the agent would have seen', () => {
    const ask = { model: 'm', messages: [{ role: 'user', content: 'Hello there 👋' }], stream: true };
    for (const [plain, withUsage] of [
      [chatCompletions(ask, OPTS), chatCompletions(requestStreamUsage(ask).body, OPTS)],
      [completions({ prompt: 'Hi 你好', stream: true }, OPTS), completions(requestStreamUsage({ prompt: 'Hi 你好', stream: true }).body, OPTS)],
    ] as const) {
      if (plain.kind !== 'sse' || withUsage.kind !== 'sse') throw new Error('expected streams');
      const data = (frames: string[]) => {
        const p = new SseParser();
        return [...p.push(new TextEncoder().encode(frames.join(''))), ...p.end()].map((e) => e.data);
      };
      const expected = data([...plain.head, ...plain.deltas, ...plain.tail]);
      const got = data([...withUsage.head, ...withUsage.deltas, ...withUsage.tail])
        .map(stripInjectedUsage)
        .filter((d) => d !== null);
      // Ids and timestamps differ between the two calls; the member layout must not.
      const norm = (d: string) => d.replace(/"(chatcmpl|cmpl)-[^"]+"/, '"ID"').replace(/"created":\d+/, '"created":0');
      expect(got.map(norm)).toEqual(expected.map(norm));
    }
  });

  it('removes the member textually, wherever it sits at the top level', () => {
    expect(stripInjectedUsage('{"id":"a","choices":[{"delta":{"content":"x"}}],"usage":null}')).toBe('{"id":"a","choices":[{"delta":{"content":"x"}}]}');
    expect(stripInjectedUsage('{"choices":[],"usage":null,"obfuscation":"Zx9"}')).toBe('{"choices":[],"obfuscation":"Zx9"}');
    expect(stripInjectedUsage('{"usage":null,"id":"a"}')).toBe('{"id":"a"}');
    expect(stripInjectedUsage('{"usage":null}')).toBe('{}');
    expect(stripInjectedUsage('{ "id": "a", "usage" : null }')).toBe('{ "id": "a" }');
    expect(stripInjectedUsage('{\n  "id": "a",\n  "usage": null\n}')).toBe('{\n  "id": "a"\n}');
  });

  it('does not touch look-alikes inside strings or nested objects', () => {
    const inString = '{"choices":[{"delta":{"content":"say \\"usage\\":null, ok"}}],"usage":null}';
    expect(stripInjectedUsage(inString)).toBe('{"choices":[{"delta":{"content":"say \\"usage\\":null, ok"}}]}');
    expect(JSON.parse(stripInjectedUsage(inString)!).choices[0].delta.content).toBe('say "usage":null, ok');
    const nested = '{"choices":[{"delta":{"usage":null}}],"x":1}';
    expect(stripInjectedUsage(nested)).toBe(nested);
  });

  it('falls back to parsing when the member is written in an unusual way', () => {
    expect(stripInjectedUsage('{"id":"a","\\u0075sage":null}')).toBe('{"id":"a"}');
  });

  it('leaves other chunks byte-identical and is idempotent', () => {
    const same = [
      'data that is not json',
      '[DONE]',
      '',
      '{"error":{"message":"x"}}',
      '{"choices":[{"index":0,"delta":{"content":"hi"}}]}',
      '{"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}',
      '{"choices":[],"prompt_filter_results":[]}',
    ];
    for (const d of same) expect(stripInjectedUsage(d)).toBe(d);
    const once = stripInjectedUsage('{"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}')!;
    expect(stripInjectedUsage(once)).toBe(once);
  });

  it('returns null for the usage-only chunk', () => {
    expect(stripInjectedUsage('{"id":"a","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}')).toBeNull();
  });

  it('equals deleting the member, for any chunk (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string().filter((k) => k !== 'usage'), fc.jsonValue(), { maxKeys: 5 }), fc.nat(), (obj, at) => {
        const keys = Object.keys(obj);
        const pos = at % (keys.length + 1);
        const entries = Object.entries(obj);
        entries.splice(pos, 0, ['usage', null]);
        const data = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
        const out = stripInjectedUsage(data)!;
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(obj)));
        expect(stripInjectedUsage(out)).toBe(out);
      }),
      { numRuns: 500 },
    );
  });
});
