import { formatAddress } from '../config/index.js';
import type { Database } from '../db/database.js';
import { createAgent } from '../store/agents.js';
import { addOperator } from '../store/operators.js';
import { createTenant, findTenantByName } from '../store/tenants.js';
import type { Command } from './command.js';
import { tuneHeap } from './heap.js';
import { stopOnSignal } from './lifecycle.js';
import { loadRuntime, openServerDatabase } from './runtime.js';

export const DEMO = { tenant: 'demo', operator: 'admin@demo.local', agent: 'demo-agent' } as const;

/** First start only: a demo tenant, its owner, an agent on the default upstream and its key. */
async function seedDemo(db: Database): Promise<string | null> {
  if (await findTenantByName(db, DEMO.tenant)) return null;
  return db.transaction(async (tx) => {
    const tenant = await createTenant(tx, DEMO.tenant);
    await addOperator(tx, tenant.id, DEMO.operator, 'owner');
    // No upstream on the record: the agent uses the default upstream, which `up` points at the
    // bundled mock wherever MOCK_LISTEN_ADDR puts it.
    const { key } = await createAgent(tx, undefined, { tenantId: tenant.id, name: DEMO.agent, description: 'Demo agent on the bundled mock model' });
    return key.secret;
  });
}

function banner(proxyUrl: string, apiUrl: string, mockUrl: string, key: string | null, dataDir: string): string {
  const shownKey = key ?? '$RENLAYER_KEY';
  const lines = [
    '',
    'RenLayer is running (standalone).',
    `  proxy        ${proxyUrl}`,
    `  Platform API ${apiUrl}/v1   (OpenAPI: ${apiUrl}/v1/openapi.json)`,
    `  mock model   ${mockUrl}`,
    `  data         ${dataDir}`,
    `  tenant       ${DEMO.tenant}   operator ${DEMO.operator}   agent ${DEMO.agent}`,
    '',
  ];
  if (key) {
    lines.push(`Demo API key (shown only on this first start; store it now):`, `  ${key}`, '');
  } else {
    lines.push('The demo key was shown on the first start. To mint another:',
      `  npx renlayer key create --tenant ${DEMO.tenant} --agent ${DEMO.agent}`, 'then export RENLAYER_KEY=<the secret>.', '');
  }
  lines.push('Send a chat completion through the proxy:',
    `  curl -s ${proxyUrl}/v1/chat/completions \\`,
    `    -H "Authorization: Bearer ${shownKey}" -H "Content-Type: application/json" \\`,
    `    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello from RenLayer"}]}'`,
    '',
    'See its trace:',
    '  npx renlayer traces tail',
    '');
  return lines.join('\n');
}

export const upCommand: Command = {
  name: 'up',
  summary: 'Standalone: proxy, Platform API and the mock model in one process on the embedded database (or RENLAYER_DATABASE_URL).',
  usage: 'up [--no-migrate]',
  options: { 'no-migrate': { type: 'boolean', description: 'do not apply schema migrations at start' } },
  async run(args) {
    const rt = loadRuntime(null);
    tuneHeap();
    const [{ startApi }, { migrate }, { startMockUpstream, mockOptionsFromEnv }, { startProxy }] = await Promise.all([
      import('../api/app.js'), import('../db/migrate.js'), import('../mock/server.js'), import('../proxy/server.js'),
    ]);
    const mock = await startMockUpstream(mockOptionsFromEnv(process.env));
    // A failed start (data dir in use, port taken, schema too new) must end the process: close
    // what is already open, or its listeners keep the process alive after the error is reported.
    const started: Array<() => Promise<void>> = [() => mock.close()];
    try {
      const { db, config: opened } = await openServerDatabase(rt.config, 'up');
      started.push(() => db.close());
      const config = { ...opened, defaultUpstream: opened.defaultUpstream ?? mock.url };
      if (!args.values['no-migrate']) await migrate(db);
      const key = await seedDemo(db);
      const proxy = await startProxy({ config, db, log: rt.log.child({ component: 'proxy' }), topology: 'standalone' });
      started.push(() => proxy.close());
      const api = await startApi({ db, log: rt.log.child({ component: 'api' }), host: config.apiListen.host, port: config.apiListen.port });
      const proxyUrl = `http://${formatAddress({ host: config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host, port: proxy.port })}`;
      const apiUrl = `http://${formatAddress({ host: config.apiListen.host === '0.0.0.0' ? '127.0.0.1' : config.apiListen.host, port: api.port })}`;
      process.stdout.write(banner(proxyUrl, apiUrl, mock.url, key, config.dataDir));
      return stopOnSignal(rt.log, async () => {
        await proxy.close();
        await api.close();
        await db.close();
        await mock.close();
      });
    } catch (err) {
      for (const close of started.reverse()) await close().catch(() => {});
      throw err;
    }
  },
};
