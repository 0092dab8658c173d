// The load generator: wrk, installed from Debian's packages when missing, driven with a Lua
// script per target, its report parsed into numbers. Where wrk cannot be had (no apt-get, no
// root), autocannon is installed on demand into bench/.tools and run in this process instead,
// its results read into the same shape; the results file says which one measured.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from './processes.mjs';

const AUTOCANNON_VERSION = '8.0.0';
const TOOLS = fileURLToPath(new URL('../.tools', import.meta.url));

/** 'wrk' or 'autocannon': what runWrk drives. */
let generator = 'wrk';

function hasWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return err.code !== 'ENOENT'; // `wrk --version` exits 1 after printing its version
  }
}

/** Makes a load generator available; returns its name and version for the results. */
export function ensureWrk({ preferAutocannon = false } = {}) {
  if (!preferAutocannon && hasWrk()) return { generator: (generator = 'wrk') };
  if (!preferAutocannon) {
    console.error('[bench] wrk is missing: installing it from Debian packages');
    try {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'], { stdio: 'inherit' });
      if (hasWrk()) return { generator: (generator = 'wrk') };
    } catch {
      // falls back to autocannon below
    }
    console.error(`[bench] apt-get could not install wrk: using autocannon ${AUTOCANNON_VERSION} instead`);
  }
  installAutocannon();
  return { generator: (generator = 'autocannon'), version: AUTOCANNON_VERSION };
}

function installAutocannon() {
  const manifest = join(TOOLS, 'node_modules', 'autocannon', 'package.json');
  if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).version === AUTOCANNON_VERSION) return;
  mkdirSync(TOOLS, { recursive: true });
  writeFileSync(join(TOOLS, 'package.json'), JSON.stringify({ private: true, description: 'benchmark tools, installed by bench/lib/wrk.mjs', dependencies: { autocannon: AUTOCANNON_VERSION } }, null, 2) + '\n');
  console.error(`[bench] installing autocannon@${AUTOCANNON_VERSION} into ${TOOLS}`);
  try {
    execFileSync('npm', ['install', '--prefix', TOOLS, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  } catch (err) {
    throw new Error(`neither wrk nor autocannon could be installed: install wrk (Debian package "wrk") and run again (${err.stderr?.toString().trim() || err.message})`);
  }
}

/**
 * Writes a wrk Lua script sending one POST with `headers` and `body`; returns it with the
 * request itself, which autocannon takes directly.
 */
export function luaScript(dir, name, { headers, body }) {
  const file = join(dir, `${name}.lua`);
  const lines = ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(body)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return { path: file, headers, body };
}

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

export function parseWrk(out) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk printed no result:\n${out}`);
  const ms = (label) => {
    const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? Number((Number(m[1]) * UNIT_MS[m[2]]).toFixed(3)) : null;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] } : null;
  return {
    rps: Number(Number(rps[1]).toFixed(1)),
    requests,
    p50_ms: ms('50'),
    p90_ms: ms('90'),
    p99_ms: ms('99'),
    non2xx,
    errors: non2xx + (socketErrors ? socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout : 0),
    ...(socketErrors ? { socket_errors: socketErrors } : {}),
  };
}

/**
 * Runs wrk and returns its parsed report: after `seconds`, or earlier when `until` resolves (wrk
 * stops on SIGINT and still prints its report).
 */
export async function runWrk(url, { connections, threads, seconds, script, timeoutSeconds = 10, until }) {
  if (generator === 'autocannon') return runAutocannon(url, { connections, seconds, script, timeoutSeconds, until });
  const t = Math.max(1, Math.min(threads, connections));
  const args = ['-c', String(connections), '-t', String(t), '-d', `${seconds}s`, '--timeout', `${timeoutSeconds}s`, '--latency', '-s', script.path, url];
  const proc = startProcess('wrk', 'wrk', args);
  until?.then(() => { if (!proc.exited) proc.child.kill('SIGINT'); });
  const exit = await proc.exitPromise;
  if (exit.code !== 0) throw new Error(`wrk ${args.join(' ')} exited ${JSON.stringify(exit)}:\n${proc.output}`);
  return parseWrk(proc.output);
}

/** The same measurement with autocannon (in this process), in runWrk's shape. */
async function runAutocannon(url, { connections, seconds, script, timeoutSeconds, until }) {
  const autocannon = createRequire(join(TOOLS, 'package.json'))('autocannon');
  const instance = autocannon({ url, connections, duration: seconds, timeout: timeoutSeconds, method: 'POST', headers: script.headers, body: script.body });
  until?.then(() => instance.stop());
  const r = await new Promise((resolve, reject) => {
    instance.on('done', resolve);
    instance.on('error', reject);
  });
  const ms = (x) => (x == null ? null : Number(Number(x).toFixed(3)));
  const errors = (r.errors ?? 0) + (r.timeouts ?? 0);
  return {
    rps: Number((r.requests.total / Math.max(r.duration, 0.001)).toFixed(1)),
    requests: r.requests.total,
    p50_ms: ms(r.latency.p50),
    p90_ms: ms(r.latency.p90),
    p99_ms: ms(r.latency.p99),
    non2xx: r.non2xx ?? 0,
    errors: (r.non2xx ?? 0) + errors,
    ...(errors ? { socket_errors: { connect: 0, read: r.errors ?? 0, write: 0, timeout: r.timeouts ?? 0 } } : {}),
  };
}
