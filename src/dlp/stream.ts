import { createHash, type Hash } from 'node:crypto';
import RE2 from 're2';
import type { TextDelta } from '../dialects/stream.js';
import { scan, type CompiledDlp, type CompiledEntry, type Finding } from './engine.js';
import { fromValue, parsePattern, prefixSource, source } from './pattern-syntax.js';
import { marker, redactText } from './redact.js';

/**
 * Incremental response DLP for streams (SPEC §6 "Streams"). Text arrives as deltas per stream key
 * (one choice's content, one tool call's arguments …). The scanner keeps, per key, the text not
 * yet released plus two windows before it, and after each piece scans what is held with that
 * context.
 * The relay holds back any event whose text reaches into the newest text that could still be the
 * beginning of a value (see `TailHold`): a value split across any number of events is seen whole
 * before its first character is released, while ordinary prose leaves a word behind at most.
 *
 * Values that can be longer than the window (a PEM private key is kilobytes) are caught by their
 * beginning: a stopping match (block or redact) that still reaches the newest character is
 * "open", and nothing from its start on is released until it ends — so only such a value, never
 * ordinary text, is held longer than the window.
 */
export const STREAM_WINDOW = 512;

/** Longest open match held back, in characters: beyond it the value is judged as it stands. */
const MAX_OPEN = 64 * 1024;

/**
 * Longest beginning held back that is not yet a match (a key block whose lines are joined by
 * blanks matches only at its END line): each event rescans what is held, so this bounds that
 * work, about 4 K characters a scan.
 */
const MAX_HELD = 4096;

/** Characters read before a scan's region, for the boundaries at its start (context words sit in the region). */
const LEAD = 64;

interface Span {
  start: number;
  end: number;
  class: string;
}

interface KeyState {
  /** Text from absolute offset `base` to the newest character. */
  text: string;
  base: number;
  /** SHA-256 of the text before `base` (trimmed away), to tell a repeat of the key's text from another text. */
  trimmed: Hash | null;
  total: number;
  path: string;
  /** Start of the earliest stopping match that may still grow; null when there is none. */
  open: number | null;
  /** The key's text is complete (its final form was announced, or the stream ended). */
  closed: boolean;
  /** Where the last scan's region began: the final scan re-reads it with the same context. */
  lastFrom: number;
  /** What may be released (absolute): before the earliest text that may still become, or is, a value. */
  releasable: number;
  /** Matches set aside by an overlapping one that may still vanish: reported when they surface, however late. */
  unsettled: Set<string>;
  /** Redacted spans, absolute, sorted and merged. */
  redact: Span[];
  /** When recording: the key's text from its start (bounded), and every finding's span in it. */
  full: string;
  found: Span[];
}

/** What a compiled set's response findings can do to a stream. */
interface ResponseStops {
  /**
   * Classes that can stop a stream (block or redact) at full confidence, with the longest value
   * each can have: their matches are held until they cannot grow any more.
   */
  classes: Map<string, number>;
  /** Every action a response finding can get: its entry's, or LOW's for a low-confidence match. */
  actions: Set<string>;
}

/** Per compiled set, built once (with its hold, at each reload) rather than on every stream. */
const STOPS = new WeakMap<CompiledDlp, ResponseStops>();

function responseStops(dlp: CompiledDlp): ResponseStops {
  const cached = STOPS.get(dlp);
  if (cached) return cached;
  const out: ResponseStops = { classes: new Map(), actions: new Set() };
  STOPS.set(dlp, out);
  for (const e of dlp.entries) {
    if (e.appliesTo === 'request') continue;
    const action = e.action ?? dlp.actions[e.severity];
    out.actions.add(action).add(dlp.actions.LOW);
    if (action === 'block' || action === 'redact') out.classes.set(e.class, Math.max(out.classes.get(e.class) ?? 0, Math.min(e.maxLength, MAX_OPEN)));
  }
  return out;
}

/**
 * Which texts may still grow into a value, so must not leave yet: for every detector that matters,
 * the prefixes of its pattern (`prefixSource`), and its whole matches followed by up to
 * `AFTER_MATCH` characters (a detector's confidence may read that far past a value: a card number
 * glued to more digit groups is none). The earliest position from which the rest of the text is
 * such a beginning is held back; everything before it can no longer be part of a value that is
 * not already found. A beginning of a stopping class is held up to `MAX_HELD` characters (once it
 * is a match, `open` holds it up to `MAX_OPEN`); those that matter only to response-stage
 * policies or at low confidence no longer than the window, as before.
 */
