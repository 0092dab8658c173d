import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/renlayer.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A clean environment: nothing RenLayer-related leaks in from the shell running the tests. */
export function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_OPTIONS']) if (process.env[k]) env[k] = process.env[k];
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command did not end within timeoutMs and was killed. */
  hung: boolean;
}

/**
 * Runs a renlayer command to completion. A command expected to end that does not is killed after
 * timeoutMs and reported as hung, so a regression fails with a message instead of stalling.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, hung });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface Running {
  child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Port parsed from the first log line with msg `message` and a `listen` field. */
  port: number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts a long-running renlayer command and waits for the log line announcing `message`
 * (e.g. "proxy listening"), whose `listen` field gives the port.
 */
export function startServer(args: string[], env: NodeJS.ProcessEnv, message: string, timeoutMs = 30_000): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(code ?? (signal ? 128 : null))));
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`renlayer ${args.join(' ')} did not log "${message}" within ${timeoutMs} ms\nstderr:\n${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => {
      err += d;
      if (done) return;
      for (const line of err.split('\n')) {
        if (!line.startsWith('{')) continue;
        let rec: { msg?: string; listen?: string; url?: string };
        try {
          rec = JSON.parse(line);
        } catch {
          continue;
        }
        if (rec.msg === message) {
          done = true;
          clearTimeout(timer);
          const port = Number(String(rec.listen ?? rec.url ?? '').split(':').pop());
          resolve({
            child,
            port,
            stdout: () => out,
            stderr: () => err,
            async stop(signal: NodeJS.Signals = 'SIGTERM') {
              if (child.exitCode === null && child.signalCode === null) child.kill(signal);
              return exited;
            },
          });
          return;
        }
      }
    });
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`renlayer ${args.join(' ')} exited with ${code} before "${message}"\nstderr:\n${err}`));
    });
  });
}
