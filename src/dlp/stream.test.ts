import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TextDelta } from '../dialects/stream.js';
import { BUILTIN_DETECTORS } from './detectors/index.js';
import { join } from './detectors/shared.js';
import { compileDlp, redactText, scan, type Finding } from './engine.js';
import { STREAM_WINDOW, StreamScanner, responseHold } from './stream.js';

// Example credentials are written in pieces (see detectors/shared.ts) so that no repository
// secret scanner mistakes this file for a leak. All are fake; the card numbers pass Luhn.
const AWS = join('AKIAPKWXVY2', 'VALZGQ2LM');
const CARD = join('4539 1488', ' 0343 6467');

const DLP = compileDlp({ overrides: {}, patterns: [], allow: [] }, 'salt');
/** A tenant that redacts what it would otherwise block. */
const REDACTING = compileDlp({ overrides: {}, patterns: [], allow: [], actions: { CRITICAL: 'redact' } }, 'salt');
/** The default window and a small one, so that hold-back and trimming happen on short texts. */
const WINDOWS = [STREAM_WINDOW, 64] as const;
const RUNS = { numRuns: 200 };

const PATH_0 = '$.choices[0].delta.content';
const PATH_1 = '$.choices[1].delta.content';
const KEY_0 = 'choice:0:content';
const KEY_1 = 'choice:1:content';

const isBlocking = (f: Finding) => f.action === 'block';
const blockingIn = (text: string) => scan(DLP, [{ path: PATH_0, text, kind: 'message' }], 'response', null).filter(isBlocking);
const spans = (fs: readonly Finding[]) => fs.map((f) => [f.class, f.location.start, f.location.end]).sort();

// ---------------------------------------------------------------------------------------------
// A relay as SPEC §6 "Streams" describes it (and src/proxy/relay.ts does it): each event's deltas
// are pushed, the stream stops as soon as anything blocks, and events leave in order, each only
// when every one of its delta ends is within what the scanner says is releasable.

type Event = TextDelta[];

interface RelayOutcome {
  blocked: boolean;
  /** Text the agent received, per stream key, in order. */
  released: Map<string, string>;
  releasedEvents: number;
  findings: Finding[];
}

function relay(scanner: StreamScanner, events: readonly Event[], together = 1): RelayOutcome {
  const held: { event: Event; ends: { key: string; end: number }[] }[] = [];
  const released = new Map<string, string>();
  let releasedEvents = 0;
  // Each delta as the agent gets it: redacted spans rewritten, as the relay does.
  const send = (event: Event, ends: { key: string; end: number }[]) => {
    releasedEvents++;
    event.forEach((d, i) => {
      const value = scanner.rewrite(d.stream, ends[i]!.end - d.value.length, d.value);
      released.set(d.stream, (released.get(d.stream) ?? '') + value);
    });
  };
  const release = (all: boolean) => {
    while (held.length > 0) {
      const h = held[0]!;
      if (!all && !h.ends.every((e) => e.end <= scanner.releasable(e.key))) return;
      held.shift();
      send(h.event, h.ends);
    }
  };
  const outcome = (blocked: boolean): RelayOutcome => ({ blocked, released, releasedEvents, findings: scanner.findings });
  // Events that arrive in one read are pushed together (`together` of them; 1 by default).
  for (let i = 0; i < events.length; i += together) {
    const batch = events.slice(i, i + together);
    const ends = scanner.push(batch.flat());
    expect(ends.map((e) => e.key)).toEqual(batch.flat().map((d) => d.stream));
    if (scanner.blocking().length > 0) return outcome(true);
    let at = 0;
    for (const event of batch) {
      held.push({ event, ends: ends.slice(at, at + event.length) });
      at += event.length;
    }
    release(false);
  }
  scanner.end();
  if (scanner.blocking().length > 0) return outcome(true);
  release(true);
  return outcome(false);
}

/** Cuts `text` at the given offsets (any order, duplicates and out-of-range ones ignored). */
function cut(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < text.length))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const p of [...points, text.length]) {
    pieces.push(text.slice(from, p));
    from = p;
  }
  return pieces.filter((p) => p !== '');
}

const eventsOf = (pieces: readonly string[], stream = KEY_0, path = PATH_0): Event[] => pieces.map((value) => [{ path, value, stream }]);

// ---------------------------------------------------------------------------------------------
// Generators

/** Benign prose: lower-case words, blanks and punctuation; no digits, no upper case, no `key=value`. */
const word = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), minLength: 1, maxLength: 9 });
const gap = fc.constantFrom(' ', ' ', ' ', ', ', '. ', '! ', '? ', '\n', ' - ', '; ', ' (', ') ', "'");
const benign = (maxWords: number) =>
  fc.array(fc.tuple(word, gap), { maxLength: maxWords, size: 'max' }).map((ws) => ws.map(([w, g]) => w + g).join(''));

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** AWS access key ids the built-in detector blocks (placeholder-looking ones are filtered out). */
const awsKey = fc
  .string({ unit: fc.constantFrom(...BASE32), minLength: 16, maxLength: 16 })
  .map((body) => 'AKIA' + body)
  .filter((k) => blockingIn(k).length === 1);

