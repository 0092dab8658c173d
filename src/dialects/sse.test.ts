import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser, serializeEvent, type SseEvent } from './sse.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { ignoreBOM: true });

const CREATED = 1_754_000_000;
const chatChunk = (delta: unknown, finish: string | null = null): string =>
  JSON.stringify({
    id: 'chatcmpl-abc',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-4o-mini',
    service_tier: 'default',
    system_fingerprint: 'fp_1',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null,
  });

/** A chat stream with include_usage, a comment, an emoji, CJK text and a usage chunk. */
const OPENAI = [
  ': OPENROUTER PROCESSING\n\n',
  `data: ${chatChunk({ role: 'assistant', content: '', refusal: null })}\n\n`,
  `data: ${chatChunk({ content: 'Hello 👋 ' })}\n\n`,
  `data: ${chatChunk({ content: '你好，世界。' })}\n\n`,
  `data: ${chatChunk({ content: ' café 🇫🇷' })}\n\n`,
  `data: ${chatChunk({}, 'stop')}\n\n`,
  `data: ${JSON.stringify({ id: 'chatcmpl-abc', object: 'chat.completion.chunk', created: CREATED, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 } })}\n\n`,
  'data: [DONE]\n\n',
].join('');

/** An Anthropic stream with CRLF line endings, a ping, and a delta split over two data lines. */
const ANTHROPIC = [
  'event: message_start',
  `data: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } } })}`,
  '',
  'event: content_block_start',
  'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
  '',
  'event: ping',
  'data: {"type": "ping"}',
  '',
  ': comment inside the stream',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":0,',
  'data: "delta":{"type":"text_delta","text":"🦀 Rust と日本語"}}',
  '',
  'event: content_block_delta',
  'data:{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" — ok 😀"}}',
  '',
  'event: content_block_stop',
  'data: {"type":"content_block_stop","index":0}',
  '',
  'event: message_delta',
  'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}',
  '',
  'event: message_stop',
  'data: {"type":"message_stop"}',
  '',
  '',
].join('\r\n');

/** A Responses stream with ids, a retry field, a field without a value and multi-line data. */
const RESPONSES = [
  'retry: 3000',
  'id: 1',
  'event: response.created',
  'data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[]}}',
  '',
  'id: 2',
  'event: response.output_text.delta',
  'data: {"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Ünïcödé ✓ 中文"}',
  '',
  'id: 3',
  'event: response.output_text.delta',
  'data: {"type":"response.output_text.delta","sequence_number":2,',
  'data:',
  'data: "item_id":"msg_1","output_index":0,"content_index":0,"delta":" 🎉"}',
  '',
  'event: response.completed',
  'data',
  'data: {"type":"response.completed","sequence_number":3,"response":{"id":"resp_1","status":"completed","usage":{"input_tokens":5,"output_tokens":4}}}',
  '',
  '',
].join('\n');

/** Bare CR endings, a mix with CRLF, a BOM, a stray blank line and an event with no data. */
const ODD = '\ufeffdata: first\r\rdata: sec\r\ndata: ond\r\n\r\n\nevent: ping\n\n: only a comment\r\rdata: 𝄞 last\r\r';

const FIXTURES = { OPENAI, ANTHROPIC, RESPONSES, ODD };

type Parsed = Omit<SseEvent, 'raw'> & { raw: string };

function parseChunks(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

function view(events: SseEvent[]): Parsed[] {
  return events.map((e) => ({ ...e, raw: Buffer.from(e.raw).toString('hex') }));
}

function concatRaw(events: SseEvent[]): Buffer {
  return Buffer.concat(events.map((e) => e.raw));
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts)].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const c of points) {
    out.push(bytes.slice(start, c));
    start = c;
  }
  out.push(bytes.slice(start));
  return out;
}

