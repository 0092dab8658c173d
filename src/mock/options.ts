import type { IncomingHttpHeaders } from 'node:http';

export interface MockOptions {
  host: string;
  port: number;
  latencyMs: number;
  chunks: number;
  chunkDelayMs: number;
}

/** What one request asks of the mock: the process options, overridden by its x-mock-* headers. */
export interface RequestOptions {
  latencyMs: number;
  chunks: number;
  chunkDelayMs: number;
  /** The answer is the last user text, verbatim, so tests can make the upstream leak data back. */
  echo: boolean;
  /** Answer this HTTP error status instead of a model answer. */
  status: number | null;
  fail: 'cut' | 'hang' | null;
}

export const DEFAULT_LISTEN = '127.0.0.1:9090';
/** Far above any sensible test value; stops one header from making the mock build a huge stream. */
export const MAX_CHUNKS = 10_000;
const MAX_DELAY_MS = 3_600_000;

export class OptionError extends Error {}

export function parseListen(value: string, name: string): { host: string; port: number } {
  const v = value.trim();
  // `[::1]:9090` for IPv6, `host:port` otherwise; the last colon separates the port.
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:[\]]+):(\d+)$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port > 65535) {
    throw new OptionError(`${name} must be HOST:PORT with a port from 0 to 65535 (e.g. ${DEFAULT_LISTEN}), got "${value}"`);
  }
  return { host: m[1], port };
}

function parseIntIn(value: string, name: string, min: number, max: number): number {
  const v = value.trim();
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new OptionError(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** An unset or empty variable means "use the default", so `VAR= cmd` behaves like not setting it. */
function envInt(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? dflt : parseIntIn(raw, name, min, max);
}

export function mockOptionsFromEnv(env: NodeJS.ProcessEnv, listen?: string): MockOptions {
  const envListen = env.MOCK_LISTEN_ADDR?.trim() ? env.MOCK_LISTEN_ADDR : undefined;
  const addr =
    listen !== undefined
      ? parseListen(listen, '--listen')
      : parseListen(envListen ?? DEFAULT_LISTEN, 'MOCK_LISTEN_ADDR');
  return {
    host: addr.host,
    port: addr.port,
    latencyMs: envInt(env, 'MOCK_LATENCY_MS', 0, 0, MAX_DELAY_MS),
    chunks: envInt(env, 'MOCK_CHUNKS', 8, 1, MAX_CHUNKS),
    chunkDelayMs: envInt(env, 'MOCK_CHUNK_DELAY_MS', 0, 0, MAX_DELAY_MS),
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Applies the x-mock-* headers over the process options. Throws OptionError naming the header, so a
 * test with a typo gets a 400 instead of silently running with the defaults.
 */
export function requestOptions(headers: IncomingHttpHeaders, base: MockOptions): RequestOptions {
  const latency = header(headers, 'x-mock-latency-ms');
  const chunks = header(headers, 'x-mock-chunks');
  const delay = header(headers, 'x-mock-chunk-delay-ms');
  const echo = header(headers, 'x-mock-echo');
  const status = header(headers, 'x-mock-status');
  const fail = header(headers, 'x-mock-fail');
  let failMode: RequestOptions['fail'] = null;
  if (fail !== undefined) {
    const f = fail.trim().toLowerCase();
    if (f !== 'cut' && f !== 'hang') throw new OptionError(`x-mock-fail must be "cut" or "hang", got "${fail}"`);
    failMode = f;
  }
  return {
    latencyMs: latency === undefined ? base.latencyMs : parseIntIn(latency, 'x-mock-latency-ms', 0, MAX_DELAY_MS),
    chunks: chunks === undefined ? base.chunks : parseIntIn(chunks, 'x-mock-chunks', 1, MAX_CHUNKS),
    chunkDelayMs: delay === undefined ? base.chunkDelayMs : parseIntIn(delay, 'x-mock-chunk-delay-ms', 0, MAX_DELAY_MS),
    echo: echo !== undefined && /^(1|true|yes|on)$/i.test(echo.trim()),
    status: status === undefined ? null : parseIntIn(status, 'x-mock-status', 400, 599),
    fail: failMode,
  };
}
