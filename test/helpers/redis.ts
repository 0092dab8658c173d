import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real Redis for the tests. With RENLAYER_TEST_REDIS_URL (CI sets it) that server, shared by
 * every test file, so tests keep to key prefixes and tenant ids of their own; otherwise a
 * `redis-server` started on a free loopback port in a temporary directory, stopped afterwards.
 * With neither, REDIS_UNAVAILABLE says why, for `describe.skipIf`.
 */
export const TEST_REDIS_URL = process.env.RENLAYER_TEST_REDIS_URL || undefined;

function redisServerOnPath(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Whether a private server can be started (tests that pause or stop Redis want their own). */
export const REDIS_SERVER_ON_PATH = redisServerOnPath();

export const REDIS_UNAVAILABLE: string | null =
  TEST_REDIS_URL || REDIS_SERVER_ON_PATH ? null : 'no Redis: set RENLAYER_TEST_REDIS_URL or install redis-server';
if (REDIS_UNAVAILABLE) console.warn(`skipping Redis tests: ${REDIS_UNAVAILABLE}`);

export interface TestRedis {
  url: string;
  host: string;
  port: number;
  kind: 'external' | 'spawned';
  close(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  if (TEST_REDIS_URL) {
    const u = new URL(TEST_REDIS_URL);
    return { url: TEST_REDIS_URL, host: u.hostname, port: Number(u.port || 6379), kind: 'external', close: async () => {} };
  }
  return spawnRedis();
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server: no persistence, loopback only. The port is picked free just before the
 * start; in the rare race where another process takes it, the start is retried on another.
 */
export async function spawnRedis(): Promise<TestRedis> {
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'renlayer-redis-'));
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = await new Promise<{ ok: boolean; output: string }>((resolve) => {
      let output = '';
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('Ready to accept connections')) resolve({ ok: true, output });
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', () => resolve({ ok: false, output }));
      child.once('error', (err) => resolve({ ok: false, output: output + String(err) }));
    });
    if (started.ok) {
      const host = '127.0.0.1';
      return { url: `redis://${host}:${port}`, host, port, kind: 'spawned', close: () => stop(child, dir) };
    }
    lastError = started.output.trim().split('\n').slice(-3).join(' | ');
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error(`redis-server did not start: ${lastError}`);
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