function luhnDigit(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) d *= 2;
    if (d > 9) d -= 9;
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}
/** Luhn-valid Visa numbers in the three written forms, filtered to those the detector blocks. */
const visa = fc
  .tuple(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 14, maxLength: 14 }), fc.constantFrom('', ' ', '-'))
  .map(([body, sep]) => {
    const digits = '4' + body + luhnDigit('4' + body);
    return sep === '' ? digits : digits.match(/.{4}/g)!.join(sep);
  })
  .filter((c) => blockingIn(c).length === 1);

const secret = fc.oneof(fc.constant(AWS), fc.constant(CARD), awsKey, visa);

/**
 * Tokens a scan of the whole text does not block although a suffix of them would: digits glued
 * before a card number, letters glued before an access key id.
 */
const decoy = fc
  .oneof(
    fc.tuple(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 6 }), visa.map((c) => c.replace(/[ -]/g, ''))),
    fc.tuple(fc.string({ unit: fc.constantFrom(...'XQZ'), minLength: 1, maxLength: 6 }), fc.oneof(fc.constant(AWS), awsKey)),
  )
  .map(([glue, value]) => glue + value)
  .filter((t) => blockingIn(t).length === 0);

/** Benign text with a secret planted at any position (blank-separated from its neighbours). */
const planted = (maxWords: number) =>
  fc.tuple(benign(maxWords), secret, benign(maxWords)).map(([before, value, after]) => {
    const head = before === '' ? '' : before.endsWith(' ') || before.endsWith('\n') ? before : before + ' ';
    const tail = after === '' ? '' : ' ' + after;
    return { text: head + value + tail, start: head.length, value };
  });

/** Random cut points, or one event per character. */
const chunking = (text: string) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.nat({ max: Math.max(0, text.length) }), { maxLength: 60, size: 'max' }).map((cs) => cut(text, cs)) },
    { weight: 1, arbitrary: fc.constant([...text.split('')]) },
  );

const window = fc.constantFrom(...WINDOWS);

// ---------------------------------------------------------------------------------------------

describe('StreamScanner: a planted secret', () => {
  it('test values are blocked at CRITICAL by a plain scan', () => {
    for (const v of [AWS, CARD]) {
      const f = blockingIn(`see ${v} here`);
      expect(f.map((x) => [x.severity, x.action, x.location.start, x.location.end])).toEqual([['CRITICAL', 'block', 4, 4 + v.length]]);
    }
  });

  it('is blocked in any chunking, however many events arrive together, and nothing from its start on is ever released', () => {
    fc.assert(
      fc.property(
        planted(60).chain((p) => fc.tuple(fc.constant(p), chunking(p.text), window, fc.integer({ min: 1, max: 4 }))),
        ([{ text, start, value }, pieces, w, together]) => {
          expect(pieces.join('')).toBe(text);
          const out = relay(new StreamScanner(DLP, null, w), eventsOf(pieces), together);
          expect(out.blocked).toBe(true);
          const released = out.released.get(KEY_0) ?? '';
          expect(released.length).toBeLessThanOrEqual(start);
          expect(text.startsWith(released)).toBe(true);
          expect(released).not.toContain(value.slice(0, 4));
        },
      ),
      RUNS,
    );
  });

  it('is reported at its absolute position in the key, not the chunk, also after trimming', () => {
    fc.assert(
      fc.property(
        // Long prefixes: with the small window the kept text is trimmed several times first.
        fc.tuple(benign(200), planted(20)).chain(([prefix, p]) => {
          const head = prefix === '' ? '' : prefix + ' ';
          const q = { text: head + p.text, start: head.length + p.start, value: p.value };
          return fc.tuple(fc.constant(q), chunking(q.text), window);
        }),
        ([{ text, start, value }, pieces, w]) => {
          const scanner = new StreamScanner(DLP, null, w);
          relay(scanner, eventsOf(pieces));
          const f = scanner.blocking();
          expect(f).toHaveLength(1);
          expect(f[0]!.location).toEqual({ path: PATH_0, start, end: start + value.length });
          expect(text.slice(f[0]!.location.start, f[0]!.location.end)).toBe(value);
          expect(f[0]!.direction).toBe('response');
          expect(f[0]!.severity).toBe('CRITICAL');
        },
      ),
      RUNS,
    );
  });

  it('finds what a scan of the whole text finds, each once, when fed everything', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(fc.array(fc.tuple(benign(30), fc.oneof(secret, decoy)), { maxLength: 4, size: 'max' }), benign(30))
          .map(([parts, last]) => parts.map(([b, s]) => `${b} ${s} `).join('') + last)
          .chain((text) => fc.tuple(fc.constant(text), chunking(text), window)),
        ([text, pieces, w]) => {
          const scanner = new StreamScanner(DLP, null, w);
          for (const e of eventsOf(pieces)) scanner.push(e);
          scanner.end();
          expect(spans(scanner.blocking())).toEqual(spans(blockingIn(text)));
        },
      ),
      RUNS,
    );
  });
});

