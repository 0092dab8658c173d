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

function field(kind: Kind, value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  switch (kind) {
    case 'text': return text(String(value));
    // Like JSON, which the INSERT path reads: a number that is not finite is no value.
    case 'number': return Number.isFinite(value) ? String(value) : '\\N';
    case 'boolean': return value ? 't' : 'f';
    case 'json': return text(JSON.stringify(value));
    case 'text[]': return text(textArray(value as string[]));
  }
}

/** One row as a COPY text line, newline included. */
export function copyLine(row: TraceRow): string {
  let line = '';
  for (let i = 0; i < TRACE_COLUMNS.length; i++) {
    if (i > 0) line += '\t';
    line += field(KINDS[i]!, row[TRACE_COLUMNS[i]!]);
  }
  return line + '\n';
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
