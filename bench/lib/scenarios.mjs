// The scenarios, each run against one started target. A scenario returns one row of numbers;
// comparisons between targets (added latency, ratios) are made afterwards in report.mjs.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startProcess } from './processes.mjs';
import { ProcSampler, postgresPids, round } from './stats.mjs';
import { luaScript, runWrk } from './wrk.mjs';
import { measurePropagation } from './propagation.mjs';

const SSE_CLIENT = fileURLToPath(new URL('./sse-client.mjs', import.meta.url));

/** A ~2 KB chat prompt, the size of a typical agent turn with some context; no DLP finding in it. */
export function chatBody({ stream = false } = {}) {
  const prompt = 'Summarise the following support conversation and propose the next step. '.repeat(28);
  return JSON.stringify({
    model: 'gpt-4o-mini',
    ...(stream ? { stream: true } : {}),
    messages: [{ role: 'system', content: 'You are a helpful support agent.' }, { role: 'user', content: prompt }],
  });
}

export const STREAM_DELTAS = 64;
export const STREAM_PACE_MS = 20;
export const TTFB_PACE_MS = 1;
export const STALL_MS = 100;
/** The 1,000 clients start spread over this long: 1,000 streams opened in one instant stall any server here. */
export const STREAM_RAMP_MS = 1_000;
const PATH = '/v1/chat/completions';

/** The target's processes, plus the mock's CPU (and PostgreSQL's for RenLayer), which share the cores with it. */
function sampler(target, ctx) {
  const extra = {};
  if (target.kind !== 'mock') extra.mock = () => [ctx.mock.proc.pid];
  if (target.kind === 'renlayer') extra.postgres = postgresPids;
  return new ProcSampler(target.pid, { withChildren: target.workers > 1, extra });
}

async function wrkScenario(target, ctx, { name, connections, threads, headers = {}, stream = false, pairedBaseline = false }) {
  const script = luaScript(ctx.work, `${name}-${target.id}`, { headers: requestHeaders(target, headers), body: chatBody({ stream }) });
  // Added latency is a small difference of two noisy numbers on a shared machine: the mock is
  // measured again right before the target, and the difference is taken against that.
  let baseline;
  if (pairedBaseline && target.kind !== 'mock') {
    const direct = luaScript(ctx.work, `${name}-direct`, { headers: { 'content-type': 'application/json', ...headers }, body: chatBody({ stream }) });
    await runWrk(ctx.mock.url + PATH, { connections, threads, seconds: ctx.warmup, script: direct });
    const b = await runWrk(ctx.mock.url + PATH, { connections, threads, seconds: ctx.duration, script: direct });
    baseline = { rps: b.rps, p50_ms: b.p50_ms, p99_ms: b.p99_ms };
  }
  await runWrk(target.url + PATH, { connections, threads, seconds: ctx.warmup, script });
  const s = sampler(target, ctx).begin();
  const gc = collections(target);
  const r = await runWrk(target.url + PATH, { connections, threads, seconds: ctx.duration, script });
  return { ...r, ...(baseline ? { mock_baseline: baseline } : {}), ...gc.since(r.requests), resources: s.end() };
}

/**
 * The target's collections from now on (RenLayer targets count them: lib/renlayer.mjs):
 * `since(calls)` gives `{gc}` with the bytes promoted per call and the collections, or nothing.
 */
function collections(target) {
  const counts = target.proc?.gc;
  const at = counts && { ...counts };
  return {
    since: (calls) => (at && calls > 0 ? {
      gc: {
        promoted_bytes_per_call: Math.round((counts.promoted - at.promoted) / calls),
        scavenges: counts.scavenges - at.scavenges,
        full_collections: counts.full - at.full,
      },
    } : {}),
  };
}

/** The target's own headers plus the mock's x-mock-* (and whatever the target needs to pass those on). */
export function requestHeaders(target, mockHeaders = {}) {
  const names = Object.keys(mockHeaders);
  return { 'content-type': 'application/json', ...target.headers, ...mockHeaders, ...(names.length && target.forwardHeaders ? target.forwardHeaders(names) : {}) };
}

