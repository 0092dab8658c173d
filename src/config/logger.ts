import { pino } from 'pino';
import type { LogLevel } from './parsers.js';

export const REDACTED = '[redacted]';

const SECRET_FIELDS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'apiKey',
  'api_key',
  'password',
  'secret',
  'key',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'encryptionKey',
  'jwtSecret',
  'credentials',
];

/**
 * Field paths whose values never reach a log line: at the top level, one level down (`*.`)
 * and under `headers` two levels down (`req.headers.authorization`). Bodies are the caller's
 * job: they are simply never logged. `code` is deliberately absent — the one-time sign-in code
 * is logged on purpose when no SMTP server is configured.
 */
export const REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((field) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
  const join = (parent: string): string => (key.startsWith('[') ? `${parent}${key}` : `${parent}.${key}`);
  return [key, join('*'), join('headers'), join('*.headers')];
});

/**
 * The process logger: JSON lines on standard error (standard output belongs to `--json`
 * output), level labels, ISO timestamps and secret fields redacted. Writes are asynchronous
 * and pino flushes them when the process exits. `destination` lets tests capture the lines.
 */
export function createLogger(
  level: LogLevel | 'silent',
  bindings?: pino.Bindings,
  destination: pino.DestinationStream = pino.destination({ dest: 2, sync: false }),
): pino.Logger {
  const logger = pino(
    {
      level,
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return bindings === undefined ? logger : logger.child(bindings);
}
