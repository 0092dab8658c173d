import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { invalid, quote } from './errors.js';

/**
 * Value parsers for environment variables. Each takes a non-empty, trimmed value and the
 * variable's name, returns the typed value or throws a one-line ConfigError. Parsers for
 * secrets never put the value into a message.
 */
export type ValueParser<T> = (value: string, variable: string) => T;

export interface Address {
  host: string;
  port: number;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const logLevelSchema = z.enum(LOG_LEVELS);

export const parseLogLevel: ValueParser<LogLevel> = (value, variable) => {
  const parsed = logLevelSchema.safeParse(value.toLowerCase());
  if (!parsed.success) invalid(variable, `${quote(value)} is not a log level`, 'one of error, warn, info, debug, trace');
  return parsed.data;
};

export const parseBoolean: ValueParser<boolean> = (value, variable) => {
  const lower = value.toLowerCase();
  if (lower === '1' || lower === 'true') return true;
  if (lower === '0' || lower === 'false') return false;
  return invalid(variable, `${quote(value)} is not a boolean`, '1, true, 0 or false');
};

/** A whole number in [min, max]; signs are accepted so that "-1" is reported as out of range. */
export function integerParser(min: number, max: number): ValueParser<number> {
  const range = z.int().min(min).max(max);
  const expected = `a whole number from ${min} to ${max}`;
  return (value, variable) => {
    if (!/^[+-]?\d+$/.test(value)) invalid(variable, `${quote(value)} is not a whole number`, expected);
    const parsed = range.safeParse(Number(value));
    if (!parsed.success) invalid(variable, `${quote(value)} is out of range`, expected);
    return parsed.data;
  };
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const SIZE_EXPECTED = 'a positive number of bytes such as 10485760, 512KiB, 10MiB, 1GiB or 10MB';

/** Bytes as a plain integer or a size with a unit: KiB/MiB/GiB are binary, kB/MB/GB decimal. */
export const parseSize: ValueParser<number> = (value, variable) => {
  const match = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(value);
  if (!match) return invalid(variable, `${quote(value)} is not a size`, SIZE_EXPECTED);
  const [, amount = '', unit = ''] = match;
  const multiplier = SIZE_UNITS[unit.toLowerCase()];
  if (multiplier === undefined) return invalid(variable, `unknown unit ${quote(unit)}`, SIZE_EXPECTED);
  const bytes = Math.round(Number(amount) * multiplier);
  if (unit === '' && amount.includes('.')) return invalid(variable, `${quote(value)} is not a whole number of bytes`, SIZE_EXPECTED);
  if (bytes < 1) return invalid(variable, `${quote(value)} is not positive`, SIZE_EXPECTED);
  if (!Number.isSafeInteger(bytes)) return invalid(variable, `${quote(value)} is too large`, SIZE_EXPECTED);
  return bytes;
};

const ADDRESS_EXPECTED = 'HOST:PORT such as 127.0.0.1:8080, [::1]:8080 or :8080';
/** Host used for `:PORT`: every IPv4 interface, the usual meaning in containers. */
export const ANY_HOST = '0.0.0.0';
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/**
 * A bind address: `host:port`, `[ipv6]:port` or `:port` (all IPv4 interfaces, 0.0.0.0).
 * Port 0 asks the OS for a free port, which tests use. IPv6 hosts come back without brackets,
 * as `server.listen` wants them.
 */
export const parseAddress: ValueParser<Address> = (value, variable) => {
  if (value.includes('://')) invalid(variable, `${quote(value)} is a URL, not an address`, ADDRESS_EXPECTED);
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const match = /^\[([^\]]*)\](?::(.*))?$/.exec(value);
    if (!match) return invalid(variable, `${quote(value)} is not a valid bracketed IPv6 address`, ADDRESS_EXPECTED);
    host = match[1] ?? '';
    if (!isIPv6(host)) invalid(variable, `${quote(host)} is not a valid IPv6 address`, ADDRESS_EXPECTED);
    if (match[2] === undefined) invalid(variable, `${quote(value)} has no port`, ADDRESS_EXPECTED);
    portText = match[2];
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1) return invalid(variable, `${quote(value)} has no port`, ADDRESS_EXPECTED);
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) {
      invalid(variable, `${quote(value)} looks like an IPv6 address without brackets`, '[IPV6]:PORT such as [::1]:8080');
    }
    if (host === '') host = ANY_HOST;
    else if (!isIPv4(host) && (/^[\d.]+$/.test(host) || !HOSTNAME.test(host))) {
      invalid(variable, `host ${quote(host)} is not a valid host name or IP address`, ADDRESS_EXPECTED);
    }
  }
  if (portText === '') invalid(variable, `${quote(value)} has no port`, ADDRESS_EXPECTED);
  if (!/^\d+$/.test(portText)) invalid(variable, `port ${quote(portText)} is not a number`, 'a port from 0 to 65535');
  const port = Number(portText);
  if (port > 65535) invalid(variable, `port ${portText} is out of range`, 'a port from 0 to 65535');
  return { host, port };
};

