import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger } from '../config/logger.js';
import { RenLayerError } from '../core/errors.js';
import type { Database } from '../db/database.js';

// The database drivers (pg, PGlite) are loaded when a command opens a database, not for
// `--help`, `--version` or a usage error: every command starts faster.
const embedded = () => import('../db/embedded.js');
const postgres = () => import('../db/postgres.js');

export interface Runtime {
  config: Config;
  log: Logger;
}

/** `component` names the log lines; null when the command names its parts itself (`up`). */
export function loadRuntime(component: string | null, env: NodeJS.ProcessEnv = process.env): Runtime {
  const config = loadConfig(env);
  return { config, log: createLogger(config.logLevel, component === null ? undefined : { component }) };
}

/**
 * Standalone generates the encryption key and JWT secret once into the data directory (0600)
 * so a second start can read what the first one stored. Elsewhere they must be given.
 */
export function withStandaloneSecrets(config: Config): Config {
  if (config.encryptionKey && config.jwtSecret) return config;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const file = join(config.dataDir, 'secrets.json');
  let stored: { encryption_key: string; jwt_secret: string };
  if (existsSync(file)) {
    stored = JSON.parse(readFileSync(file, 'utf8'));
  } else {
    stored = { encryption_key: randomBytes(32).toString('base64'), jwt_secret: randomBytes(48).toString('base64') };
    writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  }
  return {
    ...config,
    encryptionKey: config.encryptionKey ?? Buffer.from(stored.encryption_key, 'base64'),
    jwtSecret: config.jwtSecret ?? Buffer.from(stored.jwt_secret, 'base64'),
  };
}

/** Servers on a PostgreSQL server need the encryption key; only standalone generates one. */
export function requireServerSecrets(config: Config): void {
  if (config.databaseUrl && !config.encryptionKey) {
    throw new RenLayerError('config_invalid',
      'RENLAYER_ENCRYPTION_KEY is required with RENLAYER_DATABASE_URL: 32 random bytes in base64, e.g. from `openssl rand -base64 32`');
  }
}

/** Servers: the configured PostgreSQL, or the embedded one where allowed. */
export async function openServerDatabase(config: Config, component: 'proxy' | 'api' | 'up'): Promise<{ db: Database; config: Config }> {
  if (config.databaseUrl) {
    requireServerSecrets(config);
    const { openPostgres } = await postgres();
    return { db: openPostgres({ connectionString: config.databaseUrl, max: 10, applicationName: `renlayer-${component}` }), config };
  }
  if (component !== 'up' && !config.embedded) {
    throw new RenLayerError('config_invalid',
      `renlayer ${component} needs RENLAYER_DATABASE_URL (or RENLAYER_EMBEDDED=1 for a single-process trial); \`renlayer up\` runs everything on the embedded database`);
  }
  const { openEmbeddedOwner } = await embedded();
  return { db: await openEmbeddedOwner(config.dataDir), config: withStandaloneSecrets(config) };
}

/** Admin commands: the configured PostgreSQL, or the embedded one (through its owner if running). */
export async function openAdminDatabase(config: Config): Promise<{ db: Database; config: Config }> {
  const db = config.databaseUrl
    ? (await postgres()).openPostgres({ connectionString: config.databaseUrl, max: 2, applicationName: 'renlayer-admin' })
    : await (await embedded()).openEmbeddedClient(config.dataDir);
  try {
    const { migrate } = await import('../db/migrate.js');
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, config: config.databaseUrl ? config : withStandaloneSecrets(config) };
}

/** Runs fn with an admin database and closes it afterwards, whatever happens. */
export async function withAdminDatabase<T>(fn: (db: Database, rt: Runtime) => Promise<T>): Promise<T> {
  const rt = loadRuntime('admin');
  const { db, config } = await openAdminDatabase(rt.config);
  try {
    return await fn(db, { ...rt, config });
  } finally {
    await db.close();
  }
}
