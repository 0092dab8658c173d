#!/usr/bin/env node
// The performance benchmark of issue 6, in one run on this machine:
//   npm run bench [-- --quick] [--duration 10] [--only mock,passthrough,peer,renlayer-auth,renlayer-full-w1,renlayer-full-w2]
//                 [--scenarios chat-c50,chat-c1,stream-ttfb,stream-1000,slow-c1000,propagation,soak]
//                 [--soak-minutes 10] [--compare bench/results/OLD.json]
//                 [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--redis-url redis://…]
//                 [--autocannon]   (measure with autocannon even where wrk is installed)
//                 [--profile]      (RenLayer under --cpu-prof: profiles in bench/.profiles/, summaries in the JSON)
// Starts the mock upstream, then each target in turn (mock directly, a bare undici pass-through,
// Portkey's gateway, RenLayer auth only, RenLayer full pipeline with 1 and 2 workers), drives it
// through each scenario with wrk or the SSE client in bench/lib/sse-client.mjs, reads CPU and RSS
// from /proc, and writes bench/results/<date>.json and a markdown table. wrk, the SSE client, the
// mock, the target and PostgreSQL share the machine's cores: compare ratios within one run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, interruptedBy, killAll, onSignalCleanup, startProcess, waitForLine, stop } from './lib/processes.mjs';
import { PEER_PACKAGE, PEER_VERSION, installPeer, peerForwardHeaders, peerHeaders } from './lib/peer.mjs';
import { ROOT, ScratchDatabase, provisionTenants } from './lib/renlayer.mjs';
import { SCENARIOS, chatBody, requestHeaders, toolVersions } from './lib/scenarios.mjs';
import { buildTargets, stopTarget } from './lib/targets.mjs';
import { compare, derive, markdown, warnings } from './lib/report.mjs';
import { machine } from './lib/stats.mjs';
import { ensureWrk, luaScript, runWrk } from './lib/wrk.mjs';
import { profileLines, summarizeProfiles } from './lib/profile.mjs';

const BIN = join(ROOT, 'bin/renlayer.js');
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    only: { type: 'string' },
    scenarios: { type: 'string' },
    'soak-minutes': { type: 'string' },
    compare: { type: 'string' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    'redis-url': { type: 'string' },
    autocannon: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1, 13).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

const quick = opt.quick;
const ctx = {
  duration: Number(opt.duration ?? (quick ? 3 : 10)),
  // Long enough for every worker's JIT to settle: a proxy runs for days, and 2 s left the second
  // worker measured half-warm.
  warmup: quick ? 1 : 5,
  startWarmup: quick ? 2 : 20,
  ttfbStreams: quick ? 40 : 200,
  streamSeconds: quick ? 4 : 10,
  soakMinutes: Number(opt['soak-minutes'] ?? (quick ? 1 : 10)),
  propagationTrials: quick ? 3 : 20,
  redisUrl: opt['redis-url'],
  work: mkdtempSync(join(tmpdir(), 'renlayer-bench-')),
  profileDir: opt.profile ? join(ROOT, 'bench/.profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined,
};
const list = (s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : null);
const onlyTargets = list(opt.only);
const onlyScenarios = list(opt.scenarios);

function command() {
  const a = process.argv.slice(2);
  return `npm run bench${a.length ? ' -- ' + a.join(' ') : ''}`;
}

async function startMock() {
  const port = await freePort();
  const proc = startProcess('mock upstream', process.execPath, [BIN, 'mock-upstream', '--listen', `127.0.0.1:${port}`], { env: { RENLAYER_LOG_LEVEL: 'info' } });
  await waitForLine(proc, (l) => l.includes('"msg":"mock upstream listening"'));
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

/**
 * A freshly started target runs the chat load for a while before its first measurement: with two
 * workers each JIT sees half the traffic, and 5 s left them measured half-warm (the soak, later
 * in the same run, showed 25 % more).
 */
async function warmUp(target) {
  const script = luaScript(ctx.work, `warmup-${target.id}`, { headers: requestHeaders(target), body: chatBody() });
  await runWrk(target.url + '/v1/chat/completions', { connections: 50, threads: 2, seconds: ctx.startWarmup, script });
}

/** One streamed call through the as-published peer: records whether its streaming works as installed. */
async function peerStreamCheck(url, mockUrl) {
  try {
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...peerHeaders(mockUrl), 'x-mock-chunks': '4', ...peerForwardHeaders(['x-mock-chunks']) }, body: chatBody({ stream: true }) });
    const text = await res.text();
    return `HTTP ${res.status}${res.status === 200 ? '' : `: ${text.slice(0, 120)}`}`;
  } catch (err) {
    return `error: ${err.message}`;
  }
}