export function formatAddress(address: Address): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export interface UrlRule {
  /** Accepted schemes without the colon, e.g. ['http', 'https']. */
  schemes: readonly string[];
  /** Shown after "expected ... such as". */
  example: string;
  /** The URL may carry a password: never echo it in a message, return it unchanged. */
  secret: boolean;
  /** Whether an empty host is an error (PostgreSQL allows `postgres:///db?host=/socket`). */
  requireHost: boolean;
  /** A base URL other URLs are built on: no query or fragment, normalised, trailing slash removed. */
  base: boolean;
}

export function urlParser(rule: UrlRule): ValueParser<string> {
  const schemes = rule.schemes.map((s) => `${s}://`).join(' or ');
  const expected = `a ${schemes} URL such as ${rule.example}`;
  const hidden = ' (value not shown: it may contain a password)';
  return (value, variable) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return invalid(variable, rule.secret ? `not a valid URL${hidden}` : `${quote(value)} is not a valid URL`, expected);
    }
    const scheme = url.protocol.slice(0, -1);
    if (!rule.schemes.includes(scheme)) {
      // Only call it a scheme when it is followed by "//": in "user:pass@host" the "scheme" is a user name.
      const shown = !rule.secret || value.toLowerCase().startsWith(`${scheme}://`);
      invalid(variable, shown ? `scheme ${quote(scheme)} is not supported` : `unsupported scheme${hidden}`, expected);
    }
    const display = rule.secret ? `the URL${hidden}` : quote(maskUrl(value));
    if (rule.requireHost && url.hostname === '') invalid(variable, `${display} has no host`, expected);
    if (!rule.base) return value;
    if (url.search !== '' || url.hash !== '') invalid(variable, `${display} has a query or fragment`, `${expected}, without ? or #`);
    return url.href.replace(/\/+$/, '');
  };
}

const PASSWORD_PARAMS = new Set(['password', 'pass', 'pwd', 'secret', 'token', 'key', 'api_key', 'apikey']);

/**
 * A URL safe to log: the password (and password-like query parameters such as libpq's
 * `?password=`) replaced by `***`. Something that does not parse is not shown at all.
 */
export function maskUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return '(unparseable URL)';
  }
  let masked = false;
  if (url.password !== '') {
    url.password = '***';
    masked = true;
  }
  for (const name of [...url.searchParams.keys()]) {
    if (PASSWORD_PARAMS.has(name.toLowerCase())) {
      url.searchParams.set(name, '***');
      masked = true;
    }
  }
  if (!masked) return value;
  // Serialising adds a "/" path to bare http URLs; do not show one the operator never wrote.
  return value.endsWith('/') ? url.href : url.href.replace(/\/$/, '');
}

const BASE64_STANDARD = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64_URLSAFE = /^[A-Za-z0-9_-]+={0,2}$/;

/** Decodes standard or URL-safe base64, padded or not; undefined when it is not well-formed. */
export function decodeBase64(value: string): Buffer | undefined {
  if (!BASE64_STANDARD.test(value) && !BASE64_URLSAFE.test(value)) return undefined;
  const body = value.replace(/=+$/, '');
  const padding = value.length - body.length;
  if (body.length % 4 === 1) return undefined;
  if (padding > 0 && padding !== (4 - (body.length % 4)) % 4) return undefined;
  // Node's base64 decoder reads both alphabets.
  return Buffer.from(body, 'base64');
}

const KEY_EXPECTED = 'exactly 32 bytes in base64 (standard or URL-safe), e.g. from `openssl rand -base64 32`';

export const parseEncryptionKey: ValueParser<Buffer> = (value, variable) => {
  const key = decodeBase64(value);
  if (key === undefined) return invalid(variable, 'the value is not valid base64', KEY_EXPECTED);
  if (key.length !== 32) return invalid(variable, `the value decodes to ${key.length} bytes`, KEY_EXPECTED);
  return key;
};

export const MIN_JWT_SECRET_BYTES = 32;
const JWT_EXPECTED = `at least ${MIN_JWT_SECRET_BYTES} bytes, as base64 or a raw string, e.g. from \`openssl rand -base64 48\``;

/**
 * A JWT signing secret: base64 that decodes to at least 32 bytes is used decoded; otherwise a
 * raw string of at least 32 bytes (UTF-8) is used as is. Every process applies the same rule,
 * so proxy and API always agree on the key.
 */
export const parseJwtSecret: ValueParser<Buffer> = (value, variable) => {
  const decoded = decodeBase64(value);
  if (decoded !== undefined && decoded.length >= MIN_JWT_SECRET_BYTES) return decoded;
  const raw = Buffer.from(value, 'utf8');
  if (raw.length >= MIN_JWT_SECRET_BYTES) return raw;
  return invalid(variable, `the value is too short (${raw.length} bytes)`, JWT_EXPECTED);
};

export const parsePath: ValueParser<string> = (value, variable) => {
  if (value.includes('\0')) invalid(variable, 'the path contains a NUL character', 'a directory path');
  return value;
};