describe('SseParser on whole streams', () => {
  it('reads an OpenAI stream, comment block included', () => {
    const events = parseChunks([enc.encode(OPENAI)]);
    expect(events).toHaveLength(8);
    expect(events[0]).toMatchObject({ event: null, data: '', id: null, comment: true, incomplete: false });
    expect(dec.decode(events[0]!.raw)).toBe(': OPENROUTER PROCESSING\n\n');
    expect(JSON.parse(events[2]!.data).choices[0].delta.content).toBe('Hello 👋 ');
    expect(JSON.parse(events[3]!.data).choices[0].delta.content).toBe('你好，世界。');
    expect(events[7]).toMatchObject({ data: '[DONE]', comment: false });
    expect(concatRaw(events).equals(Buffer.from(OPENAI))).toBe(true);
  });

  it('reads an Anthropic stream with CRLF, joining multi-line data and accepting "data:" without a space', () => {
    const events = parseChunks([enc.encode(ANTHROPIC)]);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[3]!.data).toBe('{"type":"content_block_delta","index":0,\n"delta":{"type":"text_delta","text":"🦀 Rust と日本語"}}');
    expect(JSON.parse(events[3]!.data).delta.text).toBe('🦀 Rust と日本語');
    expect(JSON.parse(events[4]!.data).delta.text).toBe(' — ok 😀');
    expect(dec.decode(events[3]!.raw)).toMatch(/^: comment inside the stream\r\nevent: content_block_delta\r\n.*\r\n\r\n$/s);
    expect(concatRaw(events).equals(Buffer.from(ANTHROPIC))).toBe(true);
  });

  it('reads ids, ignores retry, keeps empty data lines and a bare "data" field', () => {
    const events = parseChunks([enc.encode(RESPONSES)]);
    expect(events.map((e) => [e.event, e.id])).toEqual([
      ['response.created', '1'],
      ['response.output_text.delta', '2'],
      ['response.output_text.delta', '3'],
      ['response.completed', null],
    ]);
    expect(events[2]!.data).toBe('{"type":"response.output_text.delta","sequence_number":2,\n\n"item_id":"msg_1","output_index":0,"content_index":0,"delta":" 🎉"}');
    expect(events[3]!.data.startsWith('\n{"type":"response.completed"')).toBe(true);
    expect(concatRaw(events).equals(Buffer.from(RESPONSES))).toBe(true);
  });

  it('handles bare CR, mixed endings, a BOM, stray blank lines and data-less events', () => {
    const events = parseChunks([enc.encode(ODD)]);
    expect(events.map(({ event, data, id, comment, incomplete }) => ({ event, data, id, comment, incomplete }))).toEqual([
      { event: null, data: 'first', id: null, comment: false, incomplete: false },
      { event: null, data: 'sec\nond', id: null, comment: false, incomplete: false },
      { event: null, data: '', id: null, comment: true, incomplete: false },
      { event: 'ping', data: '', id: null, comment: false, incomplete: false },
      { event: null, data: '', id: null, comment: true, incomplete: false },
      { event: null, data: '𝄞 last', id: null, comment: false, incomplete: false },
    ]);
    expect(events.map((e) => dec.decode(e.raw))).toEqual([
      '\ufeffdata: first\r\r',
      'data: sec\r\ndata: ond\r\n\r\n',
      '\n',
      'event: ping\n\n',
      ': only a comment\r\r',
      'data: 𝄞 last\r\r',
    ]);
  });

  it('keeps the BOM in raw but out of the first field name', () => {
    const bytes = enc.encode('\ufeffevent: x\ndata: y\n\n');
    const [ev] = parseChunks([bytes]);
    expect(ev).toMatchObject({ event: 'x', data: 'y' });
    expect(Buffer.from(ev!.raw).equals(Buffer.from(bytes))).toBe(true);
  });

  it('returns a block cut before its blank line from end(), marked incomplete', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('data: one\n\ndata: [DONE]'))).toHaveLength(1);
    const [last, ...rest] = p.end();
    expect(rest).toEqual([]);
    expect(last).toMatchObject({ event: null, data: '[DONE]', incomplete: true, comment: false });
    expect(dec.decode(last!.raw)).toBe('data: [DONE]');
    expect(p.end()).toEqual([]);
  });

  it('returns a block whose last line ended but whose blank line never came', () => {
    const [ev] = parseChunks([enc.encode('event: a\ndata: b\n')]);
    expect(ev).toMatchObject({ event: 'a', data: 'b', incomplete: true });
    expect(dec.decode(ev!.raw)).toBe('event: a\ndata: b\n');
  });

  it('holds an event whose blank line ends in CR at the end of a chunk until the next byte', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('data: x\r\n\r'))).toEqual([]);
    const [ev] = p.push(enc.encode('\ndata: y\r\n\r\n'));
    expect(dec.decode(ev!.raw)).toBe('data: x\r\n\r\n');
    // A bare-CR stream: the held event is released by end() as complete.
    const q = new SseParser();
    expect(q.push(enc.encode('data: z\r\r'))).toEqual([]);
    expect(q.end()).toMatchObject([{ data: 'z', incomplete: false }]);
  });

  it('ignores an id containing NUL and takes the last of repeated fields', () => {
    const [ev] = parseChunks([enc.encode('id: 7\nid: a\0b\nevent: a\nevent: b\ndata: z\n\n')]);
    expect(ev).toMatchObject({ id: '7', event: 'b', data: 'z' });
  });

  it('copies bytes, so a caller reusing its buffer cannot change returned events', () => {
    const p = new SseParser();
    const buf = enc.encode('data: abc\n\ndata: de');
    const [ev] = p.push(buf);
    buf.fill(0x41);
    const [tail] = p.end();
    expect(dec.decode(ev!.raw)).toBe('data: abc\n\n');
    expect(tail!.data).toBe('de');
  });

  it('ignores empty chunks', () => {
    const p = new SseParser();
    expect(p.push(new Uint8Array(0))).toEqual([]);
    expect(p.push(enc.encode('data: a\n\n'))).toHaveLength(1);
    expect(p.push(new Uint8Array(0))).toEqual([]);
  });
});