function streamHeaders(target, paceMs) {
  return requestHeaders(target, { 'x-mock-chunks': String(STREAM_DELTAS), 'x-mock-chunk-delay-ms': String(paceMs) });
}

/** Runs the SSE client in its own process and returns its result. */
async function sseClient(cfg) {
  const proc = startProcess('sse client', process.execPath, [SSE_CLIENT, JSON.stringify(cfg)]);
  const exit = await proc.exitPromise;
  if (exit.code !== 0) throw new Error(`sse client failed: ${proc.output.slice(-2000)}`);
  return JSON.parse(proc.output.trim().split('\n').pop());
}

export const SCENARIOS = [
  {
    id: 'chat-c50',
    label: 'chat, ~2 KB prompt, 50 connections',
    run: (t, ctx) => wrkScenario(t, ctx, { name: 'chat-c50', connections: 50, threads: 2 }),
  },
  {
    id: 'chat-c1',
    label: 'chat, ~2 KB prompt, 1 connection (added latency)',
    run: (t, ctx) => wrkScenario(t, ctx, { name: 'chat-c1', connections: 1, threads: 1, pairedBaseline: true }),
  },
  {
    id: 'stream-ttfb',
    label: `SSE, ${STREAM_DELTAS} deltas ${TTFB_PACE_MS} ms apart, 1 at a time (time to first byte)`,
    stream: true,
    async run(t, ctx) {
      const cfg = (url, target) => ({
        mode: 'ttfb', url: url + PATH, concurrency: 1, count: ctx.ttfbStreams, warmup: 20, paceMs: TTFB_PACE_MS, stallMs: STALL_MS,
        headers: streamHeaders(target, TTFB_PACE_MS), body: chatBody({ stream: true }),
      });
      let baseline; // paired, as for chat-c1
      if (t.kind !== 'mock') {
        const b = await sseClient(cfg(ctx.mock.url, { headers: {} }));
        baseline = { ttfb_p50_ms: b.ttfb_p50_ms, ttfb_p99_ms: b.ttfb_p99_ms, first_content_p50_ms: b.first_content_p50_ms, first_content_p99_ms: b.first_content_p99_ms };
      }
      const s = sampler(t, ctx).begin();
      const r = await sseClient(cfg(t.url, t));
      return { ...r, ...(baseline ? { mock_baseline: baseline } : {}), resources: s.end() };
    },
  },
  {
    id: 'stream-1000',
    label: `SSE, ${STREAM_DELTAS} deltas ${STREAM_PACE_MS} ms apart, 1,000 concurrent streams (stalls)`,
    stream: true,
    async run(t, ctx) {
      const s = sampler(t, ctx).begin();
      const gc = collections(t);
      const r = await sseClient({
        mode: 'streams', url: t.url + PATH, concurrency: 1000, seconds: ctx.streamSeconds, rampMs: STREAM_RAMP_MS, paceMs: STREAM_PACE_MS, stallMs: STALL_MS,
        headers: streamHeaders(t, STREAM_PACE_MS),
        body: chatBody({ stream: true }),
      });
      return { ...r, pace_ms: STREAM_PACE_MS, ramp_ms: STREAM_RAMP_MS, max_gap_beyond_pace_ms: r.max_gap_ms === null ? null : round(r.max_gap_ms - STREAM_PACE_MS), ...gc.since(r.streams), resources: s.end() };
    },
  },
  {
    id: 'slow-c1000',
    label: '200 ms upstream, 1,000 connections',
    run: (t, ctx) => wrkScenario(t, ctx, { name: 'slow-c1000', connections: 1000, threads: 2, headers: { 'x-mock-latency-ms': '200' } }),
  },
  {
    id: 'propagation',
    label: 'config propagation under load (commit → enforced on every worker)',
    only: (t) => t.kind === 'renlayer' && t.full,
    async run(t, ctx) {
      const script = luaScript(ctx.work, `propagation-load-${t.id}`, { headers: requestHeaders(t), body: chatBody() });
      // Load for as long as the changes take (stopped when they are done; 10 s per change at most).
      let done;
      const finished = new Promise((r) => { done = r; });
      const load = runWrk(t.url + PATH, { connections: 50, threads: 2, seconds: 5 + ctx.propagationTrials * 10, script, until: finished });
      await new Promise((r) => setTimeout(r, 1_000)); // load first
      let result;
      try {
        result = await measurePropagation({ port: t.port, primaryPid: t.pid, workers: t.workers, db: ctx.db.client, tenantId: t.tenantId, key: t.key, body: chatBody(), trials: ctx.propagationTrials });
      } finally {
        done();
      }
      const background = await load;
      return { ...result, background_load: { rps: background.rps, p99_ms: background.p99_ms, errors: background.errors } };
    },
  },
  {
    id: 'soak',
    label: 'soak: 50 connections, RSS and p99 every 10 s',
    only: (t) => t.soak,
    async run(t, ctx) {
      const script = luaScript(ctx.work, `soak-${t.id}`, { headers: requestHeaders(t), body: chatBody() });
      const slices = Math.max(2, Math.round((ctx.soakMinutes * 60) / 10));
      const series = [];
      const started = performance.now();
      for (let i = 0; i < slices; i++) {
        const s = sampler(t, ctx).begin();
        const r = await runWrk(t.url + PATH, { connections: 50, threads: 2, seconds: 10, script });
        const res = s.end();
        series.push({
          t_s: round((performance.now() - started) / 1000, 1), rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms, errors: r.errors,
          cpu_cores: res.cpu_cores, rss_mb: res.rss_mb,
          ...(res.processes ? { rss_mb_per_process: Object.fromEntries(res.processes.map((p) => [p.role, p.rss_mb])) } : {}),
        });
        if ((i + 1) % 6 === 0) console.error(`[bench]   soak ${i + 1}/${slices}: ${r.rps} req/s, p99 ${r.p99_ms} ms, RSS ${res.rss_mb} MB`);
      }
      return { slices: series.length, slice_seconds: 10, ...soakSummary(series), series };
    },
  },
];

