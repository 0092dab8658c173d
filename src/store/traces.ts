import type { Queryable } from '../db/database.js';

export interface TraceSummary {
  id: string;
  started_at: string;
  tenant_id: string;
  agent_id: string | null;
  key_id: string | null;
  end_user: string | null;
  session_id: string | null;
  action_type: string;
  provider: string | null;
  model: string | null;
  method: string;
  path: string;
  status: string;
  reason: string | null;
  http_status: number;
  latency_ms: number;
  overhead_ms: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  cost_usd: string | null;
}

export async function tailTraces(db: Queryable, tenantId: string, limit: number): Promise<TraceSummary[]> {
  const r = await db.query<TraceSummary & { started_at: Date }>(
    `SELECT id, started_at, tenant_id, agent_id, key_id, end_user, session_id, action_type, provider, model,
            method, path, status, reason, http_status, latency_ms, overhead_ms, tokens_in, tokens_out, cost_usd
       FROM renlayer.traces WHERE tenant_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, [tenantId, limit]);
  return r.rows.map((row) => ({ ...row, started_at: new Date(row.started_at).toISOString() }));
}