describe('StreamScanner: benign text', () => {
  it('is never blocked and is released whole, in order, after end()', () => {
    fc.assert(
      fc.property(
        benign(150).chain((text) => fc.tuple(fc.constant(text), chunking(text), window)),
        ([text, pieces, w]) => {
          expect(blockingIn(text)).toEqual([]);
          const scanner = new StreamScanner(DLP, null, w);
          const out = relay(scanner, eventsOf(pieces));
          expect(out.blocked).toBe(false);
          expect(scanner.blocking()).toEqual([]);
          expect(out.releasedEvents).toBe(pieces.length);
          expect(out.released.get(KEY_0) ?? '').toBe(text);
        },
      ),
      RUNS,
    );
  });

  it('is held back only as far as it could begin a value, never by the window', () => {
    // The longest beginning prose of lower-case words can make is a `secret - …` field name, its
    // 20 name characters, quotes and blanks (secret.generic_api_key): under 40 characters.
    fc.assert(
      fc.property(
        benign(150).chain((text) => fc.tuple(fc.constant(text), chunking(text), window)),
        ([text, pieces, w]) => {
          const scanner = new StreamScanner(DLP, null, w);
          let total = 0;
          let before = 0;
          for (const piece of pieces) {
            const [end] = scanner.push([{ path: PATH_0, value: piece, stream: KEY_0 }]);
            total += piece.length;
            expect(end).toEqual({ key: KEY_0, end: total });
            const releasable = scanner.releasable(KEY_0);
            expect(releasable).toBeGreaterThanOrEqual(before);
            expect(total - releasable).toBeLessThan(40);
            // What is held starts no later than the last word: a word may begin a key.
            expect(releasable).toBeLessThanOrEqual(text.slice(0, total).search(/[a-z]*$/));
            before = releasable;
          }
          expect(total).toBe(text.length);
        },
      ),
      RUNS,
    );
  });
});

describe('StreamScanner: stream keys', () => {
  /** Interleaves two keys' pieces in a random order, keeping each key's order; some events carry both. */
  const interleave = (a: readonly string[], b: readonly string[], order: readonly number[]): Event[] => {
    const events: Event[] = [];
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < a.length || j < b.length) {
      const r = order[k++ % Math.max(1, order.length)] ?? 0;
      const da: TextDelta = { path: PATH_0, value: a[i] ?? '', stream: KEY_0 };
      const db: TextDelta = { path: PATH_1, value: b[j] ?? '', stream: KEY_1 };
      if (i < a.length && (j >= b.length || r === 0)) {
        events.push([da]);
        i++;
      } else if (j < b.length && (i >= a.length || r === 1)) {
        events.push([db]);
        j++;
      } else {
        events.push(r === 2 ? [da, db] : [db, da]);
        i++;
        j++;
      }
    }
    return events;
  };

  it('a secret in one key blocks; the other key alone does not', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(planted(40), benign(60))
          .chain(([p, other]) =>
            fc.tuple(fc.constant(p), fc.constant(other), chunking(p.text), chunking(other), fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 30 }), window),
          ),
        ([p, other, piecesA, piecesB, order, w]) => {
          const events = interleave(piecesA, piecesB, order);
          const out = relay(new StreamScanner(DLP, null, w), events);
          expect(out.blocked).toBe(true);
          expect(out.findings.filter(isBlocking).every((f) => f.location.path === PATH_0)).toBe(true);
          expect((out.released.get(KEY_0) ?? '').length).toBeLessThanOrEqual(p.start);
          expect(other.startsWith(out.released.get(KEY_1) ?? '')).toBe(true);

          const alone = relay(
            new StreamScanner(DLP, null, w),
            events.map((e) => e.filter((d) => d.stream === KEY_1)).filter((e) => e.length > 0),
          );
          expect(alone.blocked).toBe(false);
          expect(alone.released.get(KEY_1) ?? '').toBe(other);
        },
      ),
      RUNS,
    );
  });

  it('two benign keys interleaved are released whole, each in its own order', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(benign(60), benign(60))
          .chain(([a, b]) => fc.tuple(fc.constant(a), fc.constant(b), chunking(a), chunking(b), fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 30 }), window)),
        ([a, b, piecesA, piecesB, order, w]) => {
          const events = interleave(piecesA, piecesB, order);
          const out = relay(new StreamScanner(DLP, null, w), events);
          expect(out.blocked).toBe(false);
          expect(out.releasedEvents).toBe(events.length);
          expect(out.released.get(KEY_0) ?? '').toBe(a);
          expect(out.released.get(KEY_1) ?? '').toBe(b);
        },
      ),
      RUNS,
    );
  });

  it('offsets are per key: each delta end counts only its own key', () => {
    const scanner = new StreamScanner(DLP, null, 4);
    expect(scanner.push([{ path: PATH_0, value: 'hello', stream: KEY_0 }, { path: PATH_1, value: 'hi', stream: KEY_1 }])).toEqual([
      { key: KEY_0, end: 5 },
      { key: KEY_1, end: 2 },
    ]);
    expect(scanner.push([{ path: PATH_0, value: ' world', stream: KEY_0 }])).toEqual([{ key: KEY_0, end: 11 }]);
    // "world" could still begin a value (a key); the blank before it cannot.
    expect(scanner.releasable(KEY_0)).toBe(6);
    expect(scanner.releasable(KEY_1)).toBe(0);
    expect(scanner.releasable('choice:9:content')).toBe(0);
  });

  it('a secret split across two keys is not a secret', () => {
    const half = AWS.length / 2;
    const events: Event[] = [
      [{ path: PATH_0, value: 'key ' + AWS.slice(0, half), stream: KEY_0 }],
      [{ path: PATH_1, value: AWS.slice(half) + ' done', stream: KEY_1 }],
    ];
    const out = relay(new StreamScanner(DLP, null, 64), events);
    expect(out.blocked).toBe(false);
  });
});