async function main() {
  const loadGenerator = ensureWrk({ preferAutocannon: opt.autocannon });
  const startedAt = new Date();
  const doc = {
    benchmark: 'RenLayer beside a bare undici pass-through and Portkey\'s gateway (issue 6)',
    date: startedAt.toISOString(),
    command: command(),
    quick,
    machine: machine(),
    note: `wrk (or the SSE client), the mock upstream, the target and PostgreSQL share the same ${machine().cores} cores; targets run one at a time; compare ratios within one run.`,
    versions: { ...toolVersions(), load_generator: loadGenerator.generator === 'wrk' ? 'wrk'
      : `autocannon ${loadGenerator.version} (${opt.autocannon ? 'asked for' : 'wrk could not be installed'}; latencies in whole milliseconds)`, renlayer: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, ...gitState() },
    settings: { ...ctx, work: undefined, redisUrl: ctx.redisUrl ? 'set' : 'none (rate-limit counters in the proxy; with 2 workers in the cluster primary)' },
    targets: [],
    rows: [],
  };
  const benchDir = join(ROOT, 'bench');
  ctx.mock = await startMock();
  const db = new ScratchDatabase(opt['database-url']);
  ctx.db = db;
  onSignalCleanup(() => db.drop());
  try {
    let targets = buildTargets({ ...ctx, peer: { package: PEER_PACKAGE, version: PEER_VERSION } });
    if (onlyTargets) {
      const unknown = onlyTargets.filter((id) => !targets.some((t) => t.id === id));
      if (unknown.length) throw new Error(`--only: unknown target(s) ${unknown.join(', ')}; known: ${targets.map((t) => t.id).join(', ')}`);
      targets = targets.filter((t) => onlyTargets.includes(t.id));
    }
    let scenarios = SCENARIOS;
    if (onlyScenarios) {
      const unknown = onlyScenarios.filter((id) => !SCENARIOS.some((s) => s.id === id));
      if (unknown.length) throw new Error(`--scenarios: unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
      scenarios = SCENARIOS.filter((s) => onlyScenarios.includes(s.id));
    }
    if (targets.some((t) => t.kind === 'peer')) {
      ctx.peer = installPeer(benchDir);
      doc.peer = ctx.peer;
    }
    if (targets.some((t) => t.kind === 'renlayer')) {
      await db.create();
      ctx.tenants = await provisionTenants(db, ctx.mock.url);
      doc.renlayer_config = {
        database: 'PostgreSQL server on this machine, scratch database created and dropped by the run',
        auth_only: 'tenant with no policies and no limits, every built-in DLP detector disabled, store_bodies none; authentication, classification and one trace row per call remain',
        full: '10 policies of mixed conditions (none matches the traffic), every built-in DLP detector plus 5 custom patterns on request and response, per-agent and per-user limits on requests and tokens (never reached), trace rows with redacted bodies',
        tenant_files: { auth: readFileSync(ctx.tenants.auth.file, 'utf8'), full: readFileSync(ctx.tenants.full.file, 'utf8') },
      };
    }
    // Rebuilt with the peer's install details now known.
    ctx.peer ??= { package: PEER_PACKAGE, version: PEER_VERSION };
    targets = buildTargets(ctx).filter((t) => targets.some((x) => x.id === t.id));
    doc.targets = targets.map((t) => ({ id: t.id, label: t.label }));

    for (const target of targets) {
      if (interruptedBy()) break;
      const mine = scenarios.filter((s) => (s.only ? s.only(target) : true));
      // Scenarios of one variant run together, so a target is started once per variant.
      if (target.variant) {
        const order = [...new Set(mine.map((s) => target.variant(s)))];
        mine.sort((a, b) => order.indexOf(target.variant(a)) - order.indexOf(target.variant(b)));
      }
      if (mine.length === 0) continue;
      let running = null;
      let variant;
      const startErrors = new Map(); // variant → why it did not start
      for (const scenario of mine) {
        if (interruptedBy()) break;
        const want = target.variant ? target.variant(scenario) : 'default';
        const row = { scenario: scenario.id, target: target.id };
        if (startErrors.has(want)) {
          doc.rows.push({ ...row, error: startErrors.get(want) });
          continue;
        }
        try {
          if (!running || want !== variant) {
            await stopTarget(running);
            running = null;
            variant = want;
            console.error(`[bench] starting ${target.label}${want !== 'default' ? ` (${want})` : ''}`);
            try {
              running = { ...(await target.start(want)), id: target.id, kind: target.kind, workers: target.workers, full: target.full, soak: target.soak };
            } catch (err) {
              startErrors.set(want, `did not start: ${err.message.split('\n')[0]}`);
              throw err;
            }
            running.pid = running.proc.pid;
            if (target.kind === 'peer' && want === 'as_published' && ctx.peer.as_published) ctx.peer.as_published.stream_check = await peerStreamCheck(running.url, ctx.mock.url);
            await warmUp(running);
          }
          console.error(`[bench] ${scenario.id} → ${target.id}`);
          Object.assign(row, await scenario.run(running, ctx));
          if (running.note) row.note = running.note;
          console.error(`[bench]   ${summaryLine(row)}`);
        } catch (err) {
          row.error = err.message.split('\n')[0];
          console.error(`[bench]   ${scenario.id} → ${target.id} failed: ${err.message.slice(0, 1500)}`);
          if (running?.proc?.exited) { running = null; }
        }
        doc.rows.push(row);
      }
      await stopTarget(running);
      if (ctx.profileDir && target.kind === 'renlayer') {
        const summaries = summarizeProfiles(join(ctx.profileDir, target.id));
        (doc.profiles ??= {})[target.id] = summaries;
        for (const line of profileLines(target.id, summaries)) console.error(line);
      }
    }
  } finally {
    await stop(ctx.mock.proc);
    await killAll();
    await db.drop();
  }

  if (interruptedBy()) return; // the signal handler finishes the cleanup and exits
  doc.ratios = derive(doc.rows);
  doc.warnings = warnings(doc.rows);
  doc.finished = new Date().toISOString();
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  // A profiled run is slower by the profiler's overhead: never the file a README quotes.
  const suffix = (opt.profile ? '-profiled' : '') + (quick ? '-quick' : onlyTargets || onlyScenarios ? '-partial' : '');
  const file = join(ROOT, 'bench/results', `${doc.date.slice(0, 10)}${suffix}.json`);
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  console.log(markdown(doc));
  console.log(`\nwritten to ${file.slice(ROOT.length)}`);
  if (opt.compare) {
    const old = JSON.parse(readFileSync(opt.compare, 'utf8'));
    console.log(`\nnew/old against ${opt.compare} (${old.date}):\n`);
    console.log(compare(doc, old));
  }
}

/** The commit measured, and whether src/ differed from it (dist/ is built from the work tree). */
function gitState() {
  try {
    const git = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), src_modified: git('status', '--porcelain', '--', 'src') !== '' };
  } catch {
    return {};
  }
}

function summaryLine(r) {
  if (r.rps !== undefined) return `${r.rps} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}, CPU ${r.resources?.cpu_cores} cores, RSS ${r.resources?.rss_peak_mb} MB`;
  if (r.ttfb_p50_ms !== undefined && r.scenario === 'stream-ttfb') return `TTFB p50 ${r.ttfb_p50_ms} ms, p99 ${r.ttfb_p99_ms} ms, ${r.complete}/${r.streams} complete`;
  if (r.max_gap_ms !== undefined) return `${r.complete}/${r.streams} streams complete, longest gap ${r.max_gap_ms} ms, stalls ${r.stalls}, CPU ${r.resources?.cpu_cores}`;
  if (r.every_worker_p99_ms !== undefined) return `propagation p50 ${r.every_worker_p50_ms} ms, p99 ${r.every_worker_p99_ms} ms over ${r.trials} changes (${r.workers_probed} workers probed)`;
  if (r.second_window) return `soak RSS ${r.second_window.rss_mb} → ${r.last_window.rss_mb} MB, p99 ${r.second_window.p99_ms} → ${r.last_window.p99_ms} ms`;
  return JSON.stringify(r).slice(0, 200);
}

main().catch(async (err) => {
  console.error(err);
  await killAll();
  process.exit(1);
});
