import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import {
  integerParser,
  parseAddress,
  parseBoolean,
  parseEncryptionKey,
  parseJwtSecret,
  parseLogLevel,
  parsePath,
  parseSize,
  urlParser,
} from './parsers.js';
import type { Address, LogLevel, ValueParser } from './parsers.js';

export interface Config {
  /** RENLAYER_DATABASE_URL; undefined means the embedded database (standalone, or RENLAYER_EMBEDDED). */
  databaseUrl: string | undefined;
  embedded: boolean;
  /** Absolute. Holds the embedded database, generated secrets and the default spool. */
  dataDir: string;
  /** No trailing slash. */
  apiUrl: string;
  listen: Address;
  apiListen: Address;
  /** No trailing slash. */
  defaultUpstream: string | undefined;
  logLevel: LogLevel;
  workers: number;
  redisUrl: string | undefined;
  /** Exactly 32 bytes. */
  encryptionKey: Buffer | undefined;
  /** At least 32 bytes. */
  jwtSecret: Buffer | undefined;
  smtpUrl: string | undefined;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  /** Absolute. */
  spoolDir: string;
  /** Journal bound: past it the proxy answers 503 rather than serve unrecorded traffic. */
  spoolMaxBytes: number;
  traceRetentionDays: number;
  /** Largest redacted (and encrypted original) body kept on a trace, each. */
  traceBodyMaxBytes: number;
}

/** One environment variable: what the docs table and `--help` show, and how its value is read. */
export interface Variable<T> {
  name: string;
  /** Default as shown to people. */
  default: string;
  description: string;
  /** Shown in --help and the docs; not used for validation. */
  expected: string;
  secret: boolean;
  /**
   * `value` is trimmed and undefined when unset or empty; `variable` is this entry's name;
   * `earlier` holds the fields read before this one.
   */
  read(value: string | undefined, variable: string, earlier: Readonly<Partial<Config>>): T;
}

const DEFAULT_DATA_DIR = './.renlayer';
/** setTimeout's ceiling: a larger delay fires after 1 ms instead (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function optional<T>(parse: ValueParser<T>) {
  return (value: string | undefined, variable: string): T | undefined =>
    value === undefined ? undefined : parse(value, variable);
}

/** The default goes through the same parser, so the shown default and the used one cannot drift apart. */
function withDefault<T>(parse: ValueParser<T>, fallback: string) {
  return (value: string | undefined, variable: string): T => parse(value ?? fallback, variable);
}

const parseAbsolutePath: ValueParser<string> = (value, variable) => resolve(parsePath(value, variable));

/**
 * The one table of RenLayer settings, in the order they are read (spool after data dir).
 * Keyed by Config field, so a field without a variable, or a parser of the wrong type, does not compile.
 */
