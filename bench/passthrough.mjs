#!/usr/bin/env node
// The ceiling for any Node proxy on this machine: a bare pass-through with no governance at all.
//   node bench/passthrough.mjs --listen 127.0.0.1:PORT --upstream http://127.0.0.1:MOCKPORT
// node:http server; one undici Pool per upstream origin; the request body read into one buffer;
// JSON (any non-SSE) answers read whole and written at once; SSE answers piped as they arrive.
// Prints one JSON line {"msg":"passthrough listening","listen":"host:port"} when ready.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({ options: { listen: { type: 'string', default: '127.0.0.1:0' }, upstream: { type: 'string' } } });
if (!values.upstream) {
  console.error('usage: passthrough.mjs --listen HOST:PORT --upstream URL');
  process.exit(2);
}
const upstreamOrigin = new URL(values.upstream).origin;
const [host, port] = [values.listen.slice(0, values.listen.lastIndexOf(':')), Number(values.listen.slice(values.listen.lastIndexOf(':') + 1))];

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'expect']);
const pools = new Map();
function poolFor(origin) {
  let pool = pools.get(origin);
  if (!pool) {
    // Sized for the 1,000-connection scenario: a pool smaller than the concurrency queues calls.
    pool = new Pool(origin, { connections: 4096, pipelining: 1, keepAliveTimeout: 60_000 });
    pools.set(origin, pool);
  }
  return pool;
}

function forwardHeaders(headers) {
  const out = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { chunks.push(c); size += c.length; });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function fail(res, status, message) {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify({ error: { message, type: 'passthrough_error' } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req, res) {
  try {
    const body = await readBody(req);
    const headers = forwardHeaders(req.headers);
    if (body.length > 0) headers['content-length'] = String(body.length);
    const up = await poolFor(upstreamOrigin).request({ method: req.method, path: req.url, headers, body: body.length > 0 ? body : null });
    const out = forwardHeaders(up.headers);
    if (String(up.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      res.writeHead(up.statusCode, out);
      res.flushHeaders();
      up.body.pipe(res);
      up.body.on('error', () => res.destroy());
      res.on('close', () => { if (!up.body.destroyed) up.body.destroy(); });
      return;
    }
    const answer = Buffer.from(await up.body.arrayBuffer());
    out['content-length'] = String(answer.length);
    res.writeHead(up.statusCode, out);
    res.end(answer);
  } catch (err) {
    fail(res, 502, `upstream failed: ${err.message}`);
  }
}

const server = createServer({ noDelay: true, requestTimeout: 0 }, (req, res) => void handle(req, res));
server.keepAliveTimeout = 65_000;
server.listen(port, host, () => {
  const a = server.address();
  console.log(JSON.stringify({ msg: 'passthrough listening', listen: `${a.address}:${a.port}` }));
});
const shutdown = () => {
  server.close();
  server.closeIdleConnections();
  for (const p of pools.values()) p.destroy();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
