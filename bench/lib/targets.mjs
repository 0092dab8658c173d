// The targets: what receives the benchmark's traffic. Each is started, measured and stopped in
// turn, so they never compete for the two cores. A target may need a different process for some
// scenarios (the peer's streaming install): `variant(scenario)` names it, and the runner restarts
// the target when the variant changes.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, stop, waitForLine } from './processes.mjs';
import { peerForwardHeaders, peerHeaders, startPeer } from './peer.mjs';
import { startRenlayerProxy } from './renlayer.mjs';

const BENCH = fileURLToPath(new URL('..', import.meta.url));

export function buildTargets(ctx) {
  const renlayer = (id, label, tenant, workers, extra = {}) => ({
    id, label, kind: 'renlayer', workers, full: tenant === 'full', ...extra,
    async start() {
      const port = await freePort();
      // Workers inherit the primary's flags, so each process of the target writes its own profile.
      const profileDir = ctx.profileDir ? join(ctx.profileDir, id) : undefined;
      const proc = await startRenlayerProxy(ctx.db, { port, workers, redisUrl: ctx.redisUrl, profileDir });
      const t = ctx.tenants[tenant];
      return { proc, port, url: `http://127.0.0.1:${port}`, tenantId: t.tenantId, key: t.key, headers: { authorization: `Bearer ${t.key}`, 'x-renlayer-user': 'bench-user' } };
    },
  });
  return [
    {
      id: 'mock', label: 'mock upstream directly', kind: 'mock', workers: 1,
      async start() {
        return { proc: ctx.mock.proc, port: ctx.mock.port, url: ctx.mock.url, headers: {}, shared: true };
      },
    },
    {
      id: 'passthrough', label: 'bare undici pass-through (bench/passthrough.mjs)', kind: 'passthrough', workers: 1,
      async start() {
        const port = await freePort();
        const proc = startProcess('passthrough', process.execPath, [join(BENCH, 'passthrough.mjs'), '--listen', `127.0.0.1:${port}`, '--upstream', ctx.mock.url]);
        await waitForLine(proc, (l) => l.includes('passthrough listening'));
        return { proc, port, url: `http://127.0.0.1:${port}`, headers: {} };
      },
    },
    {
      id: 'peer', label: `${ctx.peer.package}@${ctx.peer.version} (one process, as its start script runs it)`, kind: 'peer', workers: 1,
      variant: (scenario) => (scenario.stream ? 'streaming' : 'as_published'),
      async start(variant) {
        const install = ctx.peer[variant];
        if (!install || install.error) throw new Error(`peer not installed: ${install?.error ?? 'unknown'}`);
        const port = await freePort();
        const proc = await startPeer(join(BENCH, variant === 'streaming' ? '.peer-stream' : '.peer'), port);
        return { proc, port, url: `http://127.0.0.1:${port}`, headers: peerHeaders(ctx.mock.url), forwardHeaders: peerForwardHeaders, note: variant === 'streaming' ? `@hono/node-server pinned to ${install.hono_node_server}` : undefined };
      },
    },
    renlayer('renlayer-auth', 'RenLayer, auth only (no policies or limits, DLP detectors disabled, trace rows without bodies), 1 worker', 'auth', 1),
    renlayer('renlayer-full-w1', 'RenLayer, full pipeline, RENLAYER_WORKERS=1 (sidecar)', 'full', 1),
    renlayer('renlayer-full-w2', 'RenLayer, full pipeline, RENLAYER_WORKERS=2', 'full', 2, { soak: true }),
  ];
}

export async function stopTarget(running) {
  if (running && !running.shared) await stop(running.proc);
}
