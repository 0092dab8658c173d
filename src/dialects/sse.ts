/**
 * An incremental Server-Sent Events parser (WHATWG HTML, "event stream interpretation") that also
 * keeps the exact bytes of every event, so the proxy can forward what it does not change byte for
 * byte and rewrite only what it must.
 *
 * Lines are found on bytes: CR and LF never occur inside a UTF-8 multi-byte sequence, so a
 * character split across chunks is decoded only once its line is complete, and no streaming
 * decoder state is needed.
 */

export interface SseEvent {
  /** Value of the last `event:` field, null when the block had none (clients then say "message"). */
  event: string | null;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** Value of the last `id:` field in this block, null when it had none. */
  id: string | null;
  /** The exact bytes of the block, its terminating blank line included. */
  raw: Uint8Array;
  /**
   * The block has no field at all: only comments (`: ping`) or a stray blank line. Forward it
   * as is; there is nothing to interpret.
   */
  comment: boolean;
  /** Returned by end(): the stream stopped before this block's blank line. Clients discard such a block. */
  incomplete: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export class SseParser {
  /** Bytes of the block being read, up to the end of the last chunk (copies, never the caller's buffers). */
  private rawParts: Uint8Array[] = [];
  /** Bytes of the line being read, before its terminator. */
  private lineParts: Uint8Array[] = [];
  /** The last byte seen was a CR: an LF right after it belongs to the same line break. */
  private afterCR = false;
  /**
   * A blank line ended with a CR that was the last byte received. The block is complete, but
   * whether its raw bytes end in CR or CRLF is only known from the next byte; holding it until
   * then keeps every event's `raw` the same however the stream is split.
   */
  private held = false;
  private atStart = true;
  private eventType: string | null = null;
  private dataLines: string[] | null = null;
  private id: string | null = null;
  private fields = 0;

  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    let i = 0;
    let blockStart = 0;
    if (chunk.length === 0) return out;
    if (this.held) {
      if (chunk[0] === LF) i = 1;
      this.rawParts.push(chunk.slice(0, i));
      out.push(this.emit(false));
      blockStart = i;
      this.afterCR = false;
    } else if (this.afterCR) {
      if (chunk[0] === LF) i = 1;
      this.afterCR = false;
    }
    let lineStart = i;
    for (; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== LF && b !== CR) continue;
      this.lineParts.push(chunk.subarray(lineStart, i));
      const line = this.takeLine();
      let end = i + 1;
      if (b === CR) {
        if (end < chunk.length) {
          if (chunk[end] === LF) end++;
        } else {
          this.afterCR = true;
        }
      }
      if (line.length === 0) {
        this.rawParts.push(chunk.slice(blockStart, end));
        blockStart = end;
        if (this.afterCR) {
          this.held = true;
          return out;
        }
        out.push(this.emit(false));
      } else {
        this.field(line);
      }
      lineStart = end;
      i = end - 1;
    }
    if (lineStart < chunk.length) this.lineParts.push(chunk.slice(lineStart));
    if (blockStart < chunk.length) this.rawParts.push(chunk.slice(blockStart));
    return out;
  }

  /** Flushes what the stream left: a held block, or a block cut before its blank line. */
  end(): SseEvent[] {
    this.afterCR = false;
    if (this.held) return [this.emit(false)];
    if (this.lineParts.length > 0) {
      const line = this.takeLine();
      if (line.length > 0) this.field(line);
    }
    const pending = this.rawParts.some((p) => p.length > 0);
    if (!pending) {
      this.reset();
      return [];
    }
    return [this.emit(true)];
  }

  private takeLine(): Uint8Array {
    let line = concat(this.lineParts);
    this.lineParts = [];
    if (this.atStart) {
      // A byte order mark is allowed before the first line only; `raw` keeps it.
      if (line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
      this.atStart = false;
    }
    return line;
  }

  private field(bytes: Uint8Array): void {
    const line = decoder.decode(bytes);
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    this.fields++;
    if (name === 'event') this.eventType = value;
    else if (name === 'data') (this.dataLines ??= []).push(value);
    else if (name === 'id' && !value.includes('\0')) this.id = value;
  }

  private emit(incomplete: boolean): SseEvent {
    const ev: SseEvent = {
      event: this.eventType,
      data: this.dataLines ? this.dataLines.join('\n') : '',
      id: this.id,
      raw: concat(this.rawParts.filter((p) => p.length > 0)),
      comment: this.fields === 0,
      incomplete,
    };
    this.reset();
    return ev;
  }

  private reset(): void {
    this.rawParts = [];
    this.lineParts = [];
    this.held = false;
    this.eventType = null;
    this.dataLines = null;
    this.id = null;
    this.fields = 0;
  }
}

const encoder = new TextEncoder();
const LINE_BREAK = /[\r\n]/;

/**
 * Canonical bytes for an event the proxy rewrote: `event:`, `id:`, one `data:` line per line of
 * data, and LF endings. CR and CRLF inside data become line breaks too, since a raw CR would end
 * the field early.
 */
export function serializeEvent(ev: { event?: string | null; data: string; id?: string | null }): Uint8Array {
  const event = ev.event !== null && ev.event !== undefined;
  const id = ev.id !== null && ev.id !== undefined;
  // The common rewrite (a chunk without its usage member) is one line of data.
  if (!event && !id && !LINE_BREAK.test(ev.data)) return encoder.encode(`data: ${ev.data}\n\n`);
  let s = '';
  if (event) s += `event: ${ev.event}\n`;
  if (id) s += `id: ${ev.id}\n`;
  for (const line of ev.data.split(/\r\n|\r|\n/)) s += `data: ${line}\n`;
  return encoder.encode(`${s}\n`);
}