export interface TailHold {
  /** `window`: a pattern could not be read, so the whole window is held, as before. */
  readonly kind: 'prefix' | 'window';
  /** Index in `tail` (the text not yet releasable, to its newest character) where holding must begin. */
  heldFrom(tail: string): number;
}

/** Characters past a value that a built-in confidence rule reads (detectors/shared.ts: at most 2). */
const AFTER_MATCH = 4;

function entryHold(entries: readonly CompiledEntry[]): RE2 | null {
  if (entries.length === 0) return null;
  const nodes = entries.map((e) => fromValue(parsePattern(e.pattern.source, e.pattern.flags)));
  return new RE2(`(?:${nodes.map(prefixSource).join('|')}|(?:${nodes.map(source).join('|')})(?s:.){0,${AFTER_MATCH}})\\z`, 'u');
}

class PrefixHold implements TailHold {
  readonly kind = 'prefix';

  constructor(
    private readonly long: RE2 | null,
    private readonly short: RE2 | null,
    private readonly window: number,
  ) {}

  heldFrom(tail: string): number {
    let from = tail.length;
    const a = this.long?.exec(tail);
    if (a) from = Math.max(a.index, tail.length - MAX_HELD);
    const b = this.short?.exec(tail);
    if (b) from = Math.min(from, Math.max(b.index, tail.length - this.window));
    return from;
  }
}

/** A pattern the prefix construction does not read: the whole window is held, as it always was. */
class WindowHold implements TailHold {
  readonly kind = 'window';

  constructor(private readonly window: number) {}

  heldFrom(tail: string): number {
    return Math.max(0, tail.length - this.window);
  }
}

const HOLDS = new WeakMap<CompiledDlp, Map<string, TailHold>>();

/**
 * What this tenant's answers must hold back, or null when nothing can stop or rewrite the text:
 * its stopping classes' beginnings while a class redacts responses, or blocks them when blocking
 * is enforced; and every class's, up to the window, when anything may act on any finding —
 * response-stage policies that refuse (`policies`), or low-confidence matches (judged at LOW)
 * that redact or block. A tenant whose response DLP only warns or records (an observe-first
 * rollout, or detectors switched off) streams as the upstream does; its findings are still
 * recorded.
 */
export function responseHold(dlp: CompiledDlp, opts: { enforce: boolean; policies: boolean }, window = STREAM_WINDOW): TailHold | null {
  const { actions, classes } = responseStops(dlp);
  const stops = (a: string) => a === 'redact' || (opts.enforce && a === 'block');
  const lowStops = stops(dlp.actions.LOW);
  if (!opts.policies && !lowStops && !actions.has('redact') && !(opts.enforce && actions.has('block'))) return null;
  const every = opts.policies || lowStops;
  const key = `${opts.enforce}:${every}:${window}`;
  let cache = HOLDS.get(dlp);
  if (!cache) HOLDS.set(dlp, (cache = new Map()));
  let hold = cache.get(key);
  if (!hold) {
    const response = dlp.entries.filter((e) => e.appliesTo !== 'request');
    const long = response.filter((e) => classes.has(e.class) && stops(e.action ?? dlp.actions[e.severity]));
    const short = every ? response.filter((e) => !long.includes(e)) : [];
    try {
      hold = new PrefixHold(entryHold(long), entryHold(short), window);
    } catch {
      hold = new WindowHold(window);
    }
    cache.set(key, hold);
  }
  return hold;
}

export class StreamScanner {
  private readonly keys = new Map<string, KeyState>();
  private readonly seen = new Set<string>();
  private readonly stopping: Map<string, number>;
  /** Redactions (maybe none) of repeats that were not their key's text, scanned on their own (see `echo`), by key and text. */
  private readonly echoRedactions = new Map<string, Finding[]>();
  private recorded = 0;
  readonly findings: Finding[] = [];

