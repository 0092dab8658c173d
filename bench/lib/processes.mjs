// Child processes of the benchmark: started with the hard file-descriptor limit (1,000
// connections need more than the common soft limit of 1,024), waited for, measured and always
// killed — on normal exit, on an error and on SIGINT/SIGTERM.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';

const children = new Set();
const cleanups = [];
let interrupted = null;

/** The signal that is stopping the run, or null. */
export const interruptedBy = () => interrupted;

/** Work to do before the process ends on a signal (dropping the scratch database, say). */
export function onSignalCleanup(fn) {
  cleanups.push(fn);
}

/** Kills every child still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function killAll(graceMs = 3_000) {
  const alive = [...children];
  await Promise.all(alive.map((c) => stop(c, graceMs)));
}

let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  // A synchronous last resort: the event loop is gone at 'exit', so only kill() works here.
  process.on('exit', () => {
    for (const c of children) {
      try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = signal;
      console.error(`\n[bench] ${signal}: stopping every child`);
      killAll(1_000)
        .then(() => Promise.allSettled(cleanups.map((fn) => fn())))
        .finally(() => process.exit(130));
    });
  }
}

/**
 * Starts `command args` with the soft descriptor limit raised to the hard one. `exec` keeps the
 * pid, so the returned child's pid is the program's own. Output is kept (last 64 KiB) for errors.
 */
export function startProcess(name, command, args, { env = {}, cwd } = {}) {
  hookExit();
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', command, ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = { name, child, pid: child.pid, output: '', exited: null, lineWaiters: [] };
  const onData = (d) => {
    proc.output = (proc.output + d).slice(-65_536);
    for (const w of proc.lineWaiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  proc.exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    proc.exited = { code, signal };
    children.delete(proc);
    for (const w of proc.lineWaiters) w();
    resolve(proc.exited);
  }));
  children.add(proc);
  return proc;
}

/** Resolves with the first output line for which `test(line)` returns a value; rejects on exit or timeout. */
export function waitForLine(proc, test, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.lineWaiters = proc.lineWaiters.filter((w) => w !== check);
      fn(v);
    };
    const check = () => {
      for (const line of proc.output.split('\n')) {
        const v = test(line);
        if (v) return finish(resolve, v);
      }
      if (proc.exited) finish(reject, new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}) before it was ready:\n${proc.output.slice(-3000)}`));
    };
    const timer = setTimeout(() => finish(reject, new Error(`${proc.name} not ready after ${timeoutMs} ms:\n${proc.output.slice(-3000)}`)), timeoutMs);
    proc.lineWaiters.push(check);
    check();
  });
}

/** Polls `url` until it answers `okStatus` (any status when null). */
export async function waitForHttp(url, { proc, timeoutMs = 30_000, okStatus = 200, init } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc?.exited) throw new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}):\n${proc.output.slice(-3000)}`);
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (okStatus === null || res.status === okStatus) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})${proc ? `:\n${proc.output.slice(-3000)}` : ''}`);
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
export async function stop(proc, graceMs = 5_000) {
  if (!proc || proc.exited) return;
  try { proc.child.kill('SIGTERM'); } catch { /* gone */ }
  const timer = setTimeout(() => { try { proc.child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
  await proc.exitPromise;
  clearTimeout(timer);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Direct children of `pid` (every thread's children list, from /proc). */
export function childPids(pid) {
  const out = new Set();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const p of text.split(/\s+/)) if (p) out.add(Number(p));
    }
  } catch { /* gone */ }
  return [...out];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
