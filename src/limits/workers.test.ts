import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryLimiter } from './memory.js';
import { SCENARIO_EPOCH_MS } from './scenarios.js';
import type { LimitRule, LimitSubject } from './types.js';
import { answerLimiterMessage, WorkerLimiter, type LimiterChannel } from './workers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const rule: LimitRule = { id: 'r', tenantId: 'ten_a', agentId: null, name: null, scope: 'per_tenant', dimension: 'requests', window: 'minute', limit: 40 };
const subject: LimitSubject = { tenantId: 'ten_a', agentId: 'agt_1', keyId: 'key_1', user: null };

function logCapture() {
  const warnings: string[] = [];
  return { warnings, log: { warn: (_o: unknown, msg: string) => void warnings.push(msg) } as unknown as Logger };
}

describe('limits shared by the workers of one host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'renlayer-workers-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts two worker processes in the primary: 60 concurrent checks on a 40/min rule allow exactly 40', async () => {
    // Real processes and a real IPC channel; the worker loads the TypeScript source through tsx.
    const script = join(dir, 'worker.mjs');
    writeFileSync(
      script,
      `import { WorkerLimiter } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/limits/workers.ts')).href)};
const limiter = new WorkerLimiter({ log: { warn: () => process.send({ type: 'test:warned' }) }, timeoutMs: 20000 });
process.on('message', async (m) => {
  if (m?.type !== 'test:run') return;
  const ds = await Promise.all(Array.from({ length: m.n }, () => limiter.check(m.rules, m.subject, m.now)));
  process.send({ type: 'test:done', allowed: ds.filter((d) => d.allowed).length });
});
process.send({ type: 'test:ready' });
`,
    );
    const primary = new MemoryLimiter();
    const start = () =>
      new Promise<ChildProcess>((resolve, reject) => {
        const child = fork(script, { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        child.on('message', (m: { type?: string }) => {
          if (answerLimiterMessage(primary, m, (r) => child.send(r))) return;
          if (m?.type === 'test:ready') resolve(child);
          if (m?.type === 'test:warned') reject(new Error('a worker fell back to counting alone'));
        });
        child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    const workers = await Promise.all([start(), start()]);
    const run = (child: ChildProcess) =>
      new Promise<number>((resolve) => {
        child.on('message', (m: { type?: string; allowed?: number }) => {
          if (m?.type === 'test:done') resolve(m.allowed!);
        });
        child.send({ type: 'test:run', n: 30, rules: [rule], subject, now: SCENARIO_EPOCH_MS });
      });
    const allowed = await Promise.all(workers.map(run));
    expect(allowed[0]! + allowed[1]!).toBe(40);
    expect((await primary.check([rule], subject, SCENARIO_EPOCH_MS)).allowed).toBe(false);
  });

  it('charges usage in the primary and answers checks from it', async () => {
    const primary = new MemoryLimiter();
    const listeners = new Set<(m: unknown) => void>();
    const channel: LimiterChannel = {
      // As over IPC: a copy, delivered later.
      send: (msg) => void setImmediate(() => answerLimiterMessage(primary, structuredClone(msg), (r) => setImmediate(() => listeners.forEach((l) => l(structuredClone(r)))))),
      on: (_e, l) => listeners.add(l),
      off: (_e, l) => listeners.delete(l),
    };
    const w = new WorkerLimiter({ log: logCapture().log, channel });
    const tokens: LimitRule = { ...rule, id: 'tok', dimension: 'tokens', limit: 100 };
    await w.charge([tokens, rule], subject, { tokens: 150, costUsd: 0 }, SCENARIO_EPOCH_MS);
    await new Promise((r) => setImmediate(r));
    const d = await w.check([tokens], subject, SCENARIO_EPOCH_MS);
    expect(d).toMatchObject({ allowed: false, breach: { ruleId: 'tok', used: 150, retryAfterS: 61 } });
    expect(listeners.size).toBe(0); // no listener left behind to hold the worker open
    await w.close();
  });

  it('sends the checks and charges of one event-loop turn as one message, in order', async () => {
    const primary = new MemoryLimiter();
    const sent: unknown[] = [];
    const listeners = new Set<(m: unknown) => void>();
    const channel: LimiterChannel = {
      send: (msg) => {
        sent.push(msg);
        setImmediate(() => answerLimiterMessage(primary, structuredClone(msg), (r) => setImmediate(() => listeners.forEach((l) => l(structuredClone(r))))));
      },
      on: (_e, l) => listeners.add(l),
      off: (_e, l) => listeners.delete(l),
    };
    const w = new WorkerLimiter({ log: logCapture().log, channel });
    const tokens: LimitRule = { ...rule, id: 'tok', dimension: 'tokens', limit: 100 };
    // The charge is made before the checks in the same turn: the primary must see it first.
    void w.charge([tokens], subject, { tokens: 150, costUsd: 0 }, SCENARIO_EPOCH_MS);
    const decisions = await Promise.all([
      ...Array.from({ length: 45 }, () => w.check([rule], subject, SCENARIO_EPOCH_MS)),
      w.check([tokens], subject, SCENARIO_EPOCH_MS),
    ]);
    expect(sent).toHaveLength(1);
    expect(decisions.slice(0, 45).filter((d) => d.allowed)).toHaveLength(40);
    expect(decisions[45]).toMatchObject({ allowed: false, breach: { ruleId: 'tok', used: 150 } });
    expect(listeners.size).toBe(0);
    await w.close();
  });

  describe('with more checks waiting than the worker keeps slots for', () => {
    const primary = new MemoryLimiter();
    const sent: Parameters<LimiterChannel['send']>[0][] = [];
    const listeners = new Set<(m: unknown) => void>();
    const channel: LimiterChannel = { send: (msg) => void sent.push(structuredClone(msg)), on: (_e, l) => listeners.add(l), off: (_e, l) => listeners.delete(l) };
    const answer = (msg: unknown) => {
      let out: unknown;
      answerLimiterMessage(primary, msg, (r) => (out = structuredClone(r)));
      return out;
    };
    const deliver = (reply: unknown) => listeners.forEach((l) => l(reply));
    const turn = () => new Promise((r) => setImmediate(r));

    it('answers each of 1,500 checks waiting at once with its own count', async () => {
      const w = new WorkerLimiter({ log: logCapture().log, channel, timeoutMs: 10_000 });
      const thousand = { ...rule, id: 'thousand', limit: 1000 };
      const decisions = Promise.all(Array.from({ length: 1500 }, () => w.check([thousand], subject, SCENARIO_EPOCH_MS)));
      await turn();
      expect(sent).toHaveLength(1);
      deliver(answer(sent[0]));
      const ds = await decisions;
      expect(ds.filter((d) => d.allowed)).toHaveLength(1000);
      expect(ds.slice(1000).every((d) => !d.allowed)).toBe(true);
      await w.close();
    });

    it('ignores a late answer for a check it answered alone, though a newer check holds its slot', async () => {
      sent.length = 0;
      const w = new WorkerLimiter({ log: logCapture().log, channel, timeoutMs: 20 });
      // Check 1 gets no answer in time and is answered from the worker's own count.
      expect((await w.check([{ ...rule, id: 'alone', limit: 5 }], subject, SCENARIO_EPOCH_MS)).allowed).toBe(true);
      const wide = { ...rule, id: 'wide', limit: 5000 };
      const decisions = Promise.all(Array.from({ length: 1024 }, () => w.check([wide], subject, SCENARIO_EPOCH_MS)));
      await turn();
      // The primary's late answer to check 1: full. Check 1025 sits in the same slot.
      deliver({ type: 'renlayer:limits:reply', answers: [[1, [5000], [30]]] });
      deliver(answer(sent[1]));
      expect((await decisions).every((d) => d.allowed)).toBe(true);
      await w.close();
    });
  });

  it('answers locally and warns once when the primary does not answer', async () => {
    const { log, warnings } = logCapture();
    const silent: LimiterChannel = { send: () => {}, on: () => {}, off: () => {} };
    const w = new WorkerLimiter({ log, channel: silent, timeoutMs: 10 });
    const one = { ...rule, limit: 1 };
    expect((await w.check([one], subject, SCENARIO_EPOCH_MS)).allowed).toBe(true);
    expect((await w.check([one], subject, SCENARIO_EPOCH_MS)).allowed).toBe(false);
    expect(warnings).toHaveLength(1);
    await w.close();
  });
});
