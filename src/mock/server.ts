import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicError, countMessageTokens, listAnthropicModels, messages } from './anthropic.js';
import { mcpError, mcpParseError, mcpPost } from './mcp.js';
import { chatCompletions, completions, embeddings, getModel, listModels, openaiError, responses } from './openai.js';
import { OptionError, requestOptions, type MockOptions, type RequestOptions } from './options.js';
import { Recorder } from './recorder.js';
import { BadRequest, json, writeReply, type Reply } from './reply.js';

export type { MockOptions } from './options.js';
export { mockOptionsFromEnv } from './options.js';
export type { RecordedRequest } from './recorder.js';

export interface MockServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Dialect = 'openai' | 'anthropic' | 'mcp';

interface Route {
  dialect: Dialect;
  /** Methods the path answers; anything else gets a 405 in the route's dialect. */
  methods: readonly string[];
  /** Whether the handler needs the body parsed as JSON first. */
  body: boolean;
  handle(body: unknown, opts: RequestOptions, req: IncomingMessage, path: string): Reply;
}

/** Bodies above this are refused with 413; the proxy in front enforces its own, smaller limit. */
const MAX_BODY_BYTES = 64 << 20;

const POST = ['POST'] as const;
const GET = ['GET'] as const;

const ROUTES: Record<string, Route> = {
  '/v1/chat/completions': { dialect: 'openai', methods: POST, body: true, handle: (b, o) => chatCompletions(b, o) },
  '/v1/completions': { dialect: 'openai', methods: POST, body: true, handle: (b, o) => completions(b, o) },
  '/v1/responses': { dialect: 'openai', methods: POST, body: true, handle: (b, o) => responses(b, o) },
  '/v1/embeddings': { dialect: 'openai', methods: POST, body: true, handle: (b) => embeddings(b) },
  '/v1/models': {
    dialect: 'openai',
    methods: GET,
    body: false,
    // Both SDKs list models at the same path; the anthropic-version header tells them apart.
    handle: (_b, _o, req) => (req.headers['anthropic-version'] ? listAnthropicModels() : listModels()),
  },
  '/v1/messages': { dialect: 'anthropic', methods: POST, body: true, handle: (b, o) => messages(b, o) },
  '/v1/messages/count_tokens': { dialect: 'anthropic', methods: POST, body: true, handle: (b) => countMessageTokens(b) },
  '/mcp': {
    dialect: 'mcp',
    methods: ['POST', 'GET', 'DELETE'],
    body: true,
    handle: (b, _o, req) => {
      // No server-initiated stream (GET) exists; sessions are stateless, so DELETE always succeeds.
      if (req.method === 'GET') return { kind: 'empty', status: 405, headers: { allow: 'POST, DELETE' } };
      if (req.method === 'DELETE') return { kind: 'empty', status: 200 };
      return mcpPost(b, req.headers.accept);
    },
  },
};

const MODEL_ROUTE: Route = {
  dialect: 'openai',
  methods: GET,
  body: false,
  handle: (_b, _o, _req, path) => getModel(decodeURIComponent(path.slice('/v1/models/'.length))),
};

/**
 * Upstream base URLs may carry a path (`http://host/tenant-a`) that the proxy keeps when forwarding,
 * so routing looks at the part from `/v1/` on, and at a trailing `/mcp`.
 */
function resolve(path: string): { route: Route; path: string } | null {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const v1 = p.indexOf('/v1/');
  const key = v1 >= 0 ? p.slice(v1) : p.endsWith('/mcp') ? '/mcp' : p;
  const route = ROUTES[key];
  if (route) return { route, path: key };
  if (key.startsWith('/v1/models/') && key.length > '/v1/models/'.length) return { route: MODEL_ROUTE, path: key };
  return null;
}

function errorReply(dialect: Dialect, status: number, message: string, param: string | null = null): Reply {
  if (dialect === 'anthropic') return anthropicError(status, message);
  if (dialect === 'mcp') return mcpError(status, message);
  return openaiError(status, message, param);
}

function parseError(dialect: Dialect, detail: string): Reply {
  if (dialect === 'mcp') return mcpParseError();
  const message = `We could not parse the JSON body of your request: ${detail}`;
  return errorReply(dialect, 400, message);
}

