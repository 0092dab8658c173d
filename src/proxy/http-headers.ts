import type { IncomingHttpHeaders } from 'node:http';
import { RenLayerError } from '../core/errors.js';

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus framing we redo. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'expect',
]);

/** The agent's own credential: the upstream gets the agent record's credential instead. */
const AGENT_CREDENTIALS = new Set(['authorization', 'x-api-key']);

const NONE: ReadonlySet<string> = new Set();

/** Headers the Connection header names as hop-by-hop (most messages name none: no Set then). */
function connectionListed(connection: string | string[] | undefined): ReadonlySet<string> {
  if (!connection) return NONE;
  const listed = String(connection).split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '' && !HOP_BY_HOP.has(s));
  return listed.length === 0 ? NONE : new Set(listed);
}

/**
 * What the upstream receives: the agent's headers minus hop-by-hop, the agent's RenLayer key and
 * X-RenLayer-*, plus the injected headers of the agent record. The body is asked for without
 * compression so the proxy can read usage and scan it.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  injected: Record<string, string>,
  bodyLength: number,
): Record<string, string | string[]> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || AGENT_CREDENTIALS.has(name) || listed.has(name)) continue;
    if (name.startsWith('x-renlayer-')) continue;
    out[name] = value;
  }
  for (const [name, value] of Object.entries(injected)) out[name.toLowerCase()] = value;
  out['accept-encoding'] = 'identity';
  if (bodyLength > 0) out['content-length'] = String(bodyLength);
  return out;
}

/** What the agent receives of the upstream's headers. */
export function agentResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  keepLength: boolean,
): Record<string, string | string[]> {
  const listed = connectionListed(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || listed.has(name)) continue;
    if (HOP_BY_HOP.has(name) && !(keepLength && name === 'content-length')) continue;
    out[name] = value;
  }
  return out;
}

const PRINTABLE = /^[\x20-\x7e]*$/;
export const MAX_ATTRIBUTION_HEADER = 256;

/** X-RenLayer-User and X-RenLayer-Session: at most 256 printable ASCII characters (SPEC §3). */
export function attributionHeader(headers: IncomingHttpHeaders, name: 'x-renlayer-user' | 'x-renlayer-session'): string | null {
  const raw = headers[name];
  if (raw === undefined) return null;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (value.length > MAX_ATTRIBUTION_HEADER || !PRINTABLE.test(value)) {
    throw new RenLayerError('invalid_header',
      `${name === 'x-renlayer-user' ? 'X-RenLayer-User' : 'X-RenLayer-Session'} must be at most ${MAX_ATTRIBUTION_HEADER} printable ASCII characters`);
  }
  return value === '' ? null : value;
}

/** The RenLayer key from `Authorization: Bearer …` or, for Anthropic SDKs, `x-api-key`. */
export function presentedKey(headers: IncomingHttpHeaders): string | null {
  const auth = headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1]!;
  }
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.trim()) return x.trim();
  return null;
}
