import { seal } from '../core/secretbox.js';
import { redactJson, type Finding } from '../dlp/engine.js';
import type { TenantEntry } from './snapshot.js';

/**
 * What a trace keeps of a call's bodies (SPEC §9), per the tenant's `store_bodies`:
 * - `none`: nothing;
 * - `redacted`: the request and response with every DLP finding — whatever its action — replaced
 *   by `[REDACTED:<class>]`;
 * - `redacted_and_encrypted`: that, plus the original bytes sealed with AES-256-GCM under
 *   `RENLAYER_ENCRYPTION_KEY`, bound to tenant, trace and direction, for operators allowed to unmask.
 * Only what the proxy scanned is stored redacted: a body it could not read as JSON (or an
 * answer passed through unread) is stored as null, never in clear. Each body is cut at
 * `RENLAYER_TRACE_BODY_MAX_BYTES`.
 */
export interface BodyPolicy {
  redacted: boolean;
  /** The key to seal originals with; undefined when originals are not kept. */
  sealKey: Buffer | undefined;
  maxBytes: number;
}

export const NO_BODIES: BodyPolicy = { redacted: false, sealKey: undefined, maxBytes: 0 };

export function bodyPolicy(store: TenantEntry['storeBodies'], encryptionKey: Buffer | undefined, maxBytes: number): BodyPolicy {
  if (store === 'none') return NO_BODIES;
  return { redacted: true, sealKey: store === 'redacted_and_encrypted' ? encryptionKey : undefined, maxBytes };
}

const CUT = '…[TRUNCATED]';

/** The text, cut to at most `max` UTF-8 bytes (on a character boundary) and marked when cut. */
export function clip(text: string, max: number): string {
  if (text.length * 3 <= max || Buffer.byteLength(text) <= max) return text;
  const room = Math.max(0, max - Buffer.byteLength(CUT));
  let out = Buffer.from(text).subarray(0, room).toString('utf8');
  // A multi-byte character cut in half decodes as U+FFFD: drop it.
  if (out.endsWith('\uFFFD')) out = out.slice(0, -1);
  return out + CUT;
}

/**
 * A JSON body as stored: re-serialised with the findings redacted, or as received (`text`, the
 * body as it was decoded to be parsed) when there are none.
 */
export function redactedJsonBody(parsed: unknown, text: string, findings: readonly Finding[], max: number): string {
  return clip(findings.length === 0 ? text : JSON.stringify(redactJson(parsed, findings)), max);
}

/** A streamed answer as stored: the text of each stream key (`choice:0:content` …), redacted. */
export function streamedBody(texts: Record<string, string>, max: number): string {
  return clip(JSON.stringify({ stream: true, texts }), max);
}

export function sealedBody(key: Buffer, tenantId: string, traceId: string, direction: 'request' | 'response', raw: Buffer, max: number): string {
  return seal(key, raw.length > max ? raw.subarray(0, max) : raw, bodyContext(tenantId, traceId, direction));
}

/** Associated data of a sealed body: a ciphertext moved to another trace or tenant does not open. */
export function bodyContext(tenantId: string, traceId: string, direction: 'request' | 'response'): string {
  return `trace-body:${tenantId}:${traceId}:${direction}`;
}
