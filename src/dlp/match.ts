/**
 * The reference matcher: how one detector turns a text into candidates. The engine runs the
 * same function after its RE2.Set prefilter says a detector may hit, and the catalog tests run
 * it on every example, so what the tests prove is what the proxy does.
 */
import RE2 from 're2';
import { maxLength, parsePattern } from './pattern-syntax.js';
import type { Detector, Severity } from './types.js';

export interface Candidate {
  /** UTF-16 index of the value in the text (JavaScript string index). */
  start: number;
  end: number;
  value: string;
  /** 0 < confidence ≤ 1. */
  confidence: number;
}

/** Confidence used when a detector has no `confidence` function and its checks passed. */
export const DEFAULT_CONFIDENCE = 0.9;

/**
 * At or below this confidence a candidate is a stand-in (placeholder, documentation key, masked
 * value): the engine reports it at severity LOW whatever the detector's default severity, so it
 * is recorded (and visible) but never blocks or warns. Above it, the detector's severity applies.
 */
export const LOW_CONFIDENCE = 0.3;

/** The severity a finding is reported at: LOW for low-confidence candidates, else the given one. */
export function effectiveSeverity(severity: Severity, confidence: number): Severity {
  return confidence <= LOW_CONFIDENCE ? 'LOW' : severity;
}

const compiled = new WeakMap<Detector, RE2>();
const keywordTests = new WeakMap<Detector, RegExp>();

/**
 * The keyword prefilter as one case-insensitive search, cached per detector: the same answer as
 * `text.toLowerCase().includes(k)` for some keyword, without copying the text (lower-casing every
 * message cost 7% of the engine's time on mixed traffic).
 */
