import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, describeConfig, loadConfig, renderConfigHelp, renderConfigMarkdown } from './index.js';

/** Runs loadConfig, expecting a one-line ConfigError about `variable` that does not leak `secret`. */
function configError(env: NodeJS.ProcessEnv, variable: string, secret?: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.variable).toBe(variable);
  expect(error.message).toContain(variable);
  expect(error.message).not.toMatch(/[\r\n]/);
  if (secret !== undefined) expect(error.message).not.toContain(secret);
  return error;
}

function invalidValue(variable: string, value: string, secret?: string): string {
  const error = configError({ [variable]: value }, variable, secret);
  expect(error.code).toBe('invalid_value');
  expect(error.message.startsWith(`${variable}: `)).toBe(true);
  expect(error.message).toContain('expected');
  return error.message;
}

const KEY_32 = Buffer.alloc(32, 0xab);

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('gives every documented default', () => {
    expect(config.databaseUrl).toBeUndefined();
    expect(config.embedded).toBe(false);
    expect(config.dataDir).toBe(resolve('.renlayer'));
    expect(config.apiUrl).toBe('http://127.0.0.1:8081');
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.apiListen).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(config.defaultUpstream).toBeUndefined();
    expect(config.logLevel).toBe('info');
    expect(config.workers).toBe(Math.min(256, Math.max(1, availableParallelism())));
    expect(config.redisUrl).toBeUndefined();
    expect(config.encryptionKey).toBeUndefined();
    expect(config.jwtSecret).toBeUndefined();
    expect(config.smtpUrl).toBeUndefined();
    expect(config.maxBodyBytes).toBe(10 * 1024 * 1024);
    expect(config.upstreamTimeoutMs).toBe(300_000);
    expect(config.spoolDir).toBe(join(resolve('.renlayer'), 'spool'));
    expect(config.traceRetentionDays).toBe(30);
  });

  it('treats empty and blank values as unset', () => {
    const env: NodeJS.ProcessEnv = {};
    for (const v of CONFIG_VARIABLES) env[v.name] = v.name.endsWith('_ADDR') ? '' : '  ';
    expect(loadConfig(env)).toEqual(config);
  });

  it('reads process.env when called without an argument', () => {
    expect(loadConfig()).toEqual(loadConfig(process.env));
  });
});

