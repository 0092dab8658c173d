import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTraceId } from '../src/core/ids.js';
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