  /**
   * `recordChars`: keep up to that many characters of text, over all keys, for `recordedTexts()`.
   * `hold`: what is kept back from release (see `responseHold`; null: nothing); the scan's
   * context is `window` whatever it is.
   */
  constructor(
    private readonly dlp: CompiledDlp,
    private readonly agentId: string | null,
    readonly window = STREAM_WINDOW,
    private readonly recordChars = 0,
    private readonly hold: TailHold | null = responseHold(dlp, { enforce: true, policies: false }, window),
  ) {
    this.stopping = responseStops(dlp).classes;
  }

  /**
   * Adds deltas (one event's, or every event's that arrived together); returns, for each, the
   * absolute end offset within its key. Each key they touch is scanned once, as if its deltas
   * were one: the scan reads about two windows whatever the delta's size, so a proxy that falls
   * behind (several events per read) scans less per event, not more.
   */
  push(deltas: readonly TextDelta[]): { key: string; end: number }[] {
    const ends: { key: string; end: number }[] = [];
    /** Each key touched, with where its text ended before these deltas. */
    const touched = new Map<string, number>();
    for (const d of deltas) {
      let k = this.keys.get(d.stream);
      if (!k) {
        k = { text: '', base: 0, trimmed: null, total: 0, path: d.path, open: null, closed: false, lastFrom: 0, releasable: 0, unsettled: new Set(), redact: [], full: '', found: [] };
        this.keys.set(d.stream, k);
      }
      if (this.recorded < this.recordChars) {
        const piece = d.value.slice(0, this.recordChars - this.recorded);
        k.full += piece;
        this.recorded += piece.length;
      }
      if (k.closed) {
        // Text after the key's end (an upstream that repeated it whole, then went on): what came
        // before was judged whole; what follows is held and scanned like any text.
        k.closed = false;
        k.releasable = Math.max(k.releasable, k.total);
      }
      if (!touched.has(d.stream)) touched.set(d.stream, k.total);
      k.text += d.value;
      k.total += d.value.length;
      k.path = d.path;
      ends.push({ key: d.stream, end: k.total });
    }
    for (const [key, scannedUpTo] of touched) this.judgeTail(key, this.keys.get(key)!, scannedUpTo);
    return ends;
  }

  /** Scans a key's new text (from `scannedUpTo`) and moves what may be released. */
  private judgeTail(key: string, k: KeyState, scannedUpTo: number): void {
    this.scanTail(key, k, scannedUpTo);
    // Only the text after what was releasable before can be the beginning of a value: anything
    // earlier was judged then (a value under way would have been held from its start).
    // While an open match starts there (a key block under way), nothing more can leave.
    const from = Math.max(k.base, k.releasable);
    if (k.open === null || k.open > from) {
      const held = this.hold ? from + this.hold.heldFrom(k.text.slice(from - k.base)) : k.total;
      k.releasable = Math.max(k.releasable, Math.min(held, k.open ?? Infinity));
    }
    // Keep two windows (one of context for matches, one of slack so trimming is rare), an open
    // match whole, and what is held.
    if (k.text.length > 4 * this.window) {
      const keepFrom = Math.min(k.total - 2 * this.window, k.open ?? Infinity, k.lastFrom, k.releasable);
      if (keepFrom > k.base) {
        (k.trimmed ??= createHash('sha256')).update(k.text.slice(0, keepFrom - k.base), 'utf16le');
        k.text = k.text.slice(keepFrom - k.base);
        k.base = keepFrom;
      }
    }
  }

  /** Characters of a key that may be released now. */
  releasable(key: string): number {
    const k = this.keys.get(key);
    if (!k) return 0;
    return k.closed ? k.total : k.releasable;
  }

  /** Every finding so far that must stop the stream. */
  blocking(): Finding[] {
    return this.findings.filter((f) => f.action === 'block');
  }

