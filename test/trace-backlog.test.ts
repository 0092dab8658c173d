import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTraceId } from '../src/core/ids.js';
import { copyLine, TRACE_COLUMNS } from '../src/proxy/trace-copy.js';
import { TraceWriter, type TraceRow } from '../src/proxy/traces.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { tenantWithAgent } from './helpers/fixtures.js';

// SPEC §9: no trace is lost — and memory stays bounded when traffic outruns the database. Rows
// past the in-memory bound wait in the journal and are replayed from it once the queue drains.
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});

afterAll(async () => {
  await t?.close();
});

function row(tenantId: string, agentId: string): TraceRow {
  const now = new Date().toISOString();
  return {
    id: newTraceId(), tenant_id: tenantId, agent_id: agentId, key_id: null, end_user: null, session_id: null,
    action_type: 'chat_completion', provider: 'openai', upstream_url: null, model: 'gpt-4o-mini', method: 'POST',
    path: '/v1/chat/completions', status: 'ALLOWED', reason: null, http_status: 200, started_at: now, ended_at: now,
    latency_ms: 1, overhead_ms: 0.5, upstream_ms: 0.5, ttfb_ms: null, tokens_in: 1, tokens_out: 1, cost_usd: 0,
    policy_ids: [], winning_policy_id: null, dlp_findings: [], rate_limit: null, request_bytes: 10, response_bytes: 10,
    request_body: '{"x":1}', response_body: null, request_body_enc: null, response_body_enc: null, stream: false, proxy_instance_id: null,
  };
}

describe('trace backlog', () => {
  it('keeps at most maxQueueRows in memory, and still writes every row once the database catches up', async () => {
    const a = await tenantWithAgent(t.db);
    const writer = new TraceWriter(t.db, pino({ level: 'silent' }), {
      spoolDir: mkdtempSync(join(tmpdir(), 'renlayer-backlog-')), maxJournalBytes: 64 * 1024 * 1024, maxQueueRows: 5, flushIntervalMs: 60_000,
    });
    writer.start();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = row(a.tenant.id, a.agent.id);
      ids.push(r.id);
      writer.record(r);
    }
    expect(writer.queueDepth).toBe(5);
    await writer.flush();
    await writer.flush();
    const stored = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM renlayer.traces WHERE id = ANY($1)', [ids]);
    expect(stored.rows[0]!.n).toBe(40);
    // Back to normal: the next rows are queued in memory again.
    writer.record(row(a.tenant.id, a.agent.id));
    expect(writer.queueDepth).toBe(1);
    await writer.close();
  });
});

describe('trace rows written in batches', () => {
  // The statements the writer ran: a COPY that failed would be hidden by the INSERT fallback.
  const inserts: string[] = [];
  const writer = (dir: string) => new TraceWriter({
    ...t.db,
    copyFrom: t.db.copyFrom?.bind(t.db),
    query: (sql: string, params?: readonly unknown[]) => {
      if (sql.includes('INSERT INTO renlayer.traces')) inserts.push(sql);
      return t.db.query(sql, params);
    },
  } as typeof t.db, pino({ level: 'silent' }), { spoolDir: dir, maxJournalBytes: 64 * 1024 * 1024, flushIntervalMs: 60_000 });
  const stored = async (ids: string[]) => (await t.db.query<{ j: Record<string, unknown> }>(
    'SELECT to_jsonb(t) - \'id\' AS j FROM renlayer.traces t WHERE id = ANY($1) ORDER BY latency_ms', [ids])).rows.map((r) => r.j);

  it('stores every awkward value exactly as the row said it (COPY on a server, INSERT on the embedded database)', async () => {
    const a = await tenantWithAgent(t.db);
    const awkward: TraceRow = {
      ...row(a.tenant.id, a.agent.id),
      end_user: 'tab\there, newline\nthere, return\r, backslash \\ and \\N, quote " and \'',
      session_id: '\\.',
      path: '/v1/x?q=a\tb',
      request_body: '{"messages":[{"content":"line1\\nline2 \\"quoted\\" \\\\ é 😀 \\u0001"}]}',
      response_body: '',
      policy_ids: ['plain', 'with "quote"', 'back\\slash', 'comma,brace}{', 'NULL', ''],
      dlp_findings: [{ class: 'secret', path: 'messages[0].content', note: 'a\\b\n"c"\t' }],
      rate_limit: [{ ruleId: 'r', used: 3, nested: { tab: '\t' } }],
      cost_usd: 1e-7,
      overhead_ms: null,
      ttfb_ms: 0.000123,
      stream: true,
    };
    const plain = { ...row(a.tenant.id, a.agent.id), latency_ms: 2 };
    const w = writer(mkdtempSync(join(tmpdir(), 'renlayer-copy-')));
    inserts.length = 0;
    w.record(awkward);
    w.record(plain);
    await w.flush();
    // One COPY on a server; the embedded database refuses COPY and gets one INSERT of the batch.
    expect(inserts).toHaveLength(t.kind === 'postgres' ? 0 : 1);
    // The reference: the same rows read by PostgreSQL from their JSON, as the replay path does.
    const expected = (await t.db.query<{ j: Record<string, unknown> }>(
      'SELECT to_jsonb(jsonb_populate_record(NULL::renlayer.traces, r)) - \'id\' AS j FROM jsonb_array_elements($1::jsonb) r ORDER BY (r->>\'latency_ms\')::float8',
      [JSON.stringify([awkward, plain])])).rows.map((r) => r.j);
    const got = await stored([awkward.id, plain.id]);
    expect(got).toHaveLength(2);
    expect(got).toEqual(expected);
    expect(got[0]!.end_user).toBe(awkward.end_user);
    expect(got[0]!.policy_ids).toEqual(awkward.policy_ids);
    await w.close();
  });

  it('writes the rest of a batch the database refuses, and keeps the row it refuses on its own', async () => {
    const a = await tenantWithAgent(t.db);
    const dir = mkdtempSync(join(tmpdir(), 'renlayer-copy-'));
    const good = Array.from({ length: 5 }, (_, i) => ({ ...row(a.tenant.id, a.agent.id), latency_ms: i + 1 }));
    // The same call recorded twice (its id repeated), and one row no table takes.
    const again = { ...good[2]!, status: 'FLAGGED' as const };
    const bad = { ...row(a.tenant.id, a.agent.id), status: 'NOT_A_STATUS' as TraceRow['status'] };
    const w = writer(dir);
    for (const r of [...good.slice(0, 3), again, bad, ...good.slice(3)]) w.record(r);
    await w.flush();
    const got = await stored([...good.map((r) => r.id), bad.id]);
    expect(got.map((r) => r.latency_ms)).toEqual([1, 2, 3, 4, 5]);
    expect(got[2]!.status).toBe('ALLOWED');
    expect(readFileSync(join(dir, 'rejected.ndjson'), 'utf8')).toContain(bad.id);
    await w.close();
  });
});

