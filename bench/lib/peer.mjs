// The peer: Portkey's open-source gateway, installed on demand into bench/.peer (as published)
// and bench/.peer-stream (the same release with @hono/node-server pinned to the last version its
// streaming works with), started as its own start script runs it: `node build/start-server.js`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, waitForHttp, waitForLine } from './processes.mjs';

export const PEER_PACKAGE = '@portkey-ai/gateway';
export const PEER_VERSION = '1.15.2';
/**
 * Its issue #1389: with @hono/node-server 1.14.2 or newer (what a fresh install resolves), every
 * streamed answer is HTTP 500 ("TypeError: immutable" appending a header to the Response). 1.14.1
 * is the last version that streams; found by installing each release against this mock.
 */
export const STREAM_PIN = { '@hono/node-server': '1.14.1' };

function installedVersion(dir, pkg) {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Installs the peer into `dir` unless that exact setup is already there; returns the versions found. */
function installInto(dir, overrides) {
  const manifest = { private: true, description: 'benchmark peer, installed by bench/lib/peer.mjs', dependencies: { [PEER_PACKAGE]: PEER_VERSION }, ...(overrides ? { overrides } : {}) };
  const text = JSON.stringify(manifest, null, 2) + '\n';
  const file = join(dir, 'package.json');
  const same = existsSync(file) && readFileSync(file, 'utf8') === text;
  const pinOk = !overrides || Object.entries(overrides).every(([p, v]) => installedVersion(dir, p) === v);
  if (!same || installedVersion(dir, PEER_PACKAGE) !== PEER_VERSION || !pinOk) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
    console.error(`[bench] installing ${PEER_PACKAGE}@${PEER_VERSION} into ${dir}${overrides ? ` with ${JSON.stringify(overrides)}` : ''}`);
    execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  }
  return { gateway: installedVersion(dir, PEER_PACKAGE), hono_node_server: installedVersion(dir, '@hono/node-server'), hono: installedVersion(dir, 'hono') };
}

/** Both installs; errors are returned, not thrown, so the run goes on without the peer. */
export function installPeer(benchDir) {
  const out = { package: PEER_PACKAGE, version: PEER_VERSION };
  try {
    out.as_published = { dir: 'bench/.peer', ...installInto(join(benchDir, '.peer'), null) };
  } catch (err) {
    out.as_published = { error: `install failed: ${err.stderr?.toString().trim() || err.message}` };
  }
  try {
    out.streaming = {
      dir: 'bench/.peer-stream', ...installInto(join(benchDir, '.peer-stream'), STREAM_PIN),
      note: `streaming scenarios run a second install whose @hono/node-server is pinned to ${STREAM_PIN['@hono/node-server']} (npm overrides in bench/.peer-stream/package.json): `
        + 'the version a fresh install resolves answers HTTP 500 on every stream (Portkey gateway issue #1389)',
    };
  } catch (err) {
    out.streaming = { error: `install failed: ${err.stderr?.toString().trim() || err.message}` };
  }
  return out;
}

/** Starts the gateway from `dir` on `port` as its start script does (`node build/start-server.js`). */
export async function startPeer(dir, port) {
  const entry = join(dir, 'node_modules', PEER_PACKAGE, 'build/start-server.js');
  const proc = startProcess('portkey gateway', process.execPath, [entry, `--port=${port}`], { cwd: dir });
  await waitForLine(proc, (l) => l.includes('Ready for connections'), 30_000);
  await waitForHttp(`http://127.0.0.1:${port}/`, { proc, okStatus: null });
  return proc;
}

/** Headers that route a call through the gateway to the mock. */
export function peerHeaders(mockUrl) {
  return {
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `${mockUrl}/v1`,
    authorization: 'Bearer bench-not-a-real-key',
  };
}

/** The gateway passes a caller's own headers upstream only when they are listed in this header. */
export function peerForwardHeaders(names) {
  return { 'x-portkey-forward-headers': names.join(',') };
}
