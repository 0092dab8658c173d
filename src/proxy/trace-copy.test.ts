import { describe, expect, it } from 'vitest';
import { copyLine, joinedBytes, rowFromCopyLine, TRACE_COLUMNS } from './trace-copy.js';
import type { TraceRow } from './traces.js';

const row: TraceRow = {
  id: 'tr_1', tenant_id: 't', agent_id: null, key_id: 'k', end_user: 'tab\there\nnewline \\ back \\N "q"', session_id: '\\.',
  action_type: 'chat_completion', provider: 'openai', upstream_url: 'http://u', model: null, method: 'POST', path: '/v1/x',
  status: 'FLAGGED', reason: 'r\r', http_status: 200, started_at: '2026-11-28T10:00:00.000Z', ended_at: '2026-11-28T10:00:00.010Z',
  latency_ms: 10.25, overhead_ms: 1e-7, upstream_ms: null, ttfb_ms: 3, tokens_in: 5, tokens_out: 0, cost_usd: 0.00012,
  policy_ids: ['a', 'with "quote"', 'back\\slash', 'comma,brace}{', 'NULL', ''], winning_policy_id: 'a',
  dlp_findings: [{ class: 'secret', note: 'a\\b\n"c"\t' }], rate_limit: { used: 3 }, request_bytes: 12, response_bytes: null,
  request_body: '{"content":"line\\nnext é 😀"}', response_body: '', request_body_enc: null, response_body_enc: null,
  stream: true, proxy_instance_id: 'px',
};

describe('trace rows as COPY lines', () => {
  it('writes one line per row, with a field for every column', () => {
    const line = copyLine(row).toString();
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(line.slice(0, -1).split('\t')).toHaveLength(TRACE_COLUMNS.length);
  });

  it('reads a line back into the same row, for replay', () => {
    expect(rowFromCopyLine(copyLine(row).toString().slice(0, -1))).toEqual(row);
    expect(rowFromCopyLine(copyLine({ ...row, policy_ids: [], rate_limit: null, stream: false }).toString().slice(0, -1)))
      .toMatchObject({ policy_ids: [], rate_limit: null, stream: false });
  });

  it('refuses a line cut short', () => {
    const line = copyLine(row).toString().slice(0, -1);
    expect(rowFromCopyLine(line.slice(0, line.length - 40))).toBeNull();
    expect(rowFromCopyLine(line.slice(0, line.indexOf('[{') + 5))).toBeNull();
  });

  it('keeps every line whole across the slabs lines are written into, a line larger than a slab included', () => {
    // Multi-byte text (2 and 4 bytes per character in UTF-8) makes lines of every length cross the slab ends.
    const rows = Array.from({ length: 400 }, (_, i) => ({ ...row, id: `tr_${i}`, request_body: `${'é😀x'.repeat(i % 7)}${'x'.repeat(i === 150 ? 600_000 : 2_000 + i)}` }));
    const lines = rows.map((r) => copyLine(r));
    rows.forEach((r, i) => expect(rowFromCopyLine(lines[i]!.toString().slice(0, -1))).toEqual(r));
  });

  it('joins lines lying one after another without copying them, and copies lines that do not', () => {
    const slab = Buffer.from('one\ntwo\nthree\n');
    const [one, two, three] = [slab.subarray(0, 4), slab.subarray(4, 8), slab.subarray(8)];
    const joined = joinedBytes([one!, two!, three!]);
    const apart = joinedBytes([one!, three!]);
    expect(joined.toString()).toBe('one\ntwo\nthree\n');
    expect(apart.toString()).toBe('one\nthree\n');
    // A view shares the slab's bytes; a copy does not.
    slab[0] = 0x4f; // 'O'
    expect(joined.toString()).toBe('One\ntwo\nthree\n');
    expect(apart.toString()).toBe('one\nthree\n');
  });
});
