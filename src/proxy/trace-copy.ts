import type { TraceRow } from './traces.js';

/**
 * Trace rows in COPY's text format: the journal's lines and what the database is sent. PostgreSQL
 * takes a COPY of a batch for about half the CPU of the same rows as one `jsonb_populate_recordset`
 * INSERT (measured: 31 against 60 µs a row), and the database shares the proxy's cores in every
 * small deployment; one serialisation serves the journal and the batch.
 */

type Kind = 'text' | 'number' | 'boolean' | 'json' | 'text[]';

/** Every column of renlayer.traces, in the order of a COPY line, with what its text holds. */
const COLUMNS = {
  id: 'text', tenant_id: 'text', agent_id: 'text', key_id: 'text', end_user: 'text', session_id: 'text',
  action_type: 'text', provider: 'text', upstream_url: 'text', model: 'text', method: 'text', path: 'text',
  status: 'text', reason: 'text', http_status: 'number', started_at: 'text', ended_at: 'text',
  latency_ms: 'number', overhead_ms: 'number', upstream_ms: 'number', ttfb_ms: 'number', tokens_in: 'number',
  tokens_out: 'number', cost_usd: 'number', policy_ids: 'text[]', winning_policy_id: 'text', dlp_findings: 'json',
  rate_limit: 'json', request_bytes: 'number', response_bytes: 'number', request_body: 'text',
  response_body: 'text', request_body_enc: 'text', response_body_enc: 'text', stream: 'boolean',
  proxy_instance_id: 'text',
} satisfies Record<keyof TraceRow, Kind>;
export const TRACE_COLUMNS = Object.keys(COLUMNS) as (keyof TraceRow)[];
const KINDS = Object.values(COLUMNS) as Kind[];

export const COPY_TRACES = `COPY renlayer.traces (${TRACE_COLUMNS.join(', ')}) FROM STDIN`;

/**
 * The first line of every journal segment: the columns its lines hold, in order. A journal left
 * by a version with other columns is still read by name after an upgrade.
 */
const HEADER_PREFIX = '#renlayer-traces copy ';
export const JOURNAL_HEADER = HEADER_PREFIX + TRACE_COLUMNS.join(',');

/** The columns a journal header names; null when the line is not a header. */
export function headerColumns(line: string): string[] | null {
  return line.startsWith(HEADER_PREFIX) ? line.slice(HEADER_PREFIX.length).split(',') : null;
}

const SPECIAL = /[\\\n\r\t]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A text value as COPY reads it: backslash, newline, carriage return and tab escaped. */
function text(value: string): string {
  return SPECIAL.test(value) ? value.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c]!) : value;
}

/** A text[] literal: every element quoted, so no element can be read as NULL or split. */
function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/**
 * Lines are encoded straight into slabs and handed out as views of them: a row waits a flush
 * interval in the queue, long enough to outlive the young generation, and bytes off the JS heap
 * are never copied by the collector, where a string of kilobytes per call was (together with
 * the per-field strings and the turn's joined batch). A slab is never written twice, so a view
 * stays valid for as long as anything holds it; a line that outgrows the room left moves, with
 * what it has so far, to a fresh slab.
 */
const SLAB_BYTES = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;
/** Where the line being written starts in the slab. */
let lineStart = 0;

/** Makes room for `bytes` more in the slab, moving the line begun so far to a fresh one if need be. */
function room(bytes: number): void {
  if (used + bytes <= slab.length) return;
  const partial = used - lineStart;
  const next = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, 2 * (partial + bytes)));
  slab.copy(next, 0, lineStart, used);
  slab = next;
  lineStart = 0;
  used = partial;
}

/** A string's UTF-8 bytes: at most three per UTF-16 unit, counted exactly only when that bound does not fit. */
function put(value: string): void {
  if (used + value.length * 3 > slab.length) room(Buffer.byteLength(value));
  used += slab.write(value, used);
}

function putByte(byte: number): void {
  room(1);
  slab[used++] = byte;
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const NULL_FIELD = '\\N';

function putField(kind: Kind, value: unknown): void {
  if (value === null || value === undefined) return put(NULL_FIELD);
  switch (kind) {
    case 'text': return put(text(String(value)));
    // Like JSON, which the INSERT path reads: a number that is not finite is no value.
    case 'number': return put(Number.isFinite(value) ? String(value) : NULL_FIELD);
    case 'boolean': return putByte(value ? 0x74 : 0x66); // t, f
    case 'json': return put(text(JSON.stringify(value)));
    case 'text[]': return put(text(textArray(value as string[])));
  }
}

/**
 * Lines as one buffer: a view over them when they lie one after another in a slab (as the lines
 * of one turn mostly do), a copy otherwise.
 */
export function joinedBytes(lines: readonly Buffer[]): Buffer {
  const first = lines[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.buffer !== first.buffer || l.byteOffset !== end) return Buffer.concat(lines);
    end += l.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** One row as a COPY text line, newline included: its UTF-8 bytes (a view of a slab, see above). */
export function copyLine(row: TraceRow): Buffer {
  lineStart = used;
  for (let i = 0; i < TRACE_COLUMNS.length; i++) {
    if (i > 0) putByte(TAB);
    putField(KINDS[i]!, row[TRACE_COLUMNS[i]!]);
  }
  putByte(NEWLINE);
  return slab.subarray(lineStart, used);
}

const UNESCAPES: Record<string, string> = { '\\': '\\', n: '\n', r: '\r', t: '\t' };

function untext(field: string): string {
  return field.includes('\\') ? field.replace(/\\(.)/g, (_, c: string) => UNESCAPES[c] ?? c) : field;
}

function untextArray(literal: string): string[] {
  if (literal === '{}') return [];
  const out: string[] = [];
  for (const m of literal.slice(1, -1).matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  return out;
}

/**
 * A journal line back into its row (for replay through the INSERT), its fields named by
 * `columns` (the segment's header); null for a line that is not one (cut short, damaged). A
 * column this version does not know is left out; one it has that the line lacks is null.
 */
export function rowFromCopyLine(line: string, columns: readonly string[] = TRACE_COLUMNS): TraceRow | null {
  const fields = line.split('\t');
  if (fields.length !== columns.length) return null;
  const row: Record<string, unknown> = {};
  try {
    for (let i = 0; i < fields.length; i++) {
      const name = columns[i]!;
      if (!Object.hasOwn(COLUMNS, name)) continue;
      const kind = COLUMNS[name as keyof TraceRow];
      const raw = fields[i]!;
      if (raw === '\\N') {
        row[name] = null;
        continue;
      }
      const value = untext(raw);
      switch (kind) {
        case 'text': row[name] = value; break;
        case 'number': row[name] = Number(value); break;
        case 'boolean': row[name] = value === 't'; break;
        case 'json': row[name] = JSON.parse(value); break;
        case 'text[]': row[name] = untextArray(value); break;
      }
    }
  } catch {
    return null;
  }
  return row as unknown as TraceRow;
}
