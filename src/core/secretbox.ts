import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM envelopes for data at rest (upstream credentials, original bodies):
 * `v1.` + base64url(iv ‖ tag ‖ ciphertext). The optional context is bound as associated data,
 * so a ciphertext copied to another row (another tenant, another agent) fails to open.
 */
const VERSION = 'v1.';

export function seal(key: Buffer, plaintext: string | Buffer, context = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

export function open(key: Buffer, envelope: string, context = ''): Buffer {
  if (!envelope.startsWith(VERSION)) throw new Error('unknown envelope version');
  const raw = Buffer.from(envelope.slice(VERSION.length), 'base64url');
  if (raw.length < 28) throw new Error('envelope too short');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
}

export function sealJson(key: Buffer, value: unknown, context = ''): string {
  return seal(key, JSON.stringify(value), context);
}

export function openJson<T>(key: Buffer, envelope: string, context = ''): T {
  return JSON.parse(open(key, envelope, context).toString('utf8')) as T;
}