describe('trace journal replay', () => {
  it('replays the journal a dead process left, in today\u2019s COPY lines or an earlier version\u2019s JSON lines, leaving out a line cut short', async () => {
    const a = await tenantWithAgent(t.db);
    const dir = mkdtempSync(join(tmpdir(), 'renlayer-replay-'));
    const [copied, json, torn] = [row(a.tenant.id, a.agent.id), row(a.tenant.id, a.agent.id), row(a.tenant.id, a.agent.id)];
    // pid 2^22 + 1 is above Linux's pid_max: no process owns these files.
    writeFileSync(join(dir, 'traces-4194305-000000000000001000001.journal'), copyLine(copied).toString() + copyLine(torn).toString().slice(0, 50));
    writeFileSync(join(dir, 'traces-4194305-000000000000001000002.journal'), JSON.stringify(json) + '\n');
    const w = new TraceWriter(t.db, pino({ level: 'silent' }), { spoolDir: dir, maxJournalBytes: 64 * 1024 * 1024, flushIntervalMs: 60_000 });
    w.start();
    await w.flush();
    const stored = await t.db.query<{ id: string }>('SELECT id FROM renlayer.traces WHERE id = ANY($1)', [[copied.id, json.id, torn.id]]);
    expect(stored.rows.map((r) => r.id).sort()).toEqual([copied.id, json.id].sort());
    expect(w.replayed).toBe(2);
    await w.close();
  });

  it('reads a journal by the columns its header names, and keeps a damaged line in the rejects file', async () => {
    const a = await tenantWithAgent(t.db);
    const dir = mkdtempSync(join(tmpdir(), 'renlayer-replay-'));
    const [first, second] = [row(a.tenant.id, a.agent.id), row(a.tenant.id, a.agent.id)];
    // As a version whose columns came in another order, with one this version does not have.
    const columns = [...TRACE_COLUMNS].reverse();
    const line = (r: TraceRow) => [...copyLine(r).toString().slice(0, -1).split('\t')].reverse().join('\t') + '\tsomething-new\n';
    writeFileSync(join(dir, 'traces-4194305-000000000000002000001.journal'),
      `#renlayer-traces copy ${[...columns, 'a_future_column'].join(',')}\n${line(first)}not a trace\n${line(second)}`);
    const w = new TraceWriter(t.db, pino({ level: 'silent' }), { spoolDir: dir, maxJournalBytes: 64 * 1024 * 1024, flushIntervalMs: 60_000 });
    w.start();
    await w.flush();
    const stored = await t.db.query<{ id: string; request_body: string }>('SELECT id, request_body FROM renlayer.traces WHERE id = ANY($1)', [[first.id, second.id]]);
    expect(stored.rows.map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
    expect(stored.rows[0]!.request_body).toBe('{"x":1}');
    expect(JSON.parse(readFileSync(join(dir, 'rejected.ndjson'), 'utf8').trim())).toMatchObject({ unreadable_journal_line: 'not a trace' });
    await w.close();
  });

  it('still answers for a call, and still stores its trace, when the spool directory is gone', async () => {
    const a = await tenantWithAgent(t.db);
    const dir = mkdtempSync(join(tmpdir(), 'renlayer-nospool-'));
    const w = new TraceWriter(t.db, pino({ level: 'silent' }), { spoolDir: dir, maxJournalBytes: 64 * 1024 * 1024, flushIntervalMs: 60_000 });
    w.start();
    rmSync(dir, { recursive: true });
    const r = row(a.tenant.id, a.agent.id);
    await expect(w.record(r)).resolves.toBeUndefined();
    await w.flush();
    expect((await t.db.query('SELECT 1 FROM renlayer.traces WHERE id = $1', [r.id])).rowCount).toBe(1);
    await w.close();
  });
});