describe('StreamScanner: robustness', () => {
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 3000, size: 'max' }),
    fc.string({ unit: 'grapheme', maxLength: 1000, size: 'max' }),
    fc.string({ unit: fc.constantFrom(...'0123456789 -AKIASbcx=:@.\n\u00e9\ud83d\ude00'), maxLength: 3000, size: 'max' }),
  );

  it('never throws on random unicode in random chunks, and keeps its offsets consistent', () => {
    fc.assert(
      fc.property(
        anyText.chain((text) => fc.tuple(fc.constant(text), chunking(text), window)),
        ([text, pieces, w]) => {
          const scanner = new StreamScanner(DLP, null, w);
          const out = relay(scanner, eventsOf(pieces));
          const released = out.released.get(KEY_0) ?? '';
          expect(text.startsWith(released)).toBe(true);
          if (!out.blocked) expect(released).toBe(text);
          for (const f of scanner.findings) {
            expect(f.location.path).toBe(PATH_0);
            expect(f.location.start).toBeGreaterThanOrEqual(0);
            expect(f.location.start).toBeLessThan(f.location.end);
            expect(f.location.end).toBeLessThanOrEqual(text.length);
          }
          // Each value once: no two findings of a class at the same place.
          const ids = scanner.findings.map((f) => `${f.class}:${f.location.start}`);
          expect(new Set(ids).size).toBe(ids.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('handles empty deltas, empty events and end() without text', () => {
    const scanner = new StreamScanner(DLP, null);
    expect(scanner.push([])).toEqual([]);
    expect(scanner.push([{ path: PATH_0, value: '', stream: KEY_0 }])).toEqual([{ key: KEY_0, end: 0 }]);
    expect(scanner.releasable(KEY_0)).toBe(0);
    scanner.end();
    expect(scanner.findings).toEqual([]);
    expect(new StreamScanner(DLP, null).window).toBe(STREAM_WINDOW);
  });
});

describe('responseHoldBack: how much text a tenant must hold back', () => {
  const OBSERVING = compileDlp({ overrides: {}, patterns: [], allow: [], actions: { CRITICAL: 'warn', HIGH: 'warn', MEDIUM: 'record', LOW: 'record' } }, 'salt');
  const NOTHING = compileDlp({ overrides: Object.fromEntries(DLP.entries.map((e) => [e.class, { enabled: false }])), patterns: [], allow: [] }, 'salt');

  it('holds the window while something could block or redact the answer', () => {
    expect(responseHold(DLP, { enforce: true, policies: false })).not.toBeNull();
    expect(responseHold(REDACTING, { enforce: false, policies: false })).not.toBeNull();
  });

  it('holds the window for response-stage policies, which may refuse on any finding', () => {
    expect(responseHold(OBSERVING, { enforce: true, policies: true })).not.toBeNull();
  });

  it('holds nothing when nothing can stop the text: warn and record only, blocks not enforced, detectors off', () => {
    expect(responseHold(OBSERVING, { enforce: true, policies: false })).toBeNull();
    expect(responseHold(DLP, { enforce: false, policies: false })).toBeNull();
    expect(responseHold(NOTHING, { enforce: true, policies: false })).toBeNull();
  });

  it('holds the window when low-confidence matches (judged at LOW) would redact or block', () => {
    const lowRedacts = compileDlp({ overrides: {}, patterns: [], allow: [], actions: { CRITICAL: 'warn', HIGH: 'warn', MEDIUM: 'warn', LOW: 'redact' } }, 'salt');
    expect(responseHold(lowRedacts, { enforce: true, policies: false })).not.toBeNull();
    const warnEach = compileDlp({
      overrides: Object.fromEntries(DLP.entries.map((e) => [e.class, { action: 'warn' as const }])),
      patterns: [], allow: [], actions: { CRITICAL: 'warn', HIGH: 'warn', MEDIUM: 'warn', LOW: 'block' },
    }, 'salt');
    expect(responseHold(warnEach, { enforce: true, policies: false })).not.toBeNull();
    expect(responseHold(warnEach, { enforce: false, policies: false })).toBeNull();
  });

  it('holds nothing for a blocking pattern that only scans requests', () => {
    const requestOnly = compileDlp({
      overrides: Object.fromEntries(DLP.entries.map((e) => [e.class, { enabled: false }])),
      patterns: [{ name: 'ticket', type: 'regex', pattern: 'TKT-[0-9]{5}', severity: 'CRITICAL', appliesTo: 'request', enabled: true }],
      allow: [],
    }, 'salt');
    expect(responseHold(requestOnly, { enforce: true, policies: false })).toBeNull();
  });

  it('with no hold-back, text is releasable as it arrives and findings are still recorded', () => {
    const scanner = new StreamScanner(OBSERVING, null, STREAM_WINDOW, 0, null);
    scanner.push([{ path: PATH_0, value: `card ${CARD.slice(0, 9)}`, stream: KEY_0 }]);
    expect(scanner.releasable(KEY_0)).toBe(14);
    scanner.push([{ path: PATH_0, value: `${CARD.slice(9)} thanks`, stream: KEY_0 }]);
    expect(scanner.releasable(KEY_0)).toBe(5 + CARD.length + 7);
    scanner.end();
    expect(scanner.findings.map((f) => [f.class, f.action])).toEqual([['payment.credit_card', 'warn']]);
  });
});

describe('StreamScanner: unit cases', () => {
  it('a value ending the stream is judged by end(), not before', () => {
    const scanner = new StreamScanner(DLP, null, 64);
    scanner.push([{ path: PATH_0, value: 'the key is ' + AWS, stream: KEY_0 }]);
    // The value touches the newest character and may still grow: not judged yet, and held back.
    expect(scanner.blocking()).toEqual([]);
    expect(scanner.releasable(KEY_0)).toBeLessThanOrEqual(11);
    scanner.end();
    expect(spans(scanner.blocking())).toEqual([['secret.aws_access_key', 11, 11 + AWS.length]]);
  });

  it('a value that grows into something longer is not reported', () => {
    const scanner = new StreamScanner(DLP, null, 64);
    scanner.push([{ path: PATH_0, value: 'token ' + AWS, stream: KEY_0 }]);
    scanner.push([{ path: PATH_0, value: 'X is one character too long', stream: KEY_0 }]);
    scanner.end();
    expect(scanner.blocking()).toEqual([]);
  });

  it('a card split one character per event is stopped before its first digit leaves', () => {
    const text = 'please charge ' + CARD + ' today, thanks';
    const out = relay(new StreamScanner(DLP, null, 64), eventsOf(text.split('')));
    expect(out.blocked).toBe(true);
    // The words before it leave as they come; no digit of it does.
    expect(out.released.get(KEY_0) ?? '').toBe('please charge ');
    const start = text.indexOf(CARD);
    expect(spans(out.findings.filter(isBlocking))).toEqual([['payment.credit_card', start, start + CARD.length]]);
  });

  it('a scan region starting inside a longer token does not make its tail a finding', () => {
    // The whole texts hold no value: the card and the key are glued to more token characters.
    // Each push scans from `window` characters before its new text; cut so that this start falls
    // exactly where the embedded value begins (values shorter than the window, as guaranteed).
    for (const [text, inner] of [
      ['order id 98765' + join('4539148803', '436467') + ' shipped', join('4539148803', '436467')],
      ['ref X' + AWS + ' done', AWS],
    ] as const) {
      expect(blockingIn(text)).toEqual([]);
      for (const w of [24, 64, STREAM_WINDOW]) {
        const padded = 'a'.repeat(w) + ' ' + text;
        const at = padded.indexOf(inner) + w;
        const scanner = new StreamScanner(DLP, null, w);
        const out = relay(scanner, eventsOf([padded.slice(0, at), padded.slice(at)]));
        expect(scanner.findings.filter(isBlocking)).toEqual([]);
        expect(out.blocked).toBe(false);
        expect(out.released.get(KEY_0)).toBe(padded);
      }
    }
  });

  it('the final scan reads the last region again: a long digit run whose tail passes Luhn is no card at the end either', () => {
    // 21 digits: no card in the whole text, but its last 16 would be one on their own. The text
    // ends so that two windows before its end fall exactly where those 16 digits begin.
    const head = 'vpz tlhlox pxs! s!  039714060646161035620';
    const tailStart = head.length - 16;
    const text = head + ' ' + 'f'.repeat(2 * 64 - (head.length - tailStart) - 1);
    expect(text.length - 2 * 64).toBe(tailStart);
    expect(blockingIn(text)).toEqual([]);
    const scanner = new StreamScanner(DLP, null, 64);
    scanner.push([{ path: PATH_0, value: text, stream: KEY_0 }]);
    scanner.end();
    expect(scanner.blocking()).toEqual([]);
  });

  it('the agent id is passed through: a class disabled for the agent is not scanned', () => {
    const dlp = compileDlp({ overrides: { 'secret.aws_access_key': { disabledAgents: ['agent-1'] } }, patterns: [], allow: [] }, 'salt');
    const text = 'key ' + AWS + ' end';
    expect(relay(new StreamScanner(dlp, 'agent-1', 64), eventsOf(cut(text, [3, 9, 17]))).blocked).toBe(false);
    expect(relay(new StreamScanner(dlp, 'agent-2', 64), eventsOf(cut(text, [3, 9, 17]))).blocked).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Redaction in flight and values longer than the window

/** A PEM private key of `lines` lines of 64 base64 characters, from a fixed seed (fake, never a real key). */
function pemKey(lines: number, seed = 7): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let x = seed;
  const body: string[] = [];
  for (let l = 0; l < lines; l++) {
    let line = '';
    for (let i = 0; i < 64; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      line += alphabet[(x >>> 16) % 64];
    }
    body.push(line);
  }
  return join('-----BEGIN RSA ', 'PRIVATE KEY-----\n', body.join('\n'), '\n-----END RSA ', 'PRIVATE KEY-----');
}

describe('StreamScanner: redaction', () => {
  it('a planted secret in any chunking reaches the agent as its marker, and the rest unchanged', () => {
    fc.assert(
      fc.property(planted(40).chain((p) => fc.tuple(fc.constant(p), chunking(p.text), window)), ([p, pieces, w]) => {
        const out = relay(new StreamScanner(REDACTING, null, w), eventsOf(pieces));
        expect(out.blocked).toBe(false);
        const cls = scan(REDACTING, [{ path: PATH_0, text: p.value, kind: 'message' }], 'response', null)[0]!.class;
        expect(out.released.get(KEY_0)).toBe(p.text.slice(0, p.start) + `[REDACTED:${cls}]` + p.text.slice(p.start + p.value.length));
      }),
      RUNS,
    );
  });

  it('rewrite() writes the marker once, where the span begins, and drops the rest from later deltas', () => {
    const scanner = new StreamScanner(REDACTING, null, 64);
    const text = 'card ' + CARD + ' ok';
    scanner.push([{ path: PATH_0, value: text, stream: KEY_0 }]);
    scanner.end();
    expect(scanner.rewrite(KEY_0, 0, 'card 45')).toBe('card [REDACTED:payment.credit_card]');
    expect(scanner.rewrite(KEY_0, 7, text.slice(7, 12))).toBe('');
    expect(scanner.rewrite(KEY_0, 5 + CARD.length - 2, CARD.slice(-2) + ' ok')).toBe(' ok');
    expect(scanner.rewrite(KEY_0, 0, text)).toBe('card [REDACTED:payment.credit_card] ok');
    expect(scanner.rewriteWhole(KEY_0, text)).toBe('card [REDACTED:payment.credit_card] ok');
    expect(scanner.redacts(KEY_0, 0, 5)).toBe(false);
    expect(scanner.redacts(KEY_0, 0, 6)).toBe(true);
  });

  it('endKey() judges a key whose text is complete, so its tail is released before the stream ends', () => {
    const scanner = new StreamScanner(REDACTING, null, 64);
    scanner.push([{ path: PATH_0, value: 'last words ' + CARD, stream: KEY_0 }]);
    expect(scanner.releasable(KEY_0)).toBe(11);
    scanner.endKey(KEY_0);
    expect(scanner.releasable(KEY_0)).toBe(11 + CARD.length);
    expect(scanner.rewriteWhole(KEY_0, 'last words ' + CARD)).toBe('last words [REDACTED:payment.credit_card]');
  });
});

describe('StreamScanner: values longer than the window', () => {
  const KEY = pemKey(40);

  it('the test key is longer than the default window and blocked by a plain scan', () => {
    expect(KEY.length).toBeGreaterThan(4 * STREAM_WINDOW);
    expect(spans(blockingIn('here:\n' + KEY + '\nbye'))).toEqual([['secret.private_key', 6, 6 + KEY.length]]);
  });

  it('a private key streamed in any chunking is blocked before any byte of it leaves', () => {
    const text = 'Here is the deploy key you asked for:\n' + KEY + '\nKeep it safe.';
    const start = text.indexOf('-----BEGIN');
    fc.assert(
      fc.property(chunking(text), window, (pieces, w) => {
        const out = relay(new StreamScanner(DLP, null, w), eventsOf(pieces));
        expect(out.blocked).toBe(true);
        expect((out.released.get(KEY_0) ?? '').length).toBeLessThanOrEqual(start);
      }),
      { numRuns: 50 },
    );
  });

  it('redacted whole in any chunking: the agent sees the marker in its place', () => {
    const text = 'Here is the deploy key you asked for:\n' + KEY + '\nKeep it safe.';
    fc.assert(
      fc.property(chunking(text), window, (pieces, w) => {
        const out = relay(new StreamScanner(REDACTING, null, w), eventsOf(pieces));
        expect(out.blocked).toBe(false);
        expect(out.released.get(KEY_0)).toBe(text.replace(KEY, '[REDACTED:secret.private_key]'));
      }),
      { numRuns: 50 },
    );
  });

  it('ordinary text flows: only what could begin a value waits', () => {
    const scanner = new StreamScanner(DLP, null, 64);
    // A closing blank begins nothing; a last word may begin a key.
    scanner.push([{ path: PATH_0, value: 'prose '.repeat(30), stream: KEY_0 }]);
    expect(scanner.releasable(KEY_0)).toBe(180);
    scanner.push([{ path: PATH_0, value: 'and more', stream: KEY_0 }]);
    expect(scanner.releasable(KEY_0)).toBe(184);
  });
});

describe('StreamScanner: what each tenant holds back', () => {
  const PROJECT_KEY = 'PRJ_' + 'k7Q2mX9pL4vR8sT1wZ3n';
  const CUSTOM = compileDlp({
    overrides: {},
    patterns: [
      { name: 'project-key', type: 'regex', pattern: 'PRJ_[A-Za-z0-9]{20}', severity: 'CRITICAL', appliesTo: 'both', enabled: true },
      { name: 'codename', type: 'keywords', keywords: ['nightjar'], severity: 'HIGH', action: 'block', appliesTo: 'both', enabled: true },
    ],
    allow: [],
  }, 'salt');

  it('a tenant pattern (regex or keyword) is stopped before any of it leaves, in any chunking', () => {
    fc.assert(
      fc.property(
        fc.tuple(benign(30), fc.constantFrom(PROJECT_KEY, 'Nightjar'), benign(30)).chain(([before, value, after]) => {
          const text = `${before} ${value} ${after}`;
          return fc.tuple(fc.constant({ text, start: before.length + 1, value }), chunking(text), window);
        }),
        ([{ text, start, value }, pieces, w]) => {
          const out = relay(new StreamScanner(CUSTOM, null, w), eventsOf(pieces));
          expect(out.blocked).toBe(true);
          const released = out.released.get(KEY_0) ?? '';
          expect(released.length).toBeLessThanOrEqual(start);
          expect(text.startsWith(released)).toBe(true);
          expect(out.findings.filter(isBlocking).map((f) => text.slice(f.location.start, f.location.end))).toContain(value);
        },
      ),
      RUNS,
    );
  });

  it('for response-stage policies that may refuse, every value is found whole before any of it leaves', () => {
    // Nothing blocks or redacts here: only a policy could act on a finding, so each must be whole.
    const OBSERVING = compileDlp({ overrides: {}, patterns: [], allow: [], actions: { CRITICAL: 'warn', HIGH: 'warn', MEDIUM: 'record', LOW: 'record' } }, 'salt');
    const EMAIL = 'jane.doe@acme-corp.io';
    fc.assert(
      fc.property(
        fc.tuple(benign(30), benign(30)).chain(([before, after]) => {
          const text = `${before} ${EMAIL} ${after}`;
          return fc.tuple(fc.constant({ text, start: before.length + 1 }), chunking(text));
        }),
        ([{ text, start }, pieces]) => {
          const scanner = new StreamScanner(OBSERVING, null, STREAM_WINDOW, 0, responseHold(OBSERVING, { enforce: true, policies: true }));
          let total = 0;
          for (const piece of pieces) {
            scanner.push([{ path: PATH_0, value: piece, stream: KEY_0 }]);
            total += piece.length;
            if (scanner.releasable(KEY_0) > start) {
              expect(scanner.findings.map((f) => [f.class, text.slice(f.location.start, f.location.end)])).toContainEqual(['pii.email', EMAIL]);
            }
          }
          expect(total).toBe(text.length);
        },
      ),
      RUNS,
    );
  });

  it('is built once per compiled set and mode', () => {
    const hold = responseHold(DLP, { enforce: true, policies: false });
    expect(responseHold(DLP, { enforce: true, policies: false })).toBe(hold);
    expect(responseHold(DLP, { enforce: true, policies: true })).not.toBe(hold);
  });
});

describe('StreamScanner: every built-in example', () => {
  const ALL_REDACT = compileDlp({ overrides: {}, patterns: [], allow: [], actions: { CRITICAL: 'redact', HIGH: 'redact', MEDIUM: 'redact', LOW: 'redact' } }, 'salt');

  it('streamed one character per event to a tenant that redacts every class, leaves no character of its value unredacted', () => {
    for (const d of BUILTIN_DETECTORS) {
      for (const ex of d.examples) {
        const whole = scan(ALL_REDACT, [{ path: PATH_0, text: ex.text, kind: 'message' }], 'response', null);
        if (!whole.some((f) => f.class === d.class && f.action === 'redact')) continue;
        const out = relay(new StreamScanner(ALL_REDACT, null), eventsOf(ex.text.split('')));
        expect(out.released.get(KEY_0), `${d.class}: ${ex.text}`).toBe(redactText(ex.text, whole));
      }
    }
  });

  it('pushed several events at a time (a proxy that fell behind reads them together), leaves the same', () => {
    for (const d of BUILTIN_DETECTORS) {
      for (const ex of d.examples) {
        const whole = scan(ALL_REDACT, [{ path: PATH_0, text: ex.text, kind: 'message' }], 'response', null);
        if (!whole.some((f) => f.class === d.class && f.action === 'redact')) continue;
        for (const together of [2, 5]) {
          const out = relay(new StreamScanner(ALL_REDACT, null), eventsOf(ex.text.split('')), together);
          expect(out.released.get(KEY_0), `${d.class} (${together} at a time): ${ex.text}`).toBe(redactText(ex.text, whole));
        }
      }
    }
  });
});

describe('StreamScanner: values found late', () => {
  const custom = (patterns: { name: string; pattern: string; severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW'; action?: 'block' | 'redact' | 'warn' }[]) =>
    // The tenant's patterns alone: no built-in's beginnings to hold the text for other reasons.
    compileDlp({
      overrides: Object.fromEntries(BUILTIN_DETECTORS.map((d) => [d.class, { enabled: false }])),
      patterns: patterns.map((p) => ({ ...p, type: 'regex' as const, appliesTo: 'both' as const, enabled: true })),
      allow: [],
    }, 'salt');
  /** What a scan of the whole text makes of it, as the agent would get it. */
  const wholeRedacted = (dlp: ReturnType<typeof compileDlp>, text: string) => redactText(text, scan(dlp, [{ path: PATH_0, text, kind: 'message' }], 'response', null).filter((f) => f.action === 'redact'));

  it('a stopping value another match outranks is held until later text has settled which one it is', () => {
    // ID-1234 is redacted, but while "ID-1234-abcdefgh" could be the (outranking, warn-only)
    // longer pattern it is not reported; the 9 that follows ends that one.
    const dlp = custom([
      { name: 'long-id', pattern: String.raw`ID-\d{4}-[a-z]{1,20}\b`, severity: 'CRITICAL', action: 'warn' },
      { name: 'short-id', pattern: String.raw`ID-\d{4}`, severity: 'LOW', action: 'redact' },
    ]);
    const text = 'Your code is ID-1234-abcdefgh9 thanks';
    const out = relay(new StreamScanner(dlp, null), eventsOf(['Your code is ID-1234', '-abcdefgh', '9 thanks']));
    expect(out.released.get(KEY_0)).toBe(wholeRedacted(dlp, text));
    expect(out.released.get(KEY_0)).not.toContain('1234');
  });

  it('a key block that matches only once its END line arrives (lines joined by blanks) is blocked before any of it leaves', () => {
    const key = pemKey(40).replace(/\n/g, ' ');
    const text = `Here you go: ${key} Keep it safe.`;
    const start = text.indexOf('-----BEGIN');
    expect(spans(blockingIn(text))).toEqual([['secret.private_key', start, start + key.length]]);
    expect(key.length).toBeGreaterThan(2 * STREAM_WINDOW);
    fc.assert(
      fc.property(chunking(text), (pieces) => {
        const out = relay(new StreamScanner(DLP, null), eventsOf(pieces));
        expect(out.blocked).toBe(true);
        expect((out.released.get(KEY_0) ?? '').length).toBeLessThanOrEqual(start);
      }),
      // Each run rescans the held key on every event: few runs, each cut anywhere.
      { numRuns: 10 },
    );
  });

  it('reads a pattern as RE2 does: an octal code under (?i)', () => {
    const dlp = custom([{ name: 'acme', pattern: String.raw`(?i)\101CME-\d{6}`, severity: 'HIGH', action: 'redact' }]);
    const text = 'ref acme-123456 ok';
    const out = relay(new StreamScanner(dlp, null), eventsOf(['ref acme-12345', '6 ok']));
    expect(out.released.get(KEY_0)).toBe('ref [REDACTED:custom.acme] ok');
    expect(wholeRedacted(dlp, text)).toBe('ref [REDACTED:custom.acme] ok');
  });

  it('a (?<value>…) group names the reported span, as (?P<value>…) does', () => {
    for (const group of ['(?<value>', '(?P<value>']) {
      const dlp = custom([{ name: 'serial', pattern: String.raw`key: ${group}[A-Z0-9]{12})`, severity: 'HIGH', action: 'redact' }]);
      const text = 'the key: ABCDEF123456 works';
      expect(wholeRedacted(dlp, text)).toBe('the key: [REDACTED:custom.serial] works');
      const out = relay(new StreamScanner(dlp, null), eventsOf(text.split('')));
      expect(out.released.get(KEY_0)).toBe('the key: [REDACTED:custom.serial] works');
    }
  });
});

describe('StreamScanner: matches that surface or vanish late', () => {
  const tenant = (longAction: 'warn' | 'record', shortAction: 'redact' | 'warn') =>
    compileDlp({
      overrides: Object.fromEntries(BUILTIN_DETECTORS.map((d) => [d.class, { enabled: false }])),
      patterns: [
        { name: 'long-id', type: 'regex', pattern: String.raw`ID-\d{4}-[a-z]+\b`, severity: 'CRITICAL', action: longAction, appliesTo: 'both', enabled: true },
        { name: 'short-id', type: 'regex', pattern: String.raw`ID-\d{4}`, severity: 'LOW', action: shortAction, appliesTo: 'both', enabled: true },
      ],
      allow: [],
    }, 'salt');
  const events = eventsOf(['Your code is ID-1234', '-' + 'a'.repeat(600), '9 thanks']);

  it('a value set aside by a match that vanishes more than a window later is still redacted', () => {
    const dlp = tenant('warn', 'redact');
    const out = relay(new StreamScanner(dlp, null), events);
    expect(out.released.get(KEY_0)).toBe(`Your code is [REDACTED:custom.short-id]-${'a'.repeat(600)}9 thanks`);
  });

  it('…and found, for a refusing policy and the trace, when nothing would stop it', () => {
    const dlp = tenant('warn', 'warn');
    const scanner = new StreamScanner(dlp, null, STREAM_WINDOW, 0, responseHold(dlp, { enforce: true, policies: true }));
    let releasedBeforeFound = false;
    for (const e of events) {
      scanner.push(e);
      if (scanner.releasable(KEY_0) > 13 && !scanner.findings.some((f) => f.class === 'custom.short-id')) releasedBeforeFound = true;
    }
    scanner.end();
    expect(releasedBeforeFound).toBe(false);
    expect(scanner.findings.map((f) => [f.class, f.location.start])).toContainEqual(['custom.short-id', 13]);
  });

  it('a region that starts inside a word does not see a value there (no boundary where the whole text has none)', () => {
    const jwt = join('eyJhbGciOiJIUzI1NiJ9', '.eyJzdWIiOiIxIn0', '.c2ln');
    const text = 'x' + jwt + ' '.repeat(2000) + 'end';
    expect(blockingIn(text)).toEqual([]);
    const out = relay(new StreamScanner(DLP, null), eventsOf(text.split('')));
    expect(out.blocked).toBe(false);
    expect(out.released.get(KEY_0)).toBe(text);
  });
});
