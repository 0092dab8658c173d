import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from './logger.js';

function capture(level: Parameters<typeof createLogger>[0], bindings?: Record<string, unknown>) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, bindings, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('createLogger', () => {
  it('writes JSON lines with a level label, ISO time and bindings', () => {
    const { logger, lines } = capture('info', { component: 'proxy' });
    logger.info({ port: 8080 }, 'listening');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', component: 'proxy', port: 8080, msg: 'listening' });
    expect(Number.isNaN(Date.parse(String(lines[0]?.time)))).toBe(false);
  });

  it('honours the level', () => {
    const { logger, lines } = capture('warn');
    logger.info('hidden');
    logger.debug('hidden');
    logger.warn('shown');
    logger.error('shown');
    expect(lines.map((l) => l.level)).toEqual(['warn', 'error']);
  });

  it('redacts secret fields at the top level, one level down and in headers', () => {
    const { logger, lines } = capture('trace');
    logger.info({
      password: 'pw-1',
      token: 'tok-2',
      'x-api-key': 'xk-3',
      user: { secret: 's-4', apiKey: 'ak-5', name: 'ok' },
      headers: { authorization: 'Bearer b-6', 'x-api-key': 'xk-7', cookie: 'c-8', accept: 'application/json' },
      req: { headers: { authorization: 'Bearer b-9', 'proxy-authorization': 'pa-10' } },
      upstream: { key: 'k-11', access_token: 'at-12' },
    });
    const text = JSON.stringify(lines);
    for (const secret of ['pw-1', 'tok-2', 'xk-3', 's-4', 'ak-5', 'b-6', 'xk-7', 'c-8', 'b-9', 'pa-10', 'k-11', 'at-12']) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({
      password: REDACTED,
      user: { name: 'ok', secret: REDACTED },
      headers: { authorization: REDACTED, accept: 'application/json' },
      req: { headers: { authorization: REDACTED } },
    });
  });

  it('keeps the one-time sign-in code, which is logged on purpose without SMTP', () => {
    const { logger, lines } = capture('info');
    logger.info({ email: 'ops@example.com', code: '123456' }, 'sign-in code 123456');
    expect(lines[0]).toMatchObject({ code: '123456' });
  });

  it('writes to standard error, never standard output, and flushes on exit', () => {
    const loggerUrl = new URL('./logger.ts', import.meta.url).href;
    const script = `import(${JSON.stringify(loggerUrl)}).then((m) => { m.createLogger('info').info({ password: 'pw' }, 'bye'); process.exit(0); });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('');
    const line = JSON.parse(child.stderr.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', msg: 'bye', password: REDACTED });
  });
});
