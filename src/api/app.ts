import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { VERSION } from '../core/version.js';

export interface ApiOptions {
  db: Database;
  log: Logger;
}

const HealthSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
  required: ['status'],
} as const;

/**
 * The Platform API. Validation and the OpenAPI document come from the same route schemas
 * (DESIGN §2); /v1/openapi.json is generated, never written by hand.
 */
export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: opts.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1024 * 1024 }) as unknown as FastifyInstance;
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'RenLayer Platform API', version: VERSION },
      servers: [{ url: '/' }],
    },
  });

  app.get('/healthz', { schema: { hide: true, response: { 200: HealthSchema } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true, response: { 200: HealthSchema, 503: HealthSchema } } }, async (_req, reply) => {
    try {
      await opts.db.query('SELECT 1 FROM renlayer.schema_migrations LIMIT 1');
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'not_ready', reason: 'PostgreSQL does not answer' });
    }
  });
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

export interface ApiHandle {
  port: number;
  close(): Promise<void>;
}

export async function startApi(opts: ApiOptions & { host: string; port: number }): Promise<ApiHandle> {
  const app = await buildApi(opts);
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.log.info({ listen: `${opts.host}:${port}` }, 'Platform API listening');
  return { port, close: () => app.close() };
}
