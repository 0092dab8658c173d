import cluster from 'node:cluster';
import { newId } from '../core/ids.js';
import { output, JSON_OPTION, type Command } from './command.js';
import { tuneHeap, workerExecArgv } from './heap.js';
import { stopOnSignal } from './lifecycle.js';
import { loadRuntime, openAdminDatabase, openServerDatabase, requireServerSecrets } from './runtime.js';

const NO_MIGRATE = { 'no-migrate': { type: 'boolean', description: 'do not apply schema migrations at start' } } as const;

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply the schema migrations to the configured database (safe to run from several processes at once).',
  usage: 'migrate [--json]',
  options: { ...JSON_OPTION },
  async run(args) {
    const rt = loadRuntime('migrate');
    // openAdminDatabase migrates as it opens.
    const { db } = await openAdminDatabase(rt.config);
    const version = await db.query<{ v: number }>('SELECT max(version) AS v FROM renlayer.schema_migrations');
    await db.close();
    output(args, { version: version.rows[0]?.v ?? 0 }, `schema at version ${version.rows[0]?.v ?? 0}`);
  },
};

export const mockUpstreamCommand: Command = {
  name: 'mock-upstream',
  summary: 'Run the OpenAI-, Anthropic- and MCP-compatible mock model (for demos, tests and benchmarks).',
  usage: 'mock-upstream [--listen HOST:PORT]',
  options: { listen: { type: 'string', description: 'address (default MOCK_LISTEN_ADDR or 127.0.0.1:9090)' } },
  async run(args) {
    const rt = loadRuntime('mock');
    const { startMockUpstream, mockOptionsFromEnv } = await import('../mock/server.js');
    const mock = await startMockUpstream(mockOptionsFromEnv(process.env, args.values.listen as string | undefined));
    rt.log.info({ url: mock.url }, 'mock upstream listening');
    return stopOnSignal(rt.log, () => mock.close());
  },
};

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'Run the data plane. RENLAYER_WORKERS processes share the listening port (sidecar: set 1).',
  usage: 'proxy [--no-migrate]',
  options: { ...NO_MIGRATE },
  async run(args) {
    const rt = loadRuntime('proxy');
    const workers = rt.config.databaseUrl ? rt.config.workers : 1;
    if (workers > 1 && cluster.isPrimary) {
      // Checked before forking: a worker that fails this stays up on its IPC channel, so the
      // primary would wait forever without listening.
      requireServerSecrets(rt.config);
      return runPrimary(rt.log, workers, !args.values['no-migrate'], rt.config.redisUrl);
    }
    tuneHeap();
    const { db, config } = await openServerDatabase(rt.config, 'proxy');
    const [{ migrate }, { startProxy }] = await Promise.all([import('../db/migrate.js'), import('../proxy/server.js')]);
    // Workers leave migrations to the primary, which ran them before forking.
    if (!args.values['no-migrate'] && cluster.isPrimary) await migrate(db);
    // One instance id per node: the workers of a gateway replica report as one instance.
    const instanceId = process.env.RL_PROXY_INSTANCE_ID;
    const topology = workers === 1 ? 'sidecar' : 'gateway';
    const proxy = await startProxy({ config, db, log: rt.log.child({ pid: process.pid }), topology, instanceId });
    return stopOnSignal(rt.log, async () => {
      await proxy.close();
      await db.close();
    });
  },
};

/** The primary of a multi-worker proxy: migrates once, forks, restarts a worker that dies. */
async function runPrimary(log: import('pino').Logger, workers: number, runMigrations: boolean, redisUrl: string | undefined): Promise<number> {
  if (runMigrations) {
    const rt = loadRuntime('proxy');
    const { db } = await openAdminDatabase(rt.config);
    await db.close();
  }
  let stopping = false;
  (await import('../proxy/metrics.js')).serveClusterMetrics();
  // Without Redis the workers count rate limits here, so the host enforces each limit once.
  if (!redisUrl) (await import('../limits/workers.js')).serveLimiterToWorkers();
  const env = { RL_PROXY_INSTANCE_ID: newId('px') };
  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  const fork = () => cluster.fork(env);
  for (let i = 0; i < workers; i++) fork();
  // A worker that dies is replaced; workers that keep dying at start (bad configuration, the
  // database unreachable with --no-migrate) are a crash loop, and the primary gives up on it.
  const recentDeaths: number[] = [];
  let giveUp: ((code: number) => void) | null = null;
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const now = Date.now();
    recentDeaths.push(now);
    while (recentDeaths.length > 0 && recentDeaths[0]! < now - 30_000) recentDeaths.shift();
    if (recentDeaths.length >= 5) {
      log.error({ deaths: recentDeaths.length }, 'proxy workers keep dying at start; giving up (see their errors above)');
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      giveUp?.(1);
      return;
    }
    log.error({ worker_pid: worker.process.pid, code, signal }, 'proxy worker died; starting a new one');
    setTimeout(fork, 100 * recentDeaths.length);
  });
  return new Promise((resolve) => {
    giveUp = resolve;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping proxy workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      const check = setInterval(() => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearInterval(check);
          resolve(0);
        }
      }, 50);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export const apiCommand: Command = {
  name: 'api',
  summary: 'Run the Platform API (REST under /v1, OpenAPI at /v1/openapi.json).',
  usage: 'api [--no-migrate]',
  options: { ...NO_MIGRATE },
  async run(args) {
    const rt = loadRuntime('api');
    const { db } = await openServerDatabase(rt.config, 'api');
    const [{ migrate }, { startApi }] = await Promise.all([import('../db/migrate.js'), import('../api/app.js')]);
    if (!args.values['no-migrate']) await migrate(db);
    const api = await startApi({ db, log: rt.log, host: rt.config.apiListen.host, port: rt.config.apiListen.port });
    return stopOnSignal(rt.log, async () => {
      await api.close();
      await db.close();
    });
  },
};
