import type { TextDelta } from '../dialects/stream.js';
import { scan, type CompiledDlp, type Finding } from './engine.js';

/**
 * Incremental response DLP for streams (SPEC §6 "Streams"). Text arrives as deltas per stream key
 * (one choice's content, one tool call's arguments …). The scanner keeps, per key, the text not
 * yet released plus `window` characters before it, and scans each new piece with that context.
 * The relay holds back any event whose text ends within `window` characters of the newest text,
 * so a value of up to `window` characters split across any number of events is seen whole
 * before its first character is released.
 */
export const STREAM_WINDOW = 512;

interface KeyState {
  /** Text from absolute offset `base` to the newest character. */
  text: string;
  base: number;
  total: number;
  path: string;
}

export class StreamScanner {
  private readonly keys = new Map<string, KeyState>();
  private readonly seen = new Set<string>();
  readonly findings: Finding[] = [];

  constructor(
    private readonly dlp: CompiledDlp,
    private readonly agentId: string | null,
    readonly window = STREAM_WINDOW,
  ) {}

  /** Adds one event's deltas; returns, for each, the absolute end offset within its key. */
  push(deltas: readonly TextDelta[]): { key: string; end: number }[] {
    const ends: { key: string; end: number }[] = [];
    for (const d of deltas) {
      let k = this.keys.get(d.stream);
      if (!k) {
        k = { text: '', base: 0, total: 0, path: d.path };
        this.keys.set(d.stream, k);
      }
      const scannedUpTo = k.total;
      k.text += d.value;
      k.total += d.value.length;
      k.path = d.path;
      this.scanTail(d.stream, k, scannedUpTo);
      // Keep two windows: one of context for matches, one of slack so trimming is rare.
      if (k.text.length > 4 * this.window) {
        const drop = k.text.length - 2 * this.window;
        k.text = k.text.slice(drop);
        k.base += drop;
      }
      ends.push({ key: d.stream, end: k.total });
    }
    return ends;
  }

  /** Characters of a key that may be released now. */
  releasable(key: string): number {
    const k = this.keys.get(key);
    return k ? Math.max(0, k.total - this.window) : 0;
  }

  /** Every finding so far that must stop the stream (redact counts: deltas are not rewritten in flight). */
  blocking(): Finding[] {
    return this.findings.filter((f) => f.action === 'block' || f.action === 'redact');
  }

  /** The stream ended: matches touching the end of a key's text are complete now. */
  end(): void {
    for (const [key, k] of this.keys) this.scanTail(key, k, k.total, true);
  }

  /**
   * Scans from `window` characters before the new text to its end. A match that reaches the
   * newest character may still grow (a longer number, a longer address), so it is judged on a
   * later piece or at the end — its characters are held back meanwhile anyway.
   */
  private scanTail(key: string, k: KeyState, newFrom: number, final = false): void {
    const from = Math.max(k.base, newFrom - this.window);
    const region = k.text.slice(from - k.base);
    for (const f of scan(this.dlp, [{ path: k.path, text: region, kind: 'message' }], 'response', this.agentId)) {
      const start = from + f.location.start;
      const end = from + f.location.end;
      if (!final && end >= k.total) continue;
      // Ending before the new text: judged by an earlier scan with more context. Here the region
      // may start inside a longer token, whose tail (digits after more digits) is no value.
      if (end < newFrom) continue;
      const id = `${key}:${start}:${f.class}`;
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      this.findings.push({ ...f, location: { path: k.path, start, end } });
    }
  }
}
