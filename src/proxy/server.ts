import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { newId } from '../core/ids.js';
import type { Database } from '../db/database.js';
import { startMaintenance, type Topology } from './maintenance.js';
import { ProxyMetrics, scrape } from './metrics.js';
import { Pipeline } from './pipeline.js';
import { ConfigSnapshot } from './snapshot.js';
import { TraceWriter } from './traces.js';
import { Upstreams } from './upstream.js';
import { createLimiter, RedisLimiter } from '../limits/index.js';

export interface ProxyHandle {
  server: Server;
  port: number;
  snapshot: ConfigSnapshot;
  traces: TraceWriter;
  /** Stop accepting, finish in-flight calls, flush traces (SIGTERM). */
  close(): Promise<void>;
}

export interface ProxyOptions {
  config: Config;
  db: Database;
  log: Logger;
  topology: Topology;
  instanceId?: string;
}

const LISTEN_BACKLOG = 4096;

/** Paths the proxy answers itself; every other path is forwarded. */
const OWN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

async function databaseAnswers(db: Database): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 1_000);
  });
  try {
    return await Promise.race([db.query('SELECT 1').then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function plain(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startProxy(opts: ProxyOptions): Promise<ProxyHandle> {
  const { config, db, log } = opts;
  const instanceId = opts.instanceId ?? newId('px');
  const metrics = new ProxyMetrics();
  const snapshot = new ConfigSnapshot(db, log, {
    encryptionKey: config.encryptionKey,
    onReload: (_tenant, changedAt) => {
      if (changedAt && snapshot.ready) metrics.propagation.observe(Math.max(0, Date.now() - changedAt.getTime()) / 1000);
    },
  });
  const traces = new TraceWriter(db, log, { spoolDir: config.spoolDir, maxJournalBytes: config.spoolMaxBytes });
  const upstreams = new Upstreams(config.upstreamTimeoutMs);
  // Redis when configured (a fleet shares its counters); otherwise in-process, counted in the
  // cluster primary when there are several workers, so a host enforces one limit, not N.
  const limiter = createLimiter({
    redisUrl: config.redisUrl,
    log,
    workers: true,
    onModeChange: (mode) => metrics.rateLimitFallback.set(mode === 'fallback' ? 1 : 0),
  });
  if (limiter instanceof RedisLimiter) await limiter.ready(2_000);
  const pipeline = new Pipeline({
    snapshot,
    traces,
    upstreams,
    log,
    maxBodyBytes: config.maxBodyBytes,
    defaultUpstream: config.defaultUpstream,
    instanceId,
    metrics,
    encryptionKey: config.encryptionKey,
    traceBodyMaxBytes: config.traceBodyMaxBytes,
    limiter,
  });
  metrics.sampleWith(() => {
    metrics.traceQueue.set(traces.queueDepth);
    metrics.journalBytes.set(traces.journalBytes);
    metrics.traceOutage.set(traces.inOutage ? 1 : 0);
    metrics.configVersion.set(snapshot.version);
    metrics.configAge.set(snapshot.loadedAt ? (Date.now() - snapshot.loadedAt) / 1000 : 0);
    metrics.poolConnections.reset();
    metrics.poolQueued.reset();
    for (const p of upstreams.stats()) {
      metrics.poolConnections.set({ origin: p.origin, state: 'busy' }, p.connected - p.free);
      metrics.poolConnections.set({ origin: p.origin, state: 'free' }, p.free);
      metrics.poolQueued.set({ origin: p.origin }, p.queued);
    }
  });

  let closing = false;
  traces.start();
  // Serve health at once; keep trying to load the snapshot while the database is away.
  const loading = (async () => {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        await snapshot.start();
        log.info({ version: snapshot.version }, 'configuration snapshot loaded');
        return;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'cannot load the configuration snapshot yet; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
      if (closing) return;
    }
  })();

  const server = createServer({ noDelay: true, requestTimeout: 0 }, (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (OWN_PATHS.has(path)) {
      if (path === '/healthz') return plain(res, 200, { status: 'ok' });
      if (path === '/metrics') {
        void scrape(metrics).then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(text);
          },
          (err: Error) => plain(res, 500, { status: 'error', reason: err.message }),
        );
        return;
      }
      void (async () => {
        if (!snapshot.ready) return plain(res, 503, { status: 'not_ready', reason: 'configuration snapshot not loaded yet' });
        if (!(await databaseAnswers(db))) return plain(res, 503, { status: 'not_ready', reason: 'PostgreSQL does not answer' });
        plain(res, 200, { status: 'ready', config_version: snapshot.version });
      })();
      return;
    }
    // No Set of the calls in flight: a long-lived Set that every call joins and leaves rebuilds
    // its table every few dozen calls, and the table it leaves behind in the old generation still
    // points at the calls then in flight. A young-generation collection cannot tell that table is
    // dead, so those calls' objects survived until the next full collection: 8–10 KB promoted a
    // call, a full collection every 0.3 s at 3,000 req/s, and GC 120–160 µs of a call's CPU
    // (20 µs without; bench/README.md). closeAllConnections() ends what is in flight at shutdown.
    res.on('close', () => {
      // While shutting down, the keep-alive connection a finished call leaves behind must be
      // closed: server.close() only closed the connections idle when it was called, and would
      // otherwise wait for the agent to drop this one (up to the 30 s bound below).
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    if (closing) res.setHeader('connection', 'close');
    // The pipeline answers its own failures; this is the net under it, so that a bug there
    // costs one call, not the process (an unhandled rejection ends a Node process).
    pipeline.handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'unexpected error in the proxy pipeline');
      if (res.headersSent) res.destroy();
      else plain(res, 500, { error: { code: 'internal_error', message: 'internal error in the RenLayer proxy' } });
    });
  });
  // Longer than common load balancers' idle timeouts, so they close first and never race us.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A fleet of agents reconnecting at once (a deploy, a load balancer failover) must not find
    // the accept queue full: Node's default of 511 dropped SYNs here under 1,000 new connections,
    // and each dropped SYN costs the agent a 1 s, then 3 s retransmit. The kernel caps it at
    // net.core.somaxconn.
    server.listen({ port: config.listen.port, host: config.listen.host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ listen: `${config.listen.host}:${port}`, instance_id: instanceId }, 'proxy listening');
  const stopMaintenance = startMaintenance({
    db, log, instanceId, topology: opts.topology, workers: config.workers, listen: `${config.listen.host}:${port}`,
    retentionDays: config.traceRetentionDays, configVersion: () => snapshot.version,
  });

  return {
    server,
    port,
    snapshot,
    traces,
    async close() {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight calls finish (streams included); a bound keeps a stuck one from hanging shutdown.
        const deadline = setTimeout(() => server.closeAllConnections(), 30_000);
        deadline.unref();
      });
      await loading.catch(() => {});
      await stopMaintenance();
      await snapshot.stop();
      await traces.close();
      await upstreams.close();
      await limiter.close();
      log.info({ written: traces.written }, 'proxy stopped');
    },
  };
}
