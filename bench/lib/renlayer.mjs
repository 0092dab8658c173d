// RenLayer under test: a scratch PostgreSQL database (created, migrated, dropped), tenants
// provisioned with `renlayer apply -f`, keys minted with `renlayer key create`, and
// `renlayer proxy` started with a given number of workers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { childPids, startProcess, waitForHttp, waitForLine, sleep } from './processes.mjs';
import { authOnlyTenant, fullTenant } from './tenant-config.mjs';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/renlayer.js');

/** A scratch database on the PostgreSQL server, with the environment every renlayer command gets. */
export class ScratchDatabase {
  constructor(serverUrl) {
    this.serverUrl = serverUrl;
    this.name = `renlayer_bench_${Date.now()}`;
    const url = new URL(serverUrl);
    url.pathname = `/${this.name}`;
    this.url = url.toString();
    this.dir = mkdtempSync(join(tmpdir(), 'renlayer-bench-'));
    this.env = {
      RENLAYER_DATABASE_URL: this.url,
      RENLAYER_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      RENLAYER_DATA_DIR: join(this.dir, 'data'),
      RENLAYER_LOG_LEVEL: 'warn',
    };
  }

  async create() {
    this.admin = new pg.Client({ connectionString: this.serverUrl });
    await this.admin.connect();
    await this.admin.query(`CREATE DATABASE ${this.name}`);
    this.created = true;
    execFileSync(process.execPath, [BIN, 'migrate'], { env: { PATH: process.env.PATH, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    this.client = new pg.Client({ connectionString: this.url });
    await this.client.connect();
  }

  async drop() {
    if (this.dropped) return;
    this.dropped = true;
    await this.client?.end().catch(() => {});
    if (this.created) await this.admin.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`).catch((err) => console.error(`[bench] could not drop ${this.name}: ${err.message}`));
    await this.admin?.end().catch(() => {});
  }

  cli(args) {
    const out = execFileSync(process.execPath, [BIN, ...args, '--json'], { env: { PATH: process.env.PATH, ...this.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out);
  }

  /** Applies a tenant file and mints a key for its agent "bench"; returns {tenantId, key}. */
  async provision(tenant, yamlText) {
    const file = join(this.dir, `${tenant}.yaml`);
    writeFileSync(file, yamlText);
    const applied = this.cli(['apply', '-f', file]);
    const key = this.cli(['key', 'create', '--tenant', tenant, '--agent', 'bench']);
    const secret = key.secret ?? key.key?.secret;
    if (!secret) throw new Error(`renlayer key create printed no secret: ${JSON.stringify(key)}`);
    return { tenantId: applied.tenant.id, key: secret, file };
  }
}

/** The built-in DLP classes, from the product's own list. */
export async function builtinClasses() {
  const { BUILTIN_CLASSES } = await import(join(ROOT, 'dist/dlp/detectors/index.js'));
  return [...BUILTIN_CLASSES];
}

export async function provisionTenants(db, mockUrl) {
  const stamp = Date.now().toString(36);
  const auth = await db.provision(`bench-auth-${stamp}`, authOnlyTenant(`bench-auth-${stamp}`, mockUrl, await builtinClasses()));
  const full = await db.provision(`bench-full-${stamp}`, fullTenant(`bench-full-${stamp}`, mockUrl));
  return { auth, full };
}

/** `renlayer proxy` with `workers` workers on `port`; resolves once every worker listens and /readyz answers. */
export async function startRenlayerProxy(db, { port, workers, redisUrl, profileDir }) {
  const env = {
    ...db.env,
    RENLAYER_WORKERS: String(workers),
    RENLAYER_LISTEN_ADDR: `127.0.0.1:${port}`,
    RENLAYER_LOG_LEVEL: 'info',
    ...(redisUrl ? { RENLAYER_REDIS_URL: redisUrl } : {}),
  };
  // --trace-gc-nvp (workers inherit it): one line per collection, counted by countCollections.
  const proc = startProcess(`renlayer proxy (${workers} worker${workers > 1 ? 's' : ''})`, process.execPath,
    [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), '--trace-gc-nvp', BIN, 'proxy', '--no-migrate'], { env });
  countCollections(proc);
  // Every worker listens, then loads its configuration snapshot on its own and says so.
  const count = (msg) => proc.output.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
  await waitForLine(proc, () => count('proxy listening') >= workers && count('configuration snapshot loaded') >= workers, 60_000);
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, { proc, timeoutMs: 60_000 });
  if (workers > 1) {
    for (let i = 0; i < 50 && childPids(proc.pid).length < workers; i++) await sleep(100);
  }
  return proc;
}

/**
 * V8's collections in every process of the target, from --trace-gc-nvp: bytes promoted into the
 * old generation by scavenges, and full collections. Promotion per call is the regression this
 * catches: a long-lived collection that every call joins and leaves once made each call's objects
 * outlive the young generation (8–10 KB promoted a call, a full collection every 0.3 s), which
 * no CPU profile showed (bench/README.md).
 */
function countCollections(proc) {
  proc.gc = { promoted: 0, scavenges: 0, full: 0 };
  let partial = '';
  const onData = (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const l of lines) {
      if (l.includes('gc=s ')) {
        proc.gc.scavenges++;
        const m = /\bpromoted=(\d+)/.exec(l);
        if (m) proc.gc.promoted += Number(m[1]);
      } else if (l.includes('gc=mc ')) proc.gc.full++;
    }
  };
  proc.child.stdout.on('data', onData);
}
