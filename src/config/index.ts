import { ConfigError } from './errors.js';
import { formatAddress, maskUrl } from './parsers.js';
import { CONFIG_VARIABLES, SCHEMA } from './schema.js';
import type { Config, Variable } from './schema.js';
import { closestName } from './suggest.js';

export { ConfigError } from './errors.js';
export { ANY_HOST, LOG_LEVELS, formatAddress, maskUrl } from './parsers.js';
export type { Address, LogLevel } from './parsers.js';
export { CONFIG_VARIABLES } from './schema.js';
export type { Config, ConfigVariable } from './schema.js';
export { renderConfigHelp, renderConfigMarkdown } from './help.js';

const PREFIX = 'RENLAYER_';
/** Reserved for the test harness (e.g. RENLAYER_TEST_DATABASE_URL); never read here. */
const TEST_PREFIX = 'RENLAYER_TEST_';

type Entry = readonly [keyof Config, Variable<unknown>];
const ENTRIES = Object.entries(SCHEMA) as unknown as readonly Entry[];
const KNOWN_NAMES: readonly string[] = CONFIG_VARIABLES.map((variable) => variable.name);

function rejectUnknownVariables(env: NodeJS.ProcessEnv): void {
  const unknown = Object.keys(env)
    .filter((name) => name.startsWith(PREFIX) && !name.startsWith(TEST_PREFIX) && !KNOWN_NAMES.includes(name))
    .sort();
  const first = unknown[0];
  if (first === undefined) return;
  const suggestion = closestName(first, KNOWN_NAMES, PREFIX);
  const hint = suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`;
  const more = unknown.length > 1 ? `; also unknown: ${unknown.slice(1).join(', ')}` : '';
  throw new ConfigError(first, `${first} is not a RenLayer setting${hint}${more}`, 'unknown_variable');
}

/**
 * Reads and validates every RENLAYER_* variable. Throws ConfigError (one line, no secrets) on
 * the first unknown variable or malformed value. Values are trimmed, and an empty value counts
 * as unset. Apart from `env`, reads only the CPU count and the working directory (to make paths
 * absolute).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  rejectUnknownVariables(env);
  const config: Partial<Record<keyof Config, unknown>> = {};
  for (const [key, variable] of ENTRIES) {
    const raw = env[variable.name]?.trim();
    config[key] = variable.read(raw === '' ? undefined : raw, variable.name, config as Partial<Config>);
  }
  return config as Config;
}

const UNSET = '(unset)';

/** A log-safe view for the start-up line: secrets as "(set)"/"(unset)", URL passwords masked. */
export function describeConfig(c: Config): Record<string, unknown> {
  const url = (value: string | undefined): string => (value === undefined ? UNSET : maskUrl(value));
  const secret = (value: Buffer | undefined): string => (value === undefined ? UNSET : '(set)');
  return {
    databaseUrl: url(c.databaseUrl),
    embedded: c.embedded,
    dataDir: c.dataDir,
    apiUrl: url(c.apiUrl),
    listen: formatAddress(c.listen),
    apiListen: formatAddress(c.apiListen),
    defaultUpstream: url(c.defaultUpstream),
    logLevel: c.logLevel,
    workers: c.workers,
    redisUrl: url(c.redisUrl),
    encryptionKey: secret(c.encryptionKey),
    jwtSecret: secret(c.jwtSecret),
    smtpUrl: url(c.smtpUrl),
    maxBodyBytes: c.maxBodyBytes,
    upstreamTimeoutMs: c.upstreamTimeoutMs,
    spoolDir: c.spoolDir,
    spoolMaxBytes: c.spoolMaxBytes,
    traceRetentionDays: c.traceRetentionDays,
    traceBodyMaxBytes: c.traceBodyMaxBytes,
  } satisfies Record<keyof Config, unknown>;
}
