import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/fixtures.js';
import { baseEnv, runCli, startServer, type Running } from './helpers/processes.js';

// `renlayer up` as a first-time user meets it (SPEC §1 "Standalone", "Command-line contract"):
// one command on a fresh data directory, the printed curl, `renlayer traces tail`, a restart.
// It always runs on the embedded database, whatever RENLAYER_TEST_DATABASE_URL says.

const SLOW = 120_000;

let dataDir: string;
let first: Running | undefined;
let second: Running | undefined;

/** What the first start printed and what we learned from it. */
let banner = '';
let demoKey = '';
let firstTraceId = '';

beforeAll(() => {
  // Short, because the embedded database's Unix socket lives inside it (108-byte limit).
  dataDir = mkdtempSync('/tmp/rl-up-');
});

afterAll(async () => {
  await second?.stop('SIGKILL');
  await first?.stop('SIGKILL');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function env() {
  return baseEnv({
    RENLAYER_DATA_DIR: dataDir,
    RENLAYER_LISTEN_ADDR: '127.0.0.1:0',
    RENLAYER_API_LISTEN_ADDR: '127.0.0.1:0',
    MOCK_LISTEN_ADDR: '127.0.0.1:0',
    RENLAYER_LOG_LEVEL: 'info',
  });
}

/** `renlayer up`, returned once its banner (printed after everything listens) is complete. */
async function startUp(): Promise<Running> {
  const running = await startServer(['up'], env(), 'Platform API listening', 90_000);
  await eventually(async () => running.stdout().includes('traces tail'), 15_000);
  return running;
}

interface PrintedCurl {
  command: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The curl command as printed (backslash-continued lines) and its parts. */
function parseCurl(text: string): PrintedCurl {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith('curl '));
  expect(start, `no curl in:\n${text}`).toBeGreaterThanOrEqual(0);
  const parts: string[] = [];
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!.trim();
    parts.push(line.replace(/\\$/, '').trim());
    if (!line.endsWith('\\')) break;
  }
  const command = parts.join(' ');
  const url = /curl -s (\S+)/.exec(command)?.[1];
  const body = /-d '([^']*)'/.exec(command)?.[1];
  const headers: Record<string, string> = {};
  for (const m of command.matchAll(/-H "([^":]+):\s*([^"]*)"/g)) headers[m[1]!.toLowerCase()] = m[2]!;
  expect(url, command).toBeDefined();
  expect(body, command).toBeDefined();
  return { command, url: url!, headers, body: body! };
}

async function send(curl: PrintedCurl, key?: string) {
  const headers = { ...curl.headers };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(curl.url, { method: 'POST', headers, body: curl.body });
  return { status: res.status, traceId: res.headers.get('x-renlayer-trace-id'), json: (await res.json().catch(() => null)) as Record<string, any> | null };
}

async function tracesTail(): Promise<Record<string, any>[]> {
  const r = await runCli(['traces', 'tail', '--json'], baseEnv({ RENLAYER_DATA_DIR: dataDir, RENLAYER_LOG_LEVEL: 'warn' }));
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, any>[];
}


function portOf(running: Running, message: string): number {
  for (const line of running.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    const rec = JSON.parse(line) as { msg?: string; listen?: string };
    if (rec.msg === message) return Number(rec.listen!.split(':').pop());
  }
  throw new Error(`no "${message}" line in:\n${running.stderr()}`);
}

describe('renlayer up in a fresh data directory', () => {
  it('prints the demo operator, the demo key and a curl aimed at its proxy', async () => {
    first = await startUp();
    banner = first.stdout();
    expect(banner).toContain('admin@demo.local');
    const keys = banner.match(/rl_live_[0-9A-Za-z]{38}/g) ?? [];
    expect(keys.length, banner).toBeGreaterThan(0);
    demoKey = keys[0]!;
    // One key, shown as itself and used in the curl.
    expect(new Set(keys)).toEqual(new Set([demoKey]));
    const curl = parseCurl(banner);
    expect(curl.headers.authorization).toBe(`Bearer ${demoKey}`);
    expect(new URL(curl.url).port).toBe(String(portOf(first, 'proxy listening')));
    // Logs go to stderr, not into the banner.
    expect(banner).not.toContain('"msg"');
  }, SLOW);

  it('answers the printed request with a chat completion', async () => {
    const curl = parseCurl(banner);
    const r = await send(curl);
    expect(r.status).toBe(200);
    expect(r.json?.object).toBe('chat.completion');
    expect(r.json?.choices?.[0]?.message?.content).toContain('Hello from RenLayer');
    expect(r.traceId).toMatch(/^trace_[0-9A-HJKMNP-TV-Z]{26}$/);
    firstTraceId = r.traceId!;
  });

  it('answers the printed curl command itself, run by a shell', async () => {
    const curl = parseCurl(banner);
    const out = await new Promise<string>((resolve, reject) => {
      execFile('sh', ['-c', curl.command], { timeout: 20_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${curl.command}\n${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const json = JSON.parse(out) as Record<string, any>;
    expect(json.object).toBe('chat.completion');
    expect(json.choices[0].message.content).toContain('Hello from RenLayer');
  });

  it('shows the call in `renlayer traces tail --json` while up is running, with the same trace id', async () => {
    expect(firstTraceId).not.toBe('');
    const rows = await eventually(async () => {
      const all = await tracesTail();
      return all.some((r) => r.id === firstTraceId) ? all : undefined;
    }, 20_000, 200);
    expect(rows.find((r) => r.id === firstTraceId)).toMatchObject({
      status: 'ALLOWED', reason: null, action_type: 'chat_completion', http_status: 200,
    });
    expect(rows.find((r) => r.id === firstTraceId)?.agent_id).toMatch(/^agt_/);
  }, SLOW);

  it('refuses a second `renlayer up` on the same data directory while the first runs', async () => {
    const r = await runCli(['up'], env(), { timeoutMs: 60_000 });
    expect(r.hung, `the second up kept running:\n${r.stderr}`).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/in use/);
    expect(r.stdout).not.toMatch(/rl_live_/);
    // The first one is unharmed.
    expect((await send(parseCurl(banner))).status).toBe(200);
  }, SLOW);

  it('stops on SIGTERM with exit code 0 and closes its ports', async () => {
    const proxyUrl = parseCurl(banner).url;
    const code = await first!.stop('SIGTERM');
    first = undefined;
    expect(code).toBe(0);
    await expect(fetch(proxyUrl, { method: 'POST' })).rejects.toThrow();
  }, SLOW);

  it('lets admin commands open the data directory directly while nothing runs', async () => {
    const rows = await tracesTail();
    expect(rows.map((r) => r.id)).toContain(firstTraceId);
  }, SLOW);

  it('starts again on the same data: no new key, the first key still works, the first trace is kept', async () => {
    second = await startUp();
    const out = second.stdout();
    expect(out).toContain('admin@demo.local');
    expect(out).not.toMatch(/rl_live_/);
    const curl = parseCurl(out);
    const r = await send(curl, demoKey);
    expect(r.status).toBe(200);
    expect(r.json?.object).toBe('chat.completion');
    const rows = await eventually(async () => {
      const all = await tracesTail();
      return all.some((row) => row.id === r.traceId) ? all : undefined;
    }, 20_000, 200);
    const ids = rows.map((row) => row.id);
    expect(ids).toContain(firstTraceId);
    // Newest first.
    expect(ids.indexOf(r.traceId!)).toBeLessThan(ids.indexOf(firstTraceId));
    expect(await second.stop('SIGTERM')).toBe(0);
    second = undefined;
  }, SLOW);
});