describe('loadConfig values', () => {
  it('reads every variable', () => {
    const config = loadConfig({
      RENLAYER_DATABASE_URL: 'postgresql://rl:pw@db.internal:5432/renlayer?sslmode=require',
      RENLAYER_EMBEDDED: 'TRUE',
      RENLAYER_DATA_DIR: 'var/rl',
      RENLAYER_API_URL: 'https://api.example.com/renlayer/',
      RENLAYER_LISTEN_ADDR: ':8080',
      RENLAYER_API_LISTEN_ADDR: '[::1]:0',
      RENLAYER_DEFAULT_UPSTREAM: 'https://api.openai.com/',
      RENLAYER_LOG_LEVEL: 'DEBUG',
      RENLAYER_WORKERS: '4',
      RENLAYER_REDIS_URL: 'rediss://:pw@redis:6380/0',
      RENLAYER_ENCRYPTION_KEY: KEY_32.toString('base64'),
      RENLAYER_JWT_SECRET: 'a'.repeat(32),
      RENLAYER_SMTP_URL: 'smtps://u:p@mail:465',
      RENLAYER_MAX_BODY_BYTES: '512KiB',
      RENLAYER_UPSTREAM_TIMEOUT_MS: '1000',
      RENLAYER_SPOOL_DIR: '/tmp/spool',
      RENLAYER_TRACE_RETENTION_DAYS: '3650',
      RENLAYER_SPOOL_MAX_BYTES: '64MiB',
      RENLAYER_TRACE_BODY_MAX_BYTES: '16KiB',
    });
    expect(config).toEqual({
      databaseUrl: 'postgresql://rl:pw@db.internal:5432/renlayer?sslmode=require',
      embedded: true,
      dataDir: resolve('var/rl'),
      apiUrl: 'https://api.example.com/renlayer',
      listen: { host: '0.0.0.0', port: 8080 },
      apiListen: { host: '::1', port: 0 },
      defaultUpstream: 'https://api.openai.com',
      logLevel: 'debug',
      workers: 4,
      redisUrl: 'rediss://:pw@redis:6380/0',
      encryptionKey: KEY_32,
      jwtSecret: Buffer.from('a'.repeat(32)),
      smtpUrl: 'smtps://u:p@mail:465',
      maxBodyBytes: 512 * 1024,
      upstreamTimeoutMs: 1000,
      spoolDir: '/tmp/spool',
      spoolMaxBytes: 64 * 1024 * 1024,
      traceRetentionDays: 3650,
      traceBodyMaxBytes: 16 * 1024,
    });
  });

  it('derives the spool from the data dir', () => {
    expect(loadConfig({ RENLAYER_DATA_DIR: '/srv/rl' }).spoolDir).toBe('/srv/rl/spool');
  });

  it('trims surrounding whitespace', () => {
    expect(loadConfig({ RENLAYER_LOG_LEVEL: ' warn\n' }).logLevel).toBe('warn');
  });

  it.each([
    ['1', true],
    ['true', true],
    ['True', true],
    ['0', false],
    ['false', false],
  ])('reads RENLAYER_EMBEDDED=%s', (value, expected) => {
    expect(loadConfig({ RENLAYER_EMBEDDED: value }).embedded).toBe(expected);
  });

  it.each(['error', 'warn', 'info', 'debug', 'trace'])('accepts log level %s', (level) => {
    expect(loadConfig({ RENLAYER_LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['proxy.internal.example:65535', { host: 'proxy.internal.example', port: 65535 }],
    ['0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
    [':9000', { host: '0.0.0.0', port: 9000 }],
    ['[::]:8080', { host: '::', port: 8080 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[fe80::1%eth0]:8080', { host: 'fe80::1%eth0', port: 8080 }],
  ])('reads address %s', (value, expected) => {
    expect(loadConfig({ RENLAYER_LISTEN_ADDR: value }).listen).toEqual(expected);
  });

  it.each([
    ['1', 1],
    ['1048576', 1048576],
    ['1B', 1],
    ['512KiB', 512 * 1024],
    ['10MiB', 10 * 1024 ** 2],
    ['1GiB', 1024 ** 3],
    ['1.5MiB', 1.5 * 1024 ** 2],
    ['10MB', 10_000_000],
    ['64kb', 64_000],
    ['2 GB', 2_000_000_000],
  ])('reads size %s', (value, expected) => {
    expect(loadConfig({ RENLAYER_MAX_BODY_BYTES: value }).maxBodyBytes).toBe(expected);
  });

  it.each([
    ['http://a.example', 'http://a.example'],
    ['http://a.example/', 'http://a.example'],
    ['https://a.example:8443/base//', 'https://a.example:8443/base'],
    ['HTTP://A.Example/Path', 'http://a.example/Path'],
  ])('normalises base URL %s', (value, expected) => {
    expect(loadConfig({ RENLAYER_API_URL: value }).apiUrl).toBe(expected);
    expect(loadConfig({ RENLAYER_DEFAULT_UPSTREAM: value }).defaultUpstream).toBe(expected);
  });

  it('accepts postgres:// and postgresql:// including a socket form without host', () => {
    for (const url of ['postgres://u:p@h/db', 'postgresql://h', 'postgres:///db?host=/var/run/postgresql']) {
      expect(loadConfig({ RENLAYER_DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('accepts redis://, rediss://, smtp:// and smtps://', () => {
    expect(loadConfig({ RENLAYER_REDIS_URL: 'redis://localhost:6379' }).redisUrl).toBe('redis://localhost:6379');
    expect(loadConfig({ RENLAYER_REDIS_URL: 'rediss://u:p@r' }).redisUrl).toBe('rediss://u:p@r');
    expect(loadConfig({ RENLAYER_SMTP_URL: 'smtp://mail:25' }).smtpUrl).toBe('smtp://mail:25');
    expect(loadConfig({ RENLAYER_SMTP_URL: 'smtps://u:p@mail' }).smtpUrl).toBe('smtps://u:p@mail');
  });

  it('accepts the encryption key in standard and URL-safe base64, padded or not', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xf8 + (i % 8)));
    const forms = [key.toString('base64'), key.toString('base64').replace(/=+$/, ''), key.toString('base64url'), `${key.toString('base64url')}=`];
    expect(new Set(forms).size).toBe(4);
    for (const form of forms) expect(loadConfig({ RENLAYER_ENCRYPTION_KEY: form }).encryptionKey).toEqual(key);
  });

  it('decodes a base64 JWT secret of 32+ bytes and uses other long strings raw', () => {
    const bytes = Buffer.alloc(48, 0x5a);
    expect(loadConfig({ RENLAYER_JWT_SECRET: bytes.toString('base64') }).jwtSecret).toEqual(bytes);
    const raw = 'correct horse battery staple, really long!';
    expect(loadConfig({ RENLAYER_JWT_SECRET: raw }).jwtSecret).toEqual(Buffer.from(raw));
    // Valid base64 of only 30 bytes but 40 characters long: used raw.
    const short64 = Buffer.alloc(30, 1).toString('base64');
    expect(loadConfig({ RENLAYER_JWT_SECRET: short64 }).jwtSecret).toEqual(Buffer.from(short64));
  });

  it('accepts integer bounds', () => {
    expect(loadConfig({ RENLAYER_WORKERS: '1' }).workers).toBe(1);
    expect(loadConfig({ RENLAYER_WORKERS: '256' }).workers).toBe(256);
    expect(loadConfig({ RENLAYER_TRACE_RETENTION_DAYS: '1' }).traceRetentionDays).toBe(1);
    expect(loadConfig({ RENLAYER_UPSTREAM_TIMEOUT_MS: '2147483647' }).upstreamTimeoutMs).toBe(2 ** 31 - 1);
  });
});

describe('unknown variables', () => {
  it('suggests the closest known name', () => {
    const error = configError({ RENLAYER_LISTEN_ADRR: '127.0.0.1:8080' }, 'RENLAYER_LISTEN_ADRR');
    expect(error.code).toBe('unknown_variable');
    expect(error.message).toBe('RENLAYER_LISTEN_ADRR is not a RenLayer setting (did you mean RENLAYER_LISTEN_ADDR?)');
  });

  it.each([
    ['RENLAYER_WORKER', 'RENLAYER_WORKERS'],
    ['RENLAYER_LOGLEVEL', 'RENLAYER_LOG_LEVEL'],
    ['RENLAYER_ENCRYPTON_KEY', 'RENLAYER_ENCRYPTION_KEY'],
    ['RENLAYER_API_LISTEN_ADR', 'RENLAYER_API_LISTEN_ADDR'],
    ['RENLAYER_database_url', 'RENLAYER_DATABASE_URL'],
  ])('suggests for %s', (typo, known) => {
    expect(configError({ [typo]: 'x' }, typo).message).toContain(`(did you mean ${known}?)`);
  });

  it('gives no suggestion when nothing is close', () => {
    const error = configError({ RENLAYER_PORT: '8080' }, 'RENLAYER_PORT');
    expect(error.message).toBe('RENLAYER_PORT is not a RenLayer setting');
  });

  it('never echoes the value of an unknown variable', () => {
    configError({ RENLAYER_JWT_SECRETT: 'super-secret-value-0123456789abcdef' }, 'RENLAYER_JWT_SECRETT', 'super-secret-value');
  });

  it('names the others on the same line', () => {
    const error = configError({ RENLAYER_B: '1', RENLAYER_A: '1', RENLAYER_LOG_LEVEL: 'info' }, 'RENLAYER_A');
    expect(error.message).toBe('RENLAYER_A is not a RenLayer setting; also unknown: RENLAYER_B');
  });

  it('ignores RENLAYER_TEST_* and non-RenLayer variables', () => {
    expect(() =>
      loadConfig({ RENLAYER_TEST_DATABASE_URL: 'postgres://x', RENLAYER_TEST_ANYTHING: 'x', MOCK_LISTEN_ADDR: ':9', PATH: '/bin' }),
    ).not.toThrow();
  });

  it('reports unknown names even when they are empty', () => {
    configError({ RENLAYER_NOPE: '' }, 'RENLAYER_NOPE');
  });
});

describe('malformed values', () => {
  it('matches the documented address message', () => {
    expect(invalidValue('RENLAYER_LISTEN_ADDR', 'localhost')).toBe(
      'RENLAYER_LISTEN_ADDR: "localhost" has no port; expected HOST:PORT such as 127.0.0.1:8080, [::1]:8080 or :8080',
    );
  });

  it.each([
    ['localhost', 'has no port'],
    ['localhost:', 'has no port'],
    [':', 'has no port'],
    ['[::1]', 'has no port'],
    ['[::1]:', 'has no port'],
    ['::1:8080', 'IPv6 address without brackets'],
    ['[nope]:80', 'not a valid IPv6 address'],
    ['[::1]8080', 'not a valid bracketed IPv6 address'],
    ['[::1:80', 'not a valid bracketed IPv6 address'],
    ['my host:80', 'not a valid host name'],
    ['999.1.1.1:80', 'not a valid host name'],
    ['-bad-:80', 'not a valid host name'],
    ['http://127.0.0.1:8080', 'is a URL, not an address'],
    ['localhost:http', 'is not a number'],
    ['localhost:-1', 'is not a number'],
    ['localhost:80.5', 'is not a number'],
    ['localhost:65536', 'out of range'],
    ['localhost:99999999999', 'out of range'],
  ])('rejects address %s', (value, problem) => {
    expect(invalidValue('RENLAYER_API_LISTEN_ADDR', value)).toContain(problem);
  });

  it.each(['verbose', 'warning', 'silent', 'fatal', '3'])('rejects log level %s', (value) => {
    expect(invalidValue('RENLAYER_LOG_LEVEL', value)).toContain('one of error, warn, info, debug, trace');
  });

  it.each(['yes', 'on', '2', 'enabled'])('rejects boolean %s', (value) => {
    expect(invalidValue('RENLAYER_EMBEDDED', value)).toContain('1, true, 0 or false');
  });

  it.each([
    ['RENLAYER_API_URL', 'not a url', 'is not a valid URL'],
    ['RENLAYER_API_URL', '127.0.0.1:8081', 'is not a valid URL'],
    ['RENLAYER_API_URL', 'localhost:8081', 'scheme "localhost" is not supported'],
    ['RENLAYER_API_URL', 'ftp://files.example', 'scheme "ftp" is not supported'],
    ['RENLAYER_API_URL', 'http://a.example/?x=1', 'query or fragment'],
    ['RENLAYER_API_URL', 'http://a.example/#top', 'query or fragment'],
    ['RENLAYER_DEFAULT_UPSTREAM', 'api.openai.com', 'is not a valid URL'],
    ['RENLAYER_DEFAULT_UPSTREAM', 'ws://a.example', 'scheme "ws" is not supported'],
  ])('rejects %s=%s', (variable, value, problem) => {
    const message = invalidValue(variable, value);
    expect(message).toContain(problem);
    expect(message).toContain('http:// or https://');
  });

  it('masks the password of a non-secret URL it echoes', () => {
    invalidValue('RENLAYER_DEFAULT_UPSTREAM', 'https://user:upstream-pass-xyz@a.example/?q=1', 'upstream-pass-xyz');
  });

  it.each([
    ['RENLAYER_DATABASE_URL', 'postgres://admin:Sup3rS3cret!@db:5432', 'mysql', 'postgres:// or postgresql://'],
    ['RENLAYER_REDIS_URL', 'redis://:Sup3rS3cret!@redis:6379', 'http', 'redis:// or rediss://'],
    ['RENLAYER_SMTP_URL', 'smtps://mailer:Sup3rS3cret!@mail:465', 'imap', 'smtp:// or smtps://'],
  ])('rejects %s with the wrong scheme without showing the value', (variable, good, scheme, expected) => {
    const bad = good.replace(/^[a-z]+/, scheme);
    const message = invalidValue(variable, bad, 'Sup3rS3cret');
    expect(message).toContain(`scheme "${scheme}" is not supported`);
    expect(message).toContain(expected);
  });

  it.each([
    ['RENLAYER_DATABASE_URL', 'Sup3rS3cret:hunter2'],
    ['RENLAYER_DATABASE_URL', 'admin:Sup3rS3cret@db/renlayer'],
    ['RENLAYER_DATABASE_URL', 'Sup3rS3cret'],
    ['RENLAYER_REDIS_URL', 'Sup3rS3cret@redis'],
    ['RENLAYER_REDIS_URL', 'redis://:Sup3rS3cret@'],
    ['RENLAYER_SMTP_URL', 'smtp://u:Sup3rS3cret@[bad'],
    ['RENLAYER_SMTP_URL', 'smtp://u:Sup3rS3cret@'],
  ])('never shows a secret URL: %s=%s', (variable, value) => {
    const message = invalidValue(variable, value, 'Sup3rS3cret');
    expect(message).toContain('value not shown');
  });

  it.each([
    ['not base64 at all!', 'not valid base64'],
    ['c2VjcmV0LWtleQ=', 'not valid base64'],
    ['abcde', 'not valid base64'],
    ['a+b_' + 'A'.repeat(40), 'not valid base64'],
    [Buffer.alloc(16, 7).toString('base64'), 'decodes to 16 bytes'],
    [Buffer.alloc(33, 7).toString('base64'), 'decodes to 33 bytes'],
    [Buffer.alloc(64, 7).toString('hex'), 'decodes to 96 bytes'],
  ])('rejects encryption key %s', (value, problem) => {
    const message = invalidValue('RENLAYER_ENCRYPTION_KEY', value, value);
    expect(message).toContain(problem);
    expect(message).toContain('exactly 32 bytes');
  });

  it.each(['tiny', 'a'.repeat(31), Buffer.alloc(16, 9).toString('base64')])('rejects the short JWT secret %s', (value) => {
    const message = invalidValue('RENLAYER_JWT_SECRET', value, value);
    expect(message).toContain('too short');
    expect(message).toContain('at least 32 bytes');
  });

  it.each([
    ['0', 'not positive'],
    ['0KiB', 'not positive'],
    ['0.1B', 'not positive'],
    ['-5', 'not a size'],
    ['ten', 'not a size'],
    ['10 MiB extra', 'not a size'],
    ['1e6', 'not a size'],
    ['10M', 'unknown unit'],
    ['10TiB', 'unknown unit'],
    ['1.5', 'not a whole number of bytes'],
    ['99999999999999999999', 'too large'],
  ])('rejects size %s', (value, problem) => {
    const message = invalidValue('RENLAYER_MAX_BODY_BYTES', value);
    expect(message).toContain(problem);
    expect(message).toContain('512KiB');
  });

  it.each([
    ['RENLAYER_WORKERS', 'four', 'not a whole number'],
    ['RENLAYER_WORKERS', '2.5', 'not a whole number'],
    ['RENLAYER_WORKERS', '1e2', 'not a whole number'],
    ['RENLAYER_WORKERS', '0x10', 'not a whole number'],
    ['RENLAYER_WORKERS', '0', 'out of range'],
    ['RENLAYER_WORKERS', '257', 'out of range'],
    ['RENLAYER_WORKERS', '-1', 'out of range'],
    ['RENLAYER_UPSTREAM_TIMEOUT_MS', '0', 'out of range'],
    ['RENLAYER_UPSTREAM_TIMEOUT_MS', '2147483648', 'out of range'],
    ['RENLAYER_UPSTREAM_TIMEOUT_MS', '5s', 'not a whole number'],
    ['RENLAYER_TRACE_RETENTION_DAYS', '0', 'out of range'],
    ['RENLAYER_TRACE_RETENTION_DAYS', '3651', 'out of range'],
    ['RENLAYER_TRACE_RETENTION_DAYS', '30d', 'not a whole number'],
  ])('rejects %s=%s', (variable, value, problem) => {
    const message = invalidValue(variable, value);
    expect(message).toContain(problem);
    expect(message).toMatch(/expected a whole number from \d+ to \d+$/);
  });

  it('rejects a path with a NUL character', () => {
    expect(invalidValue('RENLAYER_DATA_DIR', 'a\0b')).toContain('NUL');
    expect(invalidValue('RENLAYER_SPOOL_DIR', 'a\0b')).toContain('NUL');
  });

  it('keeps messages on one line even when the value has newlines', () => {
    expect(invalidValue('RENLAYER_LOG_LEVEL', 'info\nwarn')).toContain('"info\\nwarn"');
  });

  it('shortens very long values', () => {
    expect(invalidValue('RENLAYER_LOG_LEVEL', 'x'.repeat(500)).length).toBeLessThan(200);
  });
});

describe('describeConfig', () => {
  it('shows secrets as (set)/(unset) and masks URL passwords', () => {
    const secrets = ['pgPass-1', 'redisPass-2', 'smtpPass-3', 'upPass-4'];
    const jwt = 'jwt-secret-value-that-is-long-enough!!';
    const config = loadConfig({
      RENLAYER_DATABASE_URL: 'postgres://rl:pgPass-1@db:5432/renlayer?sslmode=require',
      RENLAYER_REDIS_URL: 'rediss://:redisPass-2@redis:6380',
      RENLAYER_SMTP_URL: 'smtps://mailer:smtpPass-3@mail:465',
      RENLAYER_DEFAULT_UPSTREAM: 'https://svc:upPass-4@upstream.example/v1',
      RENLAYER_ENCRYPTION_KEY: KEY_32.toString('base64'),
      RENLAYER_JWT_SECRET: jwt,
      RENLAYER_LISTEN_ADDR: '[::1]:8080',
    });
    const view = describeConfig(config);
    const text = JSON.stringify(view);
    for (const secret of [...secrets, jwt, KEY_32.toString('base64'), KEY_32.toString('hex')]) expect(text).not.toContain(secret);
    expect(view).toMatchObject({
      databaseUrl: 'postgres://rl:***@db:5432/renlayer?sslmode=require',
      redisUrl: 'rediss://:***@redis:6380',
      smtpUrl: 'smtps://mailer:***@mail:465',
      defaultUpstream: 'https://svc:***@upstream.example/v1',
      encryptionKey: '(set)',
      jwtSecret: '(set)',
      listen: '[::1]:8080',
      apiListen: '127.0.0.1:8081',
      apiUrl: 'http://127.0.0.1:8081',
    });
  });

  it('masks password query parameters', () => {
    const view = describeConfig(loadConfig({ RENLAYER_DATABASE_URL: 'postgres:///renlayer?host=/run/pg&password=qParam-5' }));
    expect(view.databaseUrl).toBe('postgres:///renlayer?host=%2Frun%2Fpg&password=***');
  });

  it('shows unset values as (unset) and lists every field', () => {
    const config = loadConfig({});
    const view = describeConfig(config);
    expect(Object.keys(view).sort()).toEqual(Object.keys(config).sort());
    expect(view).toMatchObject({
      databaseUrl: '(unset)',
      redisUrl: '(unset)',
      smtpUrl: '(unset)',
      defaultUpstream: '(unset)',
      encryptionKey: '(unset)',
      jwtSecret: '(unset)',
      maxBodyBytes: 10485760,
    });
    expect(() => JSON.stringify(view)).not.toThrow();
  });
});

describe('CONFIG_VARIABLES', () => {
  it('lists each variable once, in schema order, with help text', () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(19);
    expect(names[0]).toBe('RENLAYER_DATABASE_URL');
    for (const v of CONFIG_VARIABLES) {
      expect(v.name).toMatch(/^RENLAYER_[A-Z_]+$/);
      expect(v.name.startsWith('RENLAYER_TEST_')).toBe(false);
      expect(v.description.length).toBeGreaterThan(5);
      expect(v.default.length).toBeGreaterThan(0);
      expect(`${v.description}${v.default}${v.expected}`).not.toMatch(/[\r\n]/);
    }
  });

  it('marks exactly the secrets', () => {
    expect(CONFIG_VARIABLES.filter((v) => v.secret).map((v) => v.name).sort()).toEqual([
      'RENLAYER_DATABASE_URL',
      'RENLAYER_ENCRYPTION_KEY',
      'RENLAYER_JWT_SECRET',
      'RENLAYER_REDIS_URL',
      'RENLAYER_SMTP_URL',
    ]);
  });

  it('has shown defaults that load to the actual defaults', () => {
    const plain = CONFIG_VARIABLES.filter((v) => /^[\w.:/]+$/.test(v.default));
    expect(plain.length).toBeGreaterThanOrEqual(9);
    const env = Object.fromEntries(plain.map((v) => [v.name, v.default]));
    expect(loadConfig(env)).toEqual(loadConfig({}));
  });

  it('renders --help and the docs table from the same list', () => {
    const help = renderConfigHelp();
    const table = renderConfigMarkdown();
    for (const v of CONFIG_VARIABLES) {
      expect(help).toContain(v.name);
      expect(table).toContain(`\`${v.name}\``);
    }
    expect(table.split('\n')).toHaveLength(CONFIG_VARIABLES.length + 2);
  });
});