/** Second window vs last window (a window is one minute, or a third of a shorter soak). */
export function soakSummary(series) {
  const per = Math.max(1, Math.min(6, Math.floor(series.length / 3)));
  const second = series.slice(per, 2 * per);
  const last = series.slice(-per);
  const mean = (xs, k) => round(xs.reduce((a, x) => a + (x[k] ?? 0), 0) / xs.length);
  const maxWorker = (xs) => round(Math.max(...xs.map((x) => Math.max(...Object.entries(x.rss_mb_per_process ?? { all: x.rss_mb }).filter(([k]) => k !== 'primary').map(([, v]) => v)))), 1);
  const out = {
    window_seconds: per * 10,
    second_window: { rss_mb: mean(second, 'rss_mb'), p99_ms: mean(second, 'p99_ms'), rps: mean(second, 'rps') },
    last_window: { rss_mb: mean(last, 'rss_mb'), p99_ms: mean(last, 'p99_ms'), rps: mean(last, 'rps') },
    max_worker_rss_mb: maxWorker(series),
    errors: series.reduce((a, x) => a + (x.errors ?? 0), 0),
  };
  out.rss_change = round(out.last_window.rss_mb / out.second_window.rss_mb - 1, 3);
  out.p99_change = round(out.last_window.p99_ms / out.second_window.p99_ms - 1, 3);
  return out;
}

export function toolVersions() {
  const v = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0]; } catch (e) { return (e.stdout ?? '').toString().trim().split('\n')[0] || null; } };
  return { node: process.version, npm: v('npm', ['--version']), wrk: v('wrk', ['--version']) };
}

