// Configuration propagation under load: a policy change committed in PostgreSQL, then the time
// until every worker enforces it. Probes go over keep-alive connections whose serving worker is
// known (the server side of each connection is found in /proc/net/tcp and in the workers' fds),
// so "every worker" is checked, not assumed. The proxy's own histogram
// (renlayer_config_propagation_seconds, commit time of the transaction → reload, per worker) is
// read from /metrics before and after, as a second opinion.
import { Agent, request } from 'node:http';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { childPids, sleep } from './processes.mjs';
import { quantile, round } from './stats.mjs';
import { ROOT } from './renlayer.mjs';

const PROBE_HEADER = 'x-bench-probe';

function post(agent, port, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, localPort: req.socket?.localPort ?? res.socket?.localPort }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Server-side socket inode of the connection from client port `clientPort` to `serverPort`. */
function serverInode(serverPort, clientPort) {
  const hex = (n) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[1].endsWith(`:${hex(serverPort)}`) && f[2].endsWith(`:${hex(clientPort)}`)) return f[9];
    }
  }
  return null;
}

function ownerOf(inode, pids) {
  const target = `socket:[${inode}]`;
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try { if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid; } catch { /* closed meanwhile */ }
      }
    } catch { /* gone */ }
  }
  return null;
}

async function histogram(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const buckets = {};
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('renlayer_config_propagation_seconds')) continue;
    const le = /le="([^"]+)"/.exec(line);
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('renlayer_config_propagation_seconds_bucket') && le) buckets[le[1]] = (buckets[le[1]] ?? 0) + value;
    else if (line.startsWith('renlayer_config_propagation_seconds_sum')) sum += value;
    else if (line.startsWith('renlayer_config_propagation_seconds_count')) count += value;
  }
  return { buckets, sum, count };
}

/**
 * Runs `trials` policy changes against a proxy under load (the caller runs the load). Returns the
 * commit → enforced-on-every-worker times and the proxy's own histogram over the same changes.
 */
export async function measurePropagation({ port, primaryPid, workers, db, tenantId, key, body, trials }) {
  const { savePolicy } = await import(join(ROOT, 'dist/store/policies.js'));
  const workerPids = workers > 1 ? childPids(primaryPid) : [primaryPid];
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-renlayer-user': 'bench-probe' };
  // Keep-alive lanes, opened until every worker serves at least two of them.
  const lanes = [];
  const perWorker = new Map(workerPids.map((p) => [p, 0]));
  for (let i = 0; i < 64 && [...perWorker.values()].some((n) => n < 2); i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const r = await post(agent, port, { ...headers, [PROBE_HEADER]: 'warm-up' }, body);
    const inode = serverInode(port, r.localPort);
    const pid = inode ? ownerOf(inode, workerPids) : null;
    if (pid === null) { agent.destroy(); continue; }
    perWorker.set(pid, perWorker.get(pid) + 1);
    lanes.push({ agent, pid });
  }
  const uncovered = workerPids.filter((p) => perWorker.get(p) === 0);
  const before = await histogram(port);
  const results = [];
  for (let trial = 1; trial <= trials; trial++) {
    const value = `probe-${trial}-${Date.now()}`;
    const probe = { ...headers, [PROBE_HEADER]: value };
    const pre = await Promise.all(lanes.map((l) => post(l.agent, port, probe, body)));
    if (pre.some((r) => r.status !== 200)) throw new Error(`probe refused before the change: ${pre.map((r) => r.status).join(',')}`);
    const writeStart = performance.now();
    await db.query('BEGIN');
    await savePolicy(db, tenantId, {
      name: 'bench-propagation-probe', action: 'DENY', priority: 1, message: 'propagation probe',
      conditions: [{ field: 'header', op: 'equals', name: PROBE_HEADER, value }],
    }, 'bench');
    await db.query('COMMIT');
    const committed = performance.now();
    const deadline = committed + 10_000;
    const perLane = await Promise.all(lanes.map(async (l) => {
      for (;;) {
        const r = await post(l.agent, port, probe, body);
        const now = performance.now();
        if (r.status === 403) return { pid: l.pid, ms: now - committed };
        if (now > deadline) return { pid: l.pid, ms: null };
      }
    }));
    const byWorker = {};
    for (const p of perLane) byWorker[p.pid] = p.ms === null || byWorker[p.pid] === null ? null : Math.max(byWorker[p.pid] ?? 0, p.ms);
    const values = Object.values(byWorker);
    results.push({
      trial,
      write_ms: round(committed - writeStart),
      every_worker_ms: values.includes(null) ? null : round(Math.max(...values)),
      per_worker_ms: Object.fromEntries(Object.entries(byWorker).map(([pid, ms]) => [pid, round(ms)])),
    });
    await sleep(500);
  }
  for (const l of lanes) l.agent.destroy();
  const after = await histogram(port);
  const times = results.map((r) => r.every_worker_ms ?? Infinity).sort((a, b) => a - b);
  const count = after.count - before.count;
  const within = (le) => (after.buckets[le] ?? 0) - (before.buckets[le] ?? 0);
  return {
    trials,
    method: 'DENY policy on a probe header saved with the product\'s savePolicy in one transaction; each worker probed over its own keep-alive connections until it answers 403; time from COMMIT acknowledged to the first 403 received (so one request\'s latency under load is included)',
    workers_probed: workerPids.length - uncovered.length,
    ...(uncovered.length ? { workers_not_reached: uncovered } : {}),
    every_worker_p50_ms: round(quantile(times, 0.5)),
    every_worker_p99_ms: round(quantile(times, 0.99)),
    every_worker_max_ms: round(times[times.length - 1]),
    failed: results.filter((r) => r.every_worker_ms === null).length,
    results,
    proxy_histogram: {
      reloads: count,
      mean_ms: count > 0 ? round(((after.sum - before.sum) / count) * 1000) : null,
      within_250ms: count > 0 ? round(within('0.25') / count, 3) : null,
      within_100ms: count > 0 ? round(within('0.1') / count, 3) : null,
    },
  };
}
