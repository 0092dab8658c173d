import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_ENCRYPTION_KEY } from './fixtures.js';
import type { TestDatabase } from './database.js';
import { baseEnv, startServer, type Running } from './processes.js';

export interface ProxyProcess extends Running {
  url: string;
  spoolDir: string;
}

/** Starts the real `renlayer proxy` on the test database and waits until it is ready. */
export async function startProxyProcess(t: TestDatabase, env: Record<string, string | undefined> = {}): Promise<ProxyProcess> {
  const spoolDir = env.RENLAYER_SPOOL_DIR ?? mkdtempSync(join(tmpdir(), 'renlayer-spool-'));
  const running = await startServer(['proxy', '--no-migrate'], baseEnv({
    RENLAYER_DATABASE_URL: t.url,
    RENLAYER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'),
    RENLAYER_LISTEN_ADDR: '127.0.0.1:0',
    RENLAYER_WORKERS: '1',
    RENLAYER_LOG_LEVEL: 'info',
    RENLAYER_SPOOL_DIR: spoolDir,
    ...env,
  }), 'proxy listening');
  const url = `http://127.0.0.1:${running.port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await fetch(url + '/readyz').catch(() => null);
    if (r?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`proxy never became ready:\n${running.stderr()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  return { ...running, url, spoolDir };
}