  /**
   * A key's whole text, repeated at its end (Responses API `.done` events), before the key is
   * ended. What it carries beyond the deltas (an upstream may send a text only whole) is pushed
   * like a delta. A repeat that is not the deltas' text — no conforming upstream sends one — is
   * scanned whole on its own: its findings count (a blocking one stops the stream) and its
   * redactions are applied when it is rewritten. So no repeated text reaches the agent unscanned.
   */
  echo(echo: TextDelta): void {
    const k = this.keys.get(echo.stream);
    if (!k || this.repeats(k, echo.value)) {
      const seen = k?.total ?? 0;
      if (echo.value.length > seen) this.push([{ ...echo, value: echo.value.slice(seen) }]);
      return;
    }
    const found = scan(this.dlp, [{ path: echo.path, text: echo.value, kind: 'message' }], 'response', this.agentId);
    const known = new Set(this.findings.map((f) => `${f.class} ${f.hash} ${f.action}`));
    for (const f of found) if (!known.has(`${f.class} ${f.hash} ${f.action}`)) this.findings.push(f);
    // Kept even when empty: the key's spans are offsets into another text and must not apply.
    this.echoRedactions.set(echoKey(echo.stream, echo.value), found.filter((f) => f.action === 'redact'));
  }

  /** Whether `value` begins with exactly the text the key's deltas carried. */
  private repeats(k: KeyState, value: string): boolean {
    if (value.length < k.total || value.slice(k.base, k.total) !== k.text) return false;
    if (k.base === 0) return true;
    const prefix = createHash('sha256').update(value.slice(0, k.base), 'utf16le').digest('base64');
    return k.trimmed !== null && k.trimmed.copy().digest('base64') === prefix;
  }

  /** The key's text is complete (a `.done` event repeated it whole): judge its tail now. */
  endKey(key: string): void {
    const k = this.keys.get(key);
    if (!k || k.closed) return;
    this.scanTail(key, k, k.total, true);
    k.closed = true;
  }

  /** The stream ended: matches touching the end of a key's text are complete now. */
  end(): void {
    for (const key of this.keys.keys()) this.endKey(key);
  }

  /**
   * The text of a delta that covered `[start, start + value.length)` of a key, as the agent may
   * see it: each redacted span becomes its marker, written where the span begins (a span begun
   * in an earlier delta leaves only its removal here). The spans are known by the time the
   * delta is releasable.
   */
  rewrite(key: string, start: number, value: string): string {
    const spans = this.keys.get(key)?.redact;
    if (!spans || spans.length === 0) return value;
    const end = start + value.length;
    let out = '';
    let at = start;
    for (const s of spans) {
      if (s.end <= start || s.start >= end) continue;
      const from = Math.max(s.start, start);
      out += value.slice(at - start, from - start);
      if (s.start >= start) out += marker(s.class);
      at = Math.min(s.end, end);
    }
    return out === '' && at === start ? value : out + value.slice(at - start);
  }

  /** A key's whole text repeated at the end (Responses API `.done` events), redacted as its deltas were. */
  rewriteWhole(key: string, value: string): string {
    const own = this.echoRedactions.get(echoKey(key, value));
    if (own) return own.length > 0 ? redactText(value, own) : value;
    const spans = this.keys.get(key)?.redact;
    if (!spans || spans.length === 0) return value;
    return redactText(value, spans.map((s) => ({ class: s.class, location: { path: '', start: s.start, end: s.end } })));
  }

  /** Whether releasing a delta of `key` over `[start, end)` changes its text. */
  redacts(key: string, start: number, end: number): boolean {
    const spans = this.keys.get(key)?.redact;
    return !!spans && spans.some((s) => s.start < end && s.end > start);
  }