function keywordTest(detector: Detector): RegExp {
  let re = keywordTests.get(detector);
  if (!re) {
    const words = detector.keywords!.map((k) => k.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    re = new RegExp(words.join('|'), 'iu');
    keywordTests.set(detector, re);
  }
  return re;
}

/**
 * The detector's pattern compiled for extraction: global, plus group indices (`d`) only when the
 * pattern has a `value` group (indices cost time on every match). Cached per detector object.
 */
export function compileDetector(detector: Detector): RE2 {
  let re = compiled.get(detector);
  if (!re) {
    const extra = (detector.flags ?? '').replace(/[gdy]/g, '');
    const indices = /\(\?P?<value>/.test(detector.pattern) ? 'd' : '';
    re = new RE2(detector.pattern, 'g' + indices + extra);
    compiled.set(detector, re);
  }
  return re;
}

/**
 * The RE2 source the engine's Set prefilter uses for this detector (see `Detector.prefilter`).
 * For a detector that needs a context word, the words themselves: its pattern alone (nine
 * digits, six letters and digits) matches in most texts and burdens the Set's DFA, while the
 * words are rare. Boundaries are ASCII and looser than `hasContext`'s, so the prefilter matches
 * wherever a context word counts.
 */
export function prefilterSource(detector: Detector): string {
  if (detector.prefilter) return detector.prefilter;
  if (!detector.context) return detector.pattern;
  const words = detector.context.words.map((w) => {
    const prefix = w.endsWith('*');
    const word = (prefix ? w.slice(0, -1) : w).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const left = /^[\p{L}\p{N}]/u.test(word) ? '(?:^|[^a-z0-9])' : '';
    const right = !prefix && /[\p{L}\p{N}]$/u.test(word) ? '(?:$|[^a-z0-9])' : '';
    return left + word + right;
  });
  return `(?i)(?:${words.join('|')})`;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * Whether one of the context words occurs, as a whole word (or as a prefix when written with a
 * trailing `*`), within `window` characters before `start`. Case-insensitive.
 */
export function hasContext(
  text: string,
  start: number,
  context: NonNullable<Detector['context']>,
): boolean {
  const from = Math.max(0, start - context.window);
  const before = text.slice(from, start).toLowerCase();
  for (const raw of context.words) {
    const prefix = raw.endsWith('*');
    const word = (prefix ? raw.slice(0, -1) : raw).toLowerCase();
    for (let i = before.indexOf(word); i !== -1; i = before.indexOf(word, i + 1)) {
      const left = i === 0 ? (text[from - 1] ?? '') : before[i - 1]!;
      const j = i + word.length;
      const right = j < before.length ? before[j]! : (text[start] ?? '');
      // Boundaries matter only where the word itself begins or ends with a letter or digit
      // ("ss#" may touch the number that follows it).
      if (WORD_CHAR.test(word[0]!) && WORD_CHAR.test(left)) continue;
      if (!prefix && WORD_CHAR.test(word[word.length - 1]!) && WORD_CHAR.test(right)) continue;
      return true;
    }
  }
  return false;
}

/**
 * Every candidate of `detector` in `text`: leftmost non-overlapping pattern matches (the `value`
 * group when the pattern has one), kept when the keyword prefilter, context words and validator
 * pass and the confidence is above 0. `lowerText` is `text.toLowerCase()` when the caller has it.
 */
export function findCandidates(detector: Detector, text: string, lowerText?: string, subject: Subject = stringSubject(text)): Candidate[] {
  if (detector.keywords && detector.keywords.length > 0) {
    if (lowerText !== undefined) {
      if (!detector.keywords.some((k) => lowerText.includes(k.toLowerCase()))) return [];
    } else if (!keywordTest(detector).test(text)) {
      return [];
    }
  }
  const re = compileDetector(detector);
  re.lastIndex = 0;
  const out: Candidate[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(subject.input as string)) !== null) {
    const whole = subject.str(m[0]);
    if (whole.length === 0) {
      re.lastIndex++;
      continue;
    }
    const group = m.indices?.groups?.value;
    const groupValue = m.groups?.value;
    let value = groupValue === undefined ? whole : subject.str(groupValue);
    let start = subject.toChar(group ? group[0] : m.index);
    if (detector.valuePrefix) {
      const prefix = detector.valuePrefix.exec(whole);
      if (!prefix) continue;
      start = subject.toChar(m.index) + prefix[0].length;
      value = whole.slice(prefix[0].length);
    }
    if (value === '' || value === undefined) continue;
    if (detector.context && !hasContext(text, start, detector.context)) continue;
    if (detector.validate && !detector.validate(value)) continue;
    const raw = detector.confidence ? detector.confidence(value, text, start) : DEFAULT_CONFIDENCE;
    if (!(raw > 0)) continue;
    out.push({ start, end: start + value.length, value, confidence: Math.min(1, raw) });
  }
  return out;
}

/**
 * What the RE2 programs read for one text. node-re2 converts a JavaScript string to UTF-8 on
 * every call — a few microseconds per kilobyte, once for each prefilter Set and again for each
 * detector that runs. A text of some size is converted once instead, and RE2 answers on its
 * bytes: match values come back as Buffers and offsets in bytes, mapped back to the string's
 * UTF-16 offsets here (the identity for ASCII; a table built on first use otherwise).
 */
export interface Subject {
  input: string | Buffer;
  /** A match value as a string. */
  str(x: unknown): string;
  /** A match offset as an offset into the string. */
  toChar(offset: number): number;
}

const identity = (n: number) => n;

export function stringSubject(text: string): Subject {
  return { input: text, str: (x) => x as string, toChar: identity };
}

/** Below this size converting once saves less than building the subject costs. */
const BYTES_FROM = 256;
/**
 * Above this size a detector reads the string: a match on bytes costs a Buffer or two more, and
 * a large text (a pasted log, a hostile input) can hold tens of thousands of matches, while one
 * conversion of it is cheap next to them.
 */
export const EXTRACT_BYTES_UP_TO = 64 * 1024;

export function scanSubject(text: string): Subject {
  if (text.length < BYTES_FROM) return stringSubject(text);
  const input = Buffer.from(text, 'utf8');
  if (input.length === text.length) return { input, str: (x) => (x as Buffer).toString('latin1'), toChar: identity };
  let table: Int32Array | undefined;
  return {
    input,
    str: (x) => (x as Buffer).toString('utf8'),
    toChar: (offset) => (table ??= byteToChar(text, input.length))[offset]!,
  };
}

/** For each UTF-8 byte offset that starts a character (and the end), the UTF-16 offset. */
function byteToChar(text: string, bytes: number): Int32Array {
  const table = new Int32Array(bytes + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    table[b] = i;
    const c = text.charCodeAt(i);
    if (c < 0x80) b += 1;
    else if (c < 0x800) b += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A surrogate pair is one 4-byte character; its low half starts no byte.
        b += 4;
        i++;
        continue;
      }
      b += 3;
    } else b += 3;
  }
  table[b] = text.length;
  return table;
}

/**
 * The most UTF-16 code units a match of this RE2 pattern can span, or Infinity when it has an
 * unbounded repetition (`*`, `+`, `{n,}`). Counts any character class that can match outside
 * the Basic Multilingual Plane (negated classes, `.`, `\P…`, `\p…`) as 2.
 */
export function maxMatchLength(pattern: string): number {
  return maxLength(parsePattern(pattern));
}

/** The longest value this detector can report: its declared `maxLength`, else the pattern's bound. */
export function detectorMaxLength(detector: Detector): number {
  return detector.maxLength ?? maxMatchLength(detector.pattern);
}
