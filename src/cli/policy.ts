import { readFile } from 'node:fs/promises';
import { RenLayerError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { SampleRequest, TestResult } from '../proxy/playground.js';
import { JSON_OPTION, output, required, type Command } from './command.js';
import { withAdminDatabase, type Runtime } from './runtime.js';

/**
 * `renlayer policy test` and `renlayer policy list`. The test runs the proxy's own code path
 * (src/proxy/playground.ts: classification, normalisation, DLP scan, policy evaluation and
 * verdict) on a sample request, with the tenant's configuration compiled the way the proxy
 * compiles it, so what it prints is what the proxy would do.
 */

const TENANT = { tenant: { type: 'string', description: 'tenant name or id' } } as const;

/** `{method?, path, headers?, body?, user?, session?}`, checked so a typo is an answer, not a crash. */
function parseSample(text: string, source: string): SampleRequest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new RenLayerError('validation_failed', `${source} is not JSON: ${(err as Error).message}`);
  }
  const bad = (m: string): never => {
    throw new RenLayerError('validation_failed', `${source}: ${m}`);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('expected {"method", "path", "headers", "body"}');
  const r = v as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!['method', 'path', 'headers', 'body', 'user', 'session'].includes(k)) bad(`unknown key "${k}"; a sample request has method, path, headers, body, user, session`);
  if (typeof r.path !== 'string' || !r.path.startsWith('/')) bad('"path" must be a string starting with / (e.g. "/v1/chat/completions")');
  if (r.method !== undefined && (typeof r.method !== 'string' || !/^[A-Za-z]+$/.test(r.method))) bad('"method" must be an HTTP method such as POST');
  if (r.headers !== undefined) {
    if (typeof r.headers !== 'object' || r.headers === null || Array.isArray(r.headers)) bad('"headers" must be an object of strings');
    for (const [k, h] of Object.entries(r.headers as object)) if (typeof h !== 'string') bad(`header "${k}" must be a string`);
  }
  for (const k of ['user', 'session'] as const) if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') bad(`"${k}" must be a string`);
  return r as unknown as SampleRequest;
}

async function runTest(db: Database, rt: Runtime, tenantRef: string, agentRef: string, sample: SampleRequest) {
  const { resolveTenant } = await import('../store/tenants.js');
  const { loadTenantDlpConfig } = await import('../store/dlp.js');
  const { loadPolicies } = await import('../store/policies.js');
  const { compileDlp, dlpSalt } = await import('../dlp/engine.js');
  const { compilePolicies } = await import('../policy/evaluate.js');
  const { testRequest } = await import('../proxy/playground.js');

  const t = await resolveTenant(db, tenantRef);
  const { agent, dlpConfig, loaded } = await db.transaction(async (tx) => {
    const a = (await tx.query<{ id: string; name: string; upstream_type: string; upstream_url: string | null }>(
      `SELECT id, name, upstream_type, upstream_url FROM renlayer.agents
        WHERE tenant_id = $1 AND (id = $2 OR name = $2) ORDER BY (id = $2) DESC LIMIT 1`, [t.id, agentRef])).rows[0];
    if (!a) throw new RenLayerError('not_found', `no agent named or with id "${agentRef}" in tenant ${t.name}`);
    return { agent: a, dlpConfig: await loadTenantDlpConfig(tx, t.id), loaded: await loadPolicies(tx, t.id) };
  });
  for (const bad of loaded.invalid) {
    process.stderr.write(`renlayer policy test: warning: policy ${bad.name} is not valid as stored and is not enforced: ${bad.reason}\n`);
  }
  // The proxy's per-tenant salt (src/proxy/snapshot.ts), so finding hashes group the same way.
  const salt = dlpSalt(rt.config.encryptionKey, t.id);
  const rules = { dlp: compileDlp(dlpConfig, salt), policies: compilePolicies(loaded.policies, t.default_action), enforcement: t.enforcement };
  // Where the proxy would send it: the agent's upstream, else RENLAYER_DEFAULT_UPSTREAM.
  const url = agent.upstream_url ?? rt.config.defaultUpstream ?? null;
  const result = testRequest(rules, {
    id: agent.id, name: agent.name, upstreamType: agent.upstream_type, upstream: url ? { url, type: agent.upstream_type } : null,
  }, sample);
  return { tenant: { id: t.id, name: t.name, default_action: t.default_action, enforcement: t.enforcement }, agent: { id: agent.id, name: agent.name }, result };
}