function plainOptions(base: MockOptions): RequestOptions {
  return { latencyMs: base.latencyMs, chunks: base.chunks, chunkDelayMs: base.chunkDelayMs, echo: false, status: null, fail: null };
}

function buildReply(req: IncomingMessage, path: string, body: Buffer | null, opts: RequestOptions): Reply {
  const method = req.method ?? 'GET';
  const found = resolve(path);
  if (!found) {
    const dialect: Dialect = req.headers['anthropic-version'] ? 'anthropic' : 'openai';
    return errorReply(dialect, 404, `Unknown request URL: ${method} ${path}.`);
  }
  const { route } = found;
  if (!route.methods.includes(method)) {
    const r = errorReply(route.dialect, 405, `Method ${method} is not allowed on ${path}.`);
    return { ...r, headers: { allow: route.methods.join(', ') } };
  }
  if (opts.status !== null) return errorReply(route.dialect, opts.status, `Mock error: x-mock-status asked for HTTP ${opts.status}.`);
  if (body === null) return errorReply(route.dialect, 413, `Request body larger than ${MAX_BODY_BYTES} bytes.`);
  let parsed: unknown;
  if (route.body && method === 'POST') {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      return parseError(route.dialect, (e as Error).message);
    }
  }
  try {
    return route.handle(parsed, opts, req, found.path);
  } catch (e) {
    if (e instanceof BadRequest) return errorReply(route.dialect, 400, e.message, e.param);
    return errorReply(route.dialect, 500, `Mock upstream failed: ${(e as Error).message}`);
  }
}

function handle(req: IncomingMessage, res: ServerResponse, body: Buffer | null, base: MockOptions, recorder: Recorder): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);

  // Test plumbing answers directly and is not recorded, so it never shows up in what it reports.
  if (path === '/_mock/requests') {
    if (req.method === 'GET') return writeReply(res, json(200, recorder.list()), plainOptions(base));
    if (req.method === 'DELETE') {
      recorder.clear();
      return writeReply(res, { kind: 'empty', status: 204 }, plainOptions(base));
    }
    return writeReply(res, openaiError(405, 'Use GET or DELETE.'), plainOptions(base));
  }
  if (path === '/healthz') return writeReply(res, json(200, { status: 'ok' }), plainOptions(base));

  recorder.record(req.method ?? 'GET', url, req.headers, body ?? Buffer.alloc(0));

  let opts: RequestOptions;
  try {
    opts = requestOptions(req.headers, base);
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    const dialect = resolve(path)?.route.dialect ?? 'openai';
    return writeReply(res, errorReply(dialect, 400, e.message), plainOptions(base));
  }
  // Never answered; close() destroys the socket, and a client that gives up closes it first.
  if (opts.fail === 'hang') return;
  const reply = buildReply(req, path, body, opts);
  if (opts.latencyMs > 0) setTimeout(writeReply, opts.latencyMs, res, reply, opts).unref();
  else writeReply(res, reply, opts);
}

function urlHost(host: string): string {
  // A wildcard bind is reachable on loopback; that is the address a local client should use.
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the mock. Defaults to 127.0.0.1 on an ephemeral port; pass mockOptionsFromEnv() for the CLI. */
export function startMockUpstream(opts: Partial<MockOptions> = {}): Promise<MockServer> {
  const base: MockOptions = {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    latencyMs: opts.latencyMs ?? 0,
    chunks: opts.chunks ?? 8,
    chunkDelayMs: opts.chunkDelayMs ?? 0,
  };
  const recorder = new Recorder();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
      else chunks.length = 0;
    });
    req.on('end', () => {
      const body = size > MAX_BODY_BYTES ? null : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      handle(req, res, body, base, recorder);
    });
  });
  // Longer than the idle timeout of common pooled clients (undici: 4 s, Node agents: 5 s up to 60 s),
  // so the client always closes an idle connection first instead of racing our close.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    // As the proxy: a burst of new upstream connections must not wait on SYN retransmits.
    server.listen({ port: base.port, host: base.host, backlog: 4096 }, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      let closing: Promise<void> | null = null;
      resolvePromise({
        url: `http://${urlHost(base.host)}:${port}`,
        port,
        close() {
          closing ??= new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Hanging and streaming requests would otherwise keep close() waiting forever.
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
