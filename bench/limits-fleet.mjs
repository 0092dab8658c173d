#!/usr/bin/env node
// Issue 5: a limit of 100 requests/minute enforced by three proxy processes sharing Redis, under
// concurrent load, must allow between 100 and 102 requests in the window — measured here.
//   npm run bench:limits [-- --database-url URL --redis-url URL --trials 5]
// Needs a PostgreSQL server (a scratch database is created and dropped) and Redis; defaults to the
// machine's own (postgres://postgres@127.0.0.1:5432, redis://127.0.0.1:6379). Writes
// bench/results/<date>-limits-fleet.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/renlayer.js');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const serverUrl = option('--database-url', 'postgres://postgres@127.0.0.1:5432/postgres');
const redisUrl = option('--redis-url', 'redis://127.0.0.1:6379');
const trials = Number(option('--trials', 5));
const LIMIT = 100;
const CALLS = 300;
const PROXIES = 3;

function start(cmdArgs, env, message) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...cmdArgs], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      for (const line of err.split('\n')) {
        if (!line.includes(`"msg":"${message}"`)) continue;
        const rec = JSON.parse(line);
        resolve({ child, port: Number(String(rec.listen ?? rec.url).split(':').pop()) });
      }
    });
    child.on('exit', (code) => reject(new Error(`renlayer ${cmdArgs.join(' ')} exited ${code}:\n${err}`)));
  });
}

const cli = (cmdArgs, env) => JSON.parse(execFileSync(process.execPath, [BIN, ...cmdArgs, '--json'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }));

async function main() {
  const dbName = `renlayer_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  const env = {
    RENLAYER_DATABASE_URL: url.toString(), RENLAYER_REDIS_URL: redisUrl, RENLAYER_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    RENLAYER_DATA_DIR: mkdtempSync(join(tmpdir(), 'renlayer-limits-')), RENLAYER_LOG_LEVEL: 'warn',
  };
  const children = [];
  try {
    execFileSync(process.execPath, [BIN, 'migrate'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    const mock = await start(['mock-upstream', '--listen', '127.0.0.1:0'], { RENLAYER_LOG_LEVEL: 'info' }, 'mock upstream listening');
    children.push(mock.child);
    const proxies = [];
    for (let i = 0; i < PROXIES; i++) {
      const p = await start(['proxy', '--no-migrate'], { ...env, RENLAYER_WORKERS: '1', RENLAYER_LOG_LEVEL: 'info', RENLAYER_LISTEN_ADDR: '127.0.0.1:0' }, 'proxy listening');
      children.push(p.child);
      proxies.push(`http://127.0.0.1:${p.port}`);
    }
    const db = new pg.Client({ connectionString: env.RENLAYER_DATABASE_URL });
    await db.connect();
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    const results = [];
    for (let trial = 1; trial <= trials; trial++) {
      const tenant = `fleet-${trial}-${Date.now()}`;
      cli(['tenant', 'create', '--name', tenant], env);
      const agent = cli(['agent', 'create', '--tenant', tenant, '--name', 'bot', '--upstream', `http://127.0.0.1:${mock.port}`], env);
      const tenantId = (await db.query('SELECT id FROM renlayer.tenants WHERE name = $1', [tenant])).rows[0].id;
      await db.query(`INSERT INTO renlayer.rate_limits (id, tenant_id, scope, dimension, "window", limit_value) VALUES ($1, $2, 'per_tenant', 'requests', 'minute', $3)`,
        [`lim_bench_${trial}_${Date.now()}`, tenantId, LIMIT]);
      await new Promise((r) => setTimeout(r, 1500)); // every proxy has the new tenant and limit
      const started = performance.now();
      const statuses = await Promise.all(Array.from({ length: CALLS }, async (_, i) => {
        const res = await fetch(proxies[i % PROXIES] + '/v1/chat/completions', {
          method: 'POST', headers: { authorization: `Bearer ${agent.key.secret}`, 'content-type': 'application/json' }, body,
        });
        await res.arrayBuffer();
        return res.status;
      }));
      const allowed = statuses.filter((s) => s === 200).length;
      const refused = statuses.filter((s) => s === 429).length;
      results.push({ trial, allowed, refused, other: CALLS - allowed - refused, seconds: +((performance.now() - started) / 1000).toFixed(2) });
      console.error(`[bench] trial ${trial}: ${allowed} allowed, ${refused} refused (429), ${CALLS - allowed - refused} other`);
    }
    await db.end();
    const doc = {
      benchmark: `${PROXIES} proxy processes sharing Redis, per-tenant limit ${LIMIT} requests/minute, ${CALLS} concurrent calls spread round-robin`,
      date: new Date().toISOString(),
      command: 'npm run bench:limits',
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, node: process.version },
      target: { min_allowed: LIMIT, max_allowed: LIMIT + 2 },
      trials: results,
      pass: results.every((r) => r.allowed >= LIMIT && r.allowed <= LIMIT + 2 && r.other === 0),
    };
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    const file = join(ROOT, `bench/results/${doc.date.slice(0, 10)}-limits-fleet.json`);
    writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
    console.log(`allowed per trial: ${results.map((r) => r.allowed).join(', ')} (target ${LIMIT}–${LIMIT + 2}): ${doc.pass ? 'met' : 'MISSED'}; written ${file}`);
    process.exitCode = doc.pass ? 0 : 1;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
