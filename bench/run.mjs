#!/usr/bin/env node
// Benchmarks the proxy against the mock model directly, on this machine, in one run:
//   npm run bench [-- --duration 10]
// Starts the mock upstream and `renlayer proxy` (embedded database, one worker), drives both
// with wrk (installed from Debian's packages when missing), and writes bench/results/<date>.json.
// Load generator, mock and proxy share the machine's cores: compare ratios within one run.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/renlayer.js');
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const duration = Number(option('--duration') ?? 10);
// Default: the embedded database (PGlite, in the proxy's own process). --database-url runs the
// proxy against a PostgreSQL server instead, as production does.
const databaseUrl = option('--database-url');

function ensureWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    if (err.code !== 'ENOENT' && err.status !== 1) throw err;
    if (err.code === 'ENOENT') {
      console.error('[bench] installing wrk from Debian packages');
      execFileSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq wrk'], { stdio: 'inherit' });
    }
  }
}

function start(cmdArgs, env, message) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...cmdArgs], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      for (const line of err.split('\n')) {
        if (!line.includes(`"msg":"${message}"`)) continue;
        const rec = JSON.parse(line);
        resolve({ child, port: Number(String(rec.listen ?? rec.url).split(':').pop()) });
      }
    });
    child.on('exit', (code) => reject(new Error(`renlayer ${cmdArgs.join(' ')} exited ${code}:\n${err}`)));
  });
}

function cli(cmdArgs, env) {
  return JSON.parse(execFileSync(process.execPath, [BIN, ...cmdArgs, '--json'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }));
}

/** CPU seconds and RSS of a process, from /proc. */
function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const rss = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  return { cpuSeconds: ticks / 100, rssBytes: rss };
}

function wrk(url, { connections, threads, seconds, script }) {
  const out = execFileSync('wrk', ['-c', String(connections), '-t', String(threads), '-d', `${seconds}s`, '--latency', '-s', script, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const ms = (label) => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!m) return null;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? null;
  return { rps, p50_ms: ms('50'), p99_ms: ms('99'), non2xx, socket_errors: errors };
}

function luaScript(dir, key) {
  // A ~2 KB chat prompt, the size of a typical agent turn with some context.
  const prompt = 'Summarise the following support conversation and propose the next step. '.repeat(28);
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are a helpful support agent.' }, { role: 'user', content: prompt }] });
  const file = join(dir, `chat-${key ? 'proxy' : 'direct'}.lua`);
  writeFileSync(file, [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(body)}`,
    'wrk.headers["Content-Type"] = "application/json"',
    key ? `wrk.headers["Authorization"] = "Bearer ${key}"` : '',
  ].join('\n'));
  return file;
}

async function main() {
  ensureWrk();
  const work = mkdtempSync(join(tmpdir(), 'renlayer-bench-'));
  const dataDir = join(work, 'data');
  const env = databaseUrl
    ? { RENLAYER_DATABASE_URL: databaseUrl, RENLAYER_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'), RENLAYER_DATA_DIR: dataDir, RENLAYER_LOG_LEVEL: 'warn' }
    : { RENLAYER_DATA_DIR: dataDir, RENLAYER_LOG_LEVEL: 'warn' };
  const tenant = `bench-${Date.now()}`;
  const mock = await start(['mock-upstream', '--listen', '127.0.0.1:0'], { RENLAYER_LOG_LEVEL: 'info' }, 'mock upstream listening');
  const mockUrl = `http://127.0.0.1:${mock.port}`;
  // Provision through the CLI before the proxy owns the embedded database.
  cli(['tenant', 'create', '--name', tenant], env);
  const agent = cli(['agent', 'create', '--tenant', tenant, '--name', 'bench-agent', '--upstream', mockUrl], env);
  const proxy = await start(['proxy'], { ...env, ...(databaseUrl ? {} : { RENLAYER_EMBEDDED: '1' }), RENLAYER_WORKERS: '1', RENLAYER_LOG_LEVEL: 'info', RENLAYER_LISTEN_ADDR: '127.0.0.1:0' }, 'proxy listening');
  const proxyUrl = `http://127.0.0.1:${proxy.port}`;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(proxyUrl + '/readyz').catch(() => null);
    if (r?.status === 200) break;
    await new Promise((res) => setTimeout(res, 100));
  }

  const direct = luaScript(work, null);
  const viaProxy = luaScript(work, agent.key.secret);
  const results = [];
  const run = (name, url, script, connections, threads, pid) => {
    wrk(url + '/v1/chat/completions', { connections, threads, seconds: 2, script }); // warm-up
    const before = pid ? procStats(pid) : null;
    const r = wrk(url + '/v1/chat/completions', { connections, threads, seconds: duration, script });
    const after = pid ? procStats(pid) : null;
    const row = { scenario: name, connections, ...r, ...(after ? { proxy_cpu_cores: (after.cpuSeconds - before.cpuSeconds) / duration, proxy_rss_mb: after.rssBytes / 1048576 } : {}) };
    results.push(row);
    console.error(`[bench] ${name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms`);
  };
  run('direct (mock), 50 connections', mockUrl, direct, 50, 2, null);
  run('renlayer (auth, DLP, traces), 50 connections', proxyUrl, viaProxy, 50, 2, proxy.child.pid);
  run('direct (mock), 1 connection', mockUrl, direct, 1, 1, null);
  run('renlayer (auth, DLP, traces), 1 connection', proxyUrl, viaProxy, 1, 1, proxy.child.pid);

  proxy.child.kill('SIGTERM');
  mock.child.kill('SIGTERM');

  const [d50, p50, d1, p1] = results;
  const summary = {
    throughput_ratio_to_direct: p50.rps / d50.rps,
    added_p50_ms_at_c1: p1.p50_ms - d1.p50_ms,
    added_p99_ms_at_c1: p1.p99_ms - d1.p99_ms,
  };
  const doc = {
    date: new Date().toISOString(),
    command: `npm run bench -- --duration ${duration}${databaseUrl ? ' --database-url <PostgreSQL>' : ''}`,
    database: databaseUrl ? 'PostgreSQL server (same machine)' : 'embedded PGlite (in the proxy process)',
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_gb: Math.round(totalmem() / 1e9), node: process.version },
    renlayer: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    note: 'wrk, the mock upstream and the proxy share the same cores; compare ratios within one run. Proxy: one worker; authentication, request and response DLP with every built-in detector, usage and trace rows (policies and limits are not built yet).',
    results,
    summary,
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `${doc.date.slice(0, 10)}-${databaseUrl ? 'postgres' : 'embedded'}.json`);
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  console.log('| scenario | req/s | p50 ms | p99 ms | proxy CPU (cores) | proxy RSS MB |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.scenario} | ${r.rps.toFixed(0)} | ${r.p50_ms} | ${r.p99_ms} | ${r.proxy_cpu_cores?.toFixed(2) ?? '–'} | ${r.proxy_rss_mb?.toFixed(0) ?? '–'} |`);
  }
  console.log(`\nthroughput vs direct: ${summary.throughput_ratio_to_direct.toFixed(2)}×; added latency at 1 connection: p50 ${summary.added_p50_ms_at_c1.toFixed(3)} ms, p99 ${summary.added_p99_ms_at_c1.toFixed(3)} ms`);
  console.log(`written to ${file}`);
  if (!existsSync(file)) process.exit(1);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
