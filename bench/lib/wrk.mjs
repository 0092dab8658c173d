// wrk: installed from Debian's packages when missing, driven with a Lua script per target, its
// report parsed into numbers.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from './processes.mjs';

export function ensureWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return;
  } catch (err) {
    if (err.code !== 'ENOENT') return; // `wrk --version` exits 1 after printing its version
  }
  console.error('[bench] wrk is missing: installing it from Debian packages');
  try {
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk'], { stdio: 'inherit' });
  } catch {
    throw new Error('wrk is not installed and apt-get could not install it: install wrk (Debian package "wrk") and run again');
  }
}

/** Writes a wrk Lua script sending one POST with `headers` and `body`; returns its path. */
export function luaScript(dir, name, { headers, body }) {
  const file = join(dir, `${name}.lua`);
  const lines = ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(body)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
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
  const t = Math.max(1, Math.min(threads, connections));
  const args = ['-c', String(connections), '-t', String(t), '-d', `${seconds}s`, '--timeout', `${timeoutSeconds}s`, '--latency', '-s', script, url];
  const proc = startProcess('wrk', 'wrk', args);
  until?.then(() => { if (!proc.exited) proc.child.kill('SIGINT'); });
  const exit = await proc.exitPromise;
  if (exit.code !== 0) throw new Error(`wrk ${args.join(' ')} exited ${JSON.stringify(exit)}:\n${proc.output}`);
  return parseWrk(proc.output);
}