export const SCHEMA: { readonly [K in keyof Config]: Variable<Config[K]> } = {
  databaseUrl: {
    name: 'RENLAYER_DATABASE_URL',
    default: 'unset: embedded PGlite in the data dir; `proxy` and `api` need RENLAYER_EMBEDDED=1 for that',
    description: 'PostgreSQL connection string, shared by proxy and API.',
    expected: 'postgres:// or postgresql:// URL',
    secret: true,
    read: optional(
      urlParser({
        schemes: ['postgres', 'postgresql'],
        example: 'postgres://USER:PASSWORD@HOST:5432/DATABASE',
        secret: true,
        requireHost: false,
        base: false,
      }),
    ),
  },
  embedded: {
    name: 'RENLAYER_EMBEDDED',
    default: 'false',
    description: 'Let `proxy` and `api` use the embedded PGlite database when RENLAYER_DATABASE_URL is unset.',
    expected: '1, true, 0 or false',
    secret: false,
    read: withDefault(parseBoolean, 'false'),
  },
  dataDir: {
    name: 'RENLAYER_DATA_DIR',
    default: DEFAULT_DATA_DIR,
    description: 'Directory for the embedded database, generated secrets and the trace spool; relative paths resolve against the working directory.',
    expected: 'directory path',
    secret: false,
    read: withDefault(parseAbsolutePath, DEFAULT_DATA_DIR),
  },
  apiUrl: {
    name: 'RENLAYER_API_URL',
    default: 'http://127.0.0.1:8081',
    description: 'Base URL of the Platform API, used by the proxy for links in errors and for registering itself.',
    expected: 'http:// or https:// URL',
    secret: false,
    read: withDefault(
      urlParser({ schemes: ['http', 'https'], example: 'http://127.0.0.1:8081', secret: false, requireHost: true, base: true }),
      'http://127.0.0.1:8081',
    ),
  },
  listen: {
    name: 'RENLAYER_LISTEN_ADDR',
    default: '127.0.0.1:8080',
    description: 'Proxy bind address. `:PORT` binds every IPv4 interface (0.0.0.0); port 0 picks a free port.',
    expected: 'HOST:PORT, [IPV6]:PORT or :PORT',
    secret: false,
    read: withDefault(parseAddress, '127.0.0.1:8080'),
  },
  apiListen: {
    name: 'RENLAYER_API_LISTEN_ADDR',
    default: '127.0.0.1:8081',
    description: 'Platform API and console bind address; same forms as RENLAYER_LISTEN_ADDR.',
    expected: 'HOST:PORT, [IPV6]:PORT or :PORT',
    secret: false,
    read: withDefault(parseAddress, '127.0.0.1:8081'),
  },
  defaultUpstream: {
    name: 'RENLAYER_DEFAULT_UPSTREAM',
    default: 'unset: a request for an agent without an upstream gets 502 no_upstream',
    description: 'Upstream used when the agent record sets none.',
    expected: 'http:// or https:// URL',
    secret: false,
    read: optional(
      urlParser({ schemes: ['http', 'https'], example: 'https://api.openai.com', secret: false, requireHost: true, base: true }),
    ),
  },
  logLevel: {
    name: 'RENLAYER_LOG_LEVEL',
    default: 'info',
    description: 'Log verbosity; logs are JSON lines on standard error.',
    expected: 'error, warn, info, debug or trace',
    secret: false,
    read: withDefault(parseLogLevel, 'info'),
  },
  workers: {
    name: 'RENLAYER_WORKERS',
    default: 'number of CPUs',
    description: 'Proxy worker processes (sidecar: set 1).',
    expected: 'whole number from 1 to 256',
    secret: false,
    read: (value, variable) =>
      value === undefined ? Math.min(256, Math.max(1, availableParallelism())) : integerParser(1, 256)(value, variable),
  },
  redisUrl: {
    name: 'RENLAYER_REDIS_URL',
    default: 'unset: in-process rate-limit counters',
    description: 'Redis holding rate-limit state shared by a gateway fleet.',
    expected: 'redis:// or rediss:// URL',
    secret: true,
    read: optional(
      urlParser({ schemes: ['redis', 'rediss'], example: 'redis://HOST:6379', secret: true, requireHost: true, base: false }),
    ),
  },
  encryptionKey: {
    name: 'RENLAYER_ENCRYPTION_KEY',
    default: 'generated into the data dir in standalone; required otherwise',
    description: 'Key encrypting upstream credentials and original bodies at rest.',
    expected: '32 bytes, base64 (standard or URL-safe)',
    secret: true,
    read: optional(parseEncryptionKey),
  },
  jwtSecret: {
    name: 'RENLAYER_JWT_SECRET',
    default: 'generated into the data dir in standalone; required otherwise',
    description: 'Signing key for operator JWTs.',
    expected: 'at least 32 bytes, base64 or raw',
    secret: true,
    read: optional(parseJwtSecret),
  },
  smtpUrl: {
    name: 'RENLAYER_SMTP_URL',
    default: 'unset: sign-in codes are written to the log; standalone/dev only',
    description: 'SMTP server for one-time sign-in codes.',
    expected: 'smtp:// or smtps:// URL',
    secret: true,
    read: optional(
      urlParser({ schemes: ['smtp', 'smtps'], example: 'smtps://USER:PASSWORD@HOST:465', secret: true, requireHost: true, base: false }),
    ),
  },
  maxBodyBytes: {
    name: 'RENLAYER_MAX_BODY_BYTES',
    default: '10MiB',
    description: 'Largest request body the proxy accepts.',
    expected: 'bytes, or a size such as 512KiB, 10MiB, 1GiB, 10MB',
    secret: false,
    read: withDefault(parseSize, '10MiB'),
  },
  upstreamTimeoutMs: {
    name: 'RENLAYER_UPSTREAM_TIMEOUT_MS',
    default: '300000',
    description: 'Time to the first upstream byte, in milliseconds.',
    expected: `whole number from 1 to ${MAX_TIMER_MS}`,
    secret: false,
    read: withDefault(integerParser(1, MAX_TIMER_MS), '300000'),
  },
  spoolDir: {
    name: 'RENLAYER_SPOOL_DIR',
    default: '<RENLAYER_DATA_DIR>/spool',
    description: 'Local journal for traces while PostgreSQL is unreachable.',
    expected: 'directory path',
    secret: false,
    read: (value, variable, earlier) =>
      value === undefined
        ? join(earlier.dataDir ?? resolve(DEFAULT_DATA_DIR), 'spool')
        : parseAbsolutePath(value, variable),
  },
  spoolMaxBytes: {
    name: 'RENLAYER_SPOOL_MAX_BYTES',
    default: '1GiB',
    description: 'Largest size of the trace journal; past it new calls get 503 trace_backlog_full rather than run unrecorded.',
    expected: 'bytes, or a size such as 512MiB, 1GiB',
    secret: false,
    read: withDefault(parseSize, '1GiB'),
  },
  traceBodyMaxBytes: {
    name: 'RENLAYER_TRACE_BODY_MAX_BYTES',
    default: '64KiB',
    description: 'Largest request or response body kept on a trace (redacted, and the encrypted original when the tenant stores it); longer bodies are cut and marked.',
    expected: 'bytes, or a size such as 16KiB, 1MiB',
    secret: false,
    read: withDefault(parseSize, '64KiB'),
  },
  traceRetentionDays: {
    name: 'RENLAYER_TRACE_RETENTION_DAYS',
    default: '30',
    description: 'Days traces are kept.',
    expected: 'whole number from 1 to 3650',
    secret: false,
    read: withDefault(integerParser(1, 3650), '30'),
  },
};

export interface ConfigVariable {
  name: string;
  default: string;
  description: string;
  /** The accepted form, e.g. `HOST:PORT, [IPV6]:PORT or :PORT`. */
  expected: string;
  secret: boolean;
}

/** Every setting, in schema order, for the docs' table and `--help`. */
export const CONFIG_VARIABLES: ReadonlyArray<ConfigVariable> = Object.freeze(
  Object.values(SCHEMA).map((v: Variable<unknown>) =>
    Object.freeze({ name: v.name, default: v.default, description: v.description, expected: v.expected, secret: v.secret }),
  ),
);
