#!/usr/bin/env node
// Policy evaluation speed (issue 5): a tenant with 100 policies of mixed conditions, evaluated
// per request the way the proxy does it (request stage, every match collected, then the
// verdict). Prints p50/p99/max per evaluation and writes bench/results/<date>-policy.json.
//   npm run bench:policy
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { compilePolicies, evaluate } from '../dist/policy/evaluate.js';
import { parsePolicy } from '../dist/policy/schema.js';
import { verdict } from '../dist/proxy/verdict.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const TARGET_P99_US = 20;

// A deterministic mix: what a real tenant's rule book looks like — most policies are narrowed by
// agent, model or provider, some read findings, headers, sizes, users and tools, a fifth search
// the prompt (contains, case-insensitive, regex).
function policies() {
  const out = [];
  const add = (p) => out.push({ ...parsePolicy(p), id: `pol_${out.length}`, createdAt: out.length });
  for (let i = 0; i < 100; i++) {
    const name = `p${i}`;
    const priority = 10 + i;
    switch (i % 10) {
      case 0: add({ name, action: 'DENY', priority, scope: { agents: [`agent-${i}`] }, conditions: [{ field: 'model', op: 'glob', value: ['gpt-4*'] }] }); break;
      case 1: add({ name, action: 'FLAG', priority, conditions: [{ field: 'model', op: 'in', value: [`model-${i}`, `model-${i + 1}`] }] }); break;
      case 2: add({ name, action: 'DENY', priority, conditions: [{ field: 'dlp_class', op: 'in', value: ['payment.credit_card', 'gov.us_ssn'] }, { field: 'provider', op: 'in', value: ['anthropic'] }] }); break;
      case 3: add({ name, action: 'FLAG', priority, conditions: [{ field: 'request_bytes', op: 'gt', value: 500_000 + i }] }); break;
      case 4: add({ name, action: 'DENY', priority, conditions: [{ field: 'header', op: 'equals', name: 'X-Team', value: `team-${i}` }] }); break;
      case 5: add({ name, action: 'FLAG', priority, conditions: [{ field: 'user', op: 'glob', value: `contractor-${i}-*` }] }); break;
      case 6: add({ name, action: 'DENY', priority, conditions: [{ field: 'tool_name', op: 'glob', value: [`danger_${i}_*`] }] }); break;
      case 7: add({ name, action: 'FLAG', priority, conditions: [{ field: 'prompt', op: 'contains', value: `project-codename-${i}`, case_insensitive: i % 20 === 7 }] }); break;
      case 8: add({ name, action: 'DENY', priority, conditions: [{ field: 'action_type', op: 'in', value: ['embedding'] }, { field: 'prompt', op: 'regex', value: `(?i)internal[- ]only-${i}` }] }); break;
      case 9: add({ name, action: 'FLAG', priority, conditions: [{ field: 'risk_level', op: 'gte', value: 'critical' }, { field: 'upstream', op: 'glob', value: '*.example.net' }] }); break;
    }
  }
  return out;
}

// ~2 KB realistic prompt; none of the policies match it, so every one is evaluated in full.
const PROMPT = ('You are a helpful assistant for the support team. The customer writes: my order arrived '
  + 'damaged and I would like a replacement or a refund, whichever is faster. Please draft a polite answer, '
  + 'summarise the case for the ticket, and suggest a goodwill gesture within policy. ').repeat(8);

const input = {
  agentId: 'agt_support', agentName: 'support-bot', actionType: 'chat_completion', upstreamUrl: 'https://api.openai.com',
  provider: 'openai', model: 'gpt-4o-mini', prompt: PROMPT, headers: { 'x-team': 'support', 'content-type': 'application/json' },
  tools: ['lookup_order', 'create_ticket'], findings: [{ class: 'pii.email', severity: 'MEDIUM', direction: 'request', action: 'warn' }],
  requestBytes: 2300, user: 'agent-anna', session: null,
};

const set = compilePolicies(policies(), 'ALLOW');
const times = new Float64Array(ITERATIONS);
let sink = 0;
for (let i = 0; i < 20_000; i++) sink += evaluate(set, 'request', input).matched.length; // warm-up
for (let i = 0; i < ITERATIONS; i++) {
  const t0 = process.hrtime.bigint();
  const e = evaluate(set, 'request', input);
  const v = verdict(input.findings, e, 'enforce');
  times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  sink += v.status.length;
}
times.sort();
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
const result = {
  benchmark: 'policy evaluation, request stage, 100 policies of mixed conditions, ~2 KB prompt, every match collected, plus the verdict',
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  command: 'npm run bench:policy',
  iterations: ITERATIONS,
  policies: set.request.length,
  us: { p50: +q(0.5).toFixed(2), p90: +q(0.9).toFixed(2), p99: +q(0.99).toFixed(2), p999: +q(0.999).toFixed(2), max: +times[times.length - 1].toFixed(2) },
  target_p99_us: TARGET_P99_US,
};
result.pass = result.us.p99 < TARGET_P99_US;
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, `bench/results/${result.date.slice(0, 10)}-policy.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
console.log(`policy evaluation (${result.policies} policies, ${ITERATIONS} runs): p50 ${result.us.p50} µs, p99 ${result.us.p99} µs, p99.9 ${result.us.p999} µs, max ${result.us.max} µs — target p99 < ${TARGET_P99_US} µs: ${result.pass ? 'met' : 'MISSED'}`);
console.log(`written ${file}${sink < 0 ? '' : ''}`);
process.exitCode = result.pass ? 0 : 1;