function renderTest(tenant: { name: string; default_action: string; enforcement: string }, agent: { name: string }, sample: SampleRequest, r: TestResult): string {
  const lines = [
    `${(sample.method ?? 'POST').toUpperCase()} ${sample.path} from agent ${agent.name} (tenant ${tenant.name}, ${tenant.enforcement}, default ${tenant.default_action})`,
    `action type: ${r.action_type}${r.model ? `, model ${r.model}` : ''}`,
  ];
  if (r.findings.length === 0) lines.push('DLP findings: none');
  else {
    lines.push('DLP findings (values are never shown):');
    for (const f of r.findings) lines.push(`  ${f.class} ${f.severity} → ${f.action}, at ${f.location.path} [${f.location.start}, ${f.location.end})`);
  }
  if (r.matched.length === 0) lines.push('matched policies: none');
  else {
    lines.push('matched policies, in evaluation order:');
    r.matched.forEach((p, i) => lines.push(`  ${i + 1}. ${p.name} (${p.id}) ${p.action}, priority ${p.priority}${i === 0 ? '  ← winner' : ''}`));
  }
  lines.push(r.winner ? `winner: ${r.winner.name} (${r.winner.id}) → ${r.action}` : `winner: none; the tenant default decides → ${r.action}`);
  lines.push(`status: ${r.status}${r.reason ? ` (${r.reason})` : ''}, HTTP ${r.http_status}`);
  if (r.error) lines.push(`answer: ${r.error.code}: ${r.error.message}`);
  if (r.response_policies.length > 0) {
    lines.push(`response-stage policies, judged on the answer and not by this test: ${r.response_policies.map((p) => p.name).join(', ')}`);
  }
  return lines.join('\n');
}

export const policyTest: Command = {
  name: 'policy test',
  summary: 'What the proxy would do with a sample request: matched policies in order, the winner, DLP findings, the final status.',
  usage: 'policy test --tenant T --agent A --request FILE [--json]',
  options: {
    ...TENANT,
    agent: { type: 'string', description: 'agent name or id the request comes from' },
    request: { type: 'string', description: 'JSON file {"method", "path", "headers", "body"}; - reads standard input' },
    ...JSON_OPTION,
  },
  async run(args) {
    const tenant = required(args, 'tenant');
    const agent = required(args, 'agent');
    const source = required(args, 'request');
    let text: string;
    try {
      if (source === '-') {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        text = Buffer.concat(chunks).toString('utf8');
      } else {
        text = await readFile(source, 'utf8');
      }
    } catch (err) {
      throw new RenLayerError('not_found', `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const sample = parseSample(text, source);
    const out = await withAdminDatabase((db, rt) => runTest(db, rt, tenant, agent, sample));
    // The verdict is data: exit 0 whatever it is; 1 only when the test could not run.
    output(args, { tenant: out.tenant, agent: out.agent, ...out.result }, renderTest(out.tenant, out.agent, sample, out.result));
  },
};

export const policyList: Command = {
  name: 'policy list',
  summary: "A tenant's policies in evaluation order, each with its plain-language summary.",
  usage: 'policy list --tenant T [--json]',
  options: { ...TENANT, ...JSON_OPTION },
  async run(args) {
    const tenantRef = required(args, 'tenant');
    const { resolveTenant } = await import('../store/tenants.js');
    const { loadPolicies } = await import('../store/policies.js');
    const { summarize } = await import('../policy/summary.js');
    const { policies, invalid, agents } = await withAdminDatabase(async (db) => {
      const t = await resolveTenant(db, tenantRef);
      return db.transaction(async (tx) => ({
        ...(await loadPolicies(tx, t.id)),
        agents: (await tx.query<{ id: string; name: string }>('SELECT id, name FROM renlayer.agents WHERE tenant_id = $1', [t.id])).rows,
      }));
    });
    const names = { agents: Object.fromEntries(agents.map((a) => [a.id, a.name])) };
    const rows = policies.map((p) => ({
      id: p.id, name: p.name, action: p.action, priority: p.priority, enabled: p.enabled, stage: p.stage, version: p.version ?? 1,
      summary: summarize(p, names),
    }));
    const human = [
      ...rows.map((r) => `${String(r.priority).padStart(6)}  ${r.action.padEnd(5)}  ${r.name}${r.enabled ? '' : ' (disabled)'}  v${r.version}\n        ${r.summary}`),
      ...invalid.map((p) => `     -  ?      ${p.name}  not valid as stored, not enforced: ${p.reason}`),
    ].join('\n') || 'no policies';
    output(args, { policies: rows, invalid }, human);
  },
};