describe('SseParser under any split of the byte stream', () => {
  for (const [name, text] of Object.entries(FIXTURES)) {
    const bytes = enc.encode(text);
    const whole = parseChunks([bytes]);

    it(`${name}: every two-chunk split parses the same events with the same raw bytes`, () => {
      expect(concatRaw(whole).equals(Buffer.from(bytes))).toBe(true);
      const expected = view(whole);
      for (let i = 0; i <= bytes.length; i++) {
        const events = parseChunks([bytes.slice(0, i), bytes.slice(i)]);
        expect(view(events), `split at ${i}`).toEqual(expected);
      }
    });

    it(`${name}: one byte at a time parses the same events`, () => {
      const events = parseChunks(Array.from(bytes, (b) => Uint8Array.of(b)));
      expect(view(events)).toEqual(view(whole));
      expect(concatRaw(events).equals(Buffer.from(bytes))).toBe(true);
    });

    it(`${name}: random splits into many chunks parse the same events (property)`, () => {
      const expected = view(whole);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 60 }), (cuts) => {
          const events = parseChunks(splitAt(bytes, cuts));
          expect(view(events)).toEqual(expected);
          expect(concatRaw(events).equals(Buffer.from(bytes))).toBe(true);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('random event streams with random line endings parse back to their events under random splits (property)', () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, ''));
    const event = fc.record({
      event: fc.option(line.filter((s) => s.length > 0), { nil: null }),
      id: fc.option(line.map((s) => s.replace(/\0/g, '')), { nil: null }),
      dataLines: fc.array(line, { minLength: 1, maxLength: 4 }),
      comment: fc.option(line, { nil: null }),
    });
    const eol = fc.constantFrom('\n', '\r\n', '\r');
    fc.assert(
      fc.property(fc.array(fc.tuple(event, eol), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), (evs, rawCuts) => {
        let text = '';
        for (const [e, nl] of evs) {
          if (e.comment !== null) text += `:${e.comment}${nl}`;
          if (e.event !== null) text += `event: ${e.event}${nl}`;
          if (e.id !== null) text += `id: ${e.id}${nl}`;
          for (const d of e.dataLines) text += `data: ${d}${nl}`;
          text += nl;
        }
        const bytes = enc.encode(text);
        const events = parseChunks(splitAt(bytes, rawCuts.map((c) => c % (bytes.length + 1))));
        expect(events.map(({ event, id, data }) => ({ event, id, data }))).toEqual(
          evs.map(([e]) => ({ event: e.event, id: e.id, data: e.dataLines.join('\n') })),
        );
        expect(concatRaw(events).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('serializeEvent', () => {
  it('writes canonical bytes', () => {
    expect(dec.decode(serializeEvent({ event: 'message_delta', data: '{"a":1}', id: null }))).toBe('event: message_delta\ndata: {"a":1}\n\n');
    expect(dec.decode(serializeEvent({ event: null, data: 'a\nb', id: '9' }))).toBe('id: 9\ndata: a\ndata: b\n\n');
    expect(dec.decode(serializeEvent({ data: '' }))).toBe('data: \n\n');
  });

  it('turns CR inside data into line breaks rather than corrupting the stream', () => {
    const [ev] = parseChunks([serializeEvent({ event: null, data: 'a\rb\r\nc', id: null })]);
    expect(ev!.data).toBe('a\nb\nc');
  });

  it('round-trips through the parser (property)', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 30 });
    fc.assert(
      fc.property(
        fc.option(text.map((s) => s.replace(/[\r\n]/g, '')), { nil: null }),
        fc.option(text.map((s) => s.replace(/[\r\n\0]/g, '')), { nil: null }),
        text.map((s) => s.replace(/\r\n?/g, '\n')),
        (event, id, data) => {
          const [ev, ...rest] = parseChunks([serializeEvent({ event, data, id })]);
          expect(rest).toEqual([]);
          expect(ev).toMatchObject({ event, id, data, incomplete: false, comment: false });
        },
      ),
      { numRuns: 300 },
    );
  });
});