  /**
   * What was recorded of each key's text, with every finding (whatever its action) replaced by
   * its marker: the answer as a trace may store it. A span cut by the recording bound is
   * redacted up to the cut. Call after `end()`.
   */
  recordedTexts(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, k] of this.keys) {
      const spans = k.found.filter((s) => s.start < k.full.length).map((s) => ({ class: s.class, location: { path: '', start: s.start, end: Math.min(s.end, k.full.length) } }));
      out[key] = redactText(k.full, spans);
    }
    return out;
  }

  /** Whether a repeat of a key's text must be rewritten: the key has redactions, or the repeat its own. */
  rewritesWhole(key: string, value: string): boolean {
    const own = this.echoRedactions.get(echoKey(key, value));
    return own ? own.length > 0 : (this.keys.get(key)?.redact.length ?? 0) > 0;
  }

  /**
   * Scans what is held and the new text, with two windows of context before it (or from an open
   * match), and judges what is complete:
   * - a match of a class that can stop the stream (block, redact) is judged once `window`
   *   characters follow it and the text from its start is as long as the class's longest value:
   *   until then it may still grow (a longer number, the rest of a key block — whose first lines
   *   alone may not yet look like a key), so it is open and nothing from its start is released;
   * - any other match is judged once anything follows it; it holds nothing back.
   * A match the previous scan, which saw more context, could already judge is not judged again:
   * here the region may start inside a longer token, whose tail (digits after more digits) is no
   * value.
   *
   * The region reaches back over everything still held (and two windows of context before it),
   * so a value that only matches once it is whole is read whole. A match that an outranking
   * overlapping match set aside (`resolveOverlaps`) stays unsettled until both are judged — held
   * open when it could stop the stream or the tenant holds anything — since later text may remove
   * the other and leave it; it is reported whenever it surfaces.
   */
  private scanTail(key: string, k: KeyState, newFrom: number, final = false): void {
    const w = this.window;
    // The final scan reads the last region again: a region starting anywhere else could begin
    // inside a token (digits after more digits) whose tail would pass for a value.
    const from = final ? Math.max(k.base, k.lastFrom) : Math.max(k.base, Math.min(k.releasable - 2 * w, k.open ?? Infinity));
    k.lastFrom = from;
    // A little text before the region is read too, so that a boundary (\b, a preceding character)
    // at its start is judged as in the whole text; matches that start in it are not the region's.
    const lead = Math.min(LEAD, from - k.base);
    const at = from - lead;
    const region = k.text.slice(at - k.base);
    const inRegion = (f: Finding) => f.location.start >= lead;
    const complete = (start: number, end: number, longest: number, total: number) => (end <= total - w && total - start >= longest) || total - start > MAX_OPEN;
    let open: number | null = null;
    const shadowed: Finding[] = [];
    const found = scan(this.dlp, [{ path: k.path, text: region, kind: 'message' }], 'response', this.agentId, { shadowed }).filter(inRegion);
    if (!final) {
      for (const f of shadowed) {
        if (!inRegion(f)) continue;
        const start = at + f.location.start;
        // Judged once it and every match that outranked it are: until then later text may remove
        // the other and leave it, and it is then reported whenever that happens.
        const end = at + found.reduce((e, o) => (o.location.start < f.location.end && o.location.end > f.location.start ? Math.max(e, o.location.end) : e), f.location.end);
        const longest = this.stopping.get(f.class);
        const id = `${key}:${start}:${f.class}`;
        if (complete(start, end, longest ?? 0, k.total)) {
          k.unsettled.delete(id);
          continue;
        }
        k.unsettled.add(id);
        // Held while unsettled if it could stop the stream, or a policy may need it whole.
        if (longest !== undefined || this.hold !== null) open = Math.min(open ?? Infinity, start);
      }
    }
    for (const f of found) {
      const start = at + f.location.start;
      const end = at + f.location.end;
      const id = `${key}:${start}:${f.class}`;
      const surfaced = k.unsettled.delete(id);
      const longest = this.stopping.get(f.class);
      if (longest !== undefined) {
        if (!final && !complete(start, end, longest, k.total)) {
          open = Math.min(open ?? Infinity, start);
          continue;
        }
        // Judged by the previous scan, which saw more context (at the end: by the last scan).
        if (!surfaced && complete(start, end, longest, newFrom)) continue;
      } else {
        if (!final && end >= k.total) {
          if (surfaced) k.unsettled.add(id);
          continue;
        }
        if (!surfaced && end < newFrom) continue;
      }
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      this.findings.push({ ...f, location: { path: k.path, start, end } });
      if (f.action === 'redact') addSpan(k.redact, { start, end, class: f.class });
      if (this.recordChars > 0) k.found.push({ start, end, class: f.class });
    }
    k.open = open;
  }
}

function echoKey(key: string, value: string): string {
  return `${key}\u0000${value}`;
}

/** Adds a span to a sorted list of disjoint spans, merging those it overlaps (the earliest one's class names the union). */
function addSpan(spans: Span[], s: Span): void {
  const before = spans.filter((x) => x.end <= s.start);
  const after = spans.filter((x) => x.start >= s.end);
  const merged = spans
    .filter((x) => x.end > s.start && x.start < s.end)
    .reduce((m, x) => ({ start: Math.min(m.start, x.start), end: Math.max(m.end, x.end), class: x.start < m.start ? x.class : m.class }), s);
  spans.splice(0, spans.length, ...before, merged, ...after);
}
