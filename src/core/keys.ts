import * as crypto from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * RenLayer API keys: `rl_<env>_<32 base62 random><6 base62 CRC32 of everything before>`.
 * The checksum lets DLP recognise a leaked key offline without false positives, and lets the
 * proxy reject a mistyped key without a lookup. Only the SHA-256 of a key is ever stored.
 */
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LEN = 32;
const CHECK_LEN = 6;
export const API_KEY_PATTERN = /^rl_(live|test)_[0-9A-Za-z]{38}$/;

export type KeyEnvironment = 'live' | 'test';

function base62(n: number, width: number): string {
  let s = '';
  for (let i = 0; i < width; i++) {
    s = ALPHABET[n % 62]! + s;
    n = Math.floor(n / 62);
  }
  return s;
}

function checksum(body: string): string {
  return base62(crc32(body), CHECK_LEN);
}

export function generateApiKey(env: KeyEnvironment = 'live'): string {
  // Rejection sampling keeps every base62 character equally likely.
  let random = '';
  while (random.length < RANDOM_LEN) {
    for (const b of crypto.randomBytes(48)) {
      if (b < 248 && random.length < RANDOM_LEN) random += ALPHABET[b % 62];
    }
  }
  const body = `rl_${env}_${random}`;
  return body + checksum(body);
}

/** Format and checksum only; says nothing about whether the key exists. */
export function isWellFormedApiKey(key: string): boolean {
  if (!API_KEY_PATTERN.test(key)) return false;
  return checksum(key.slice(0, -CHECK_LEN)) === key.slice(-CHECK_LEN);
}

/**
 * Every proxied call hashes its key to find it: the one-shot crypto.hash (Node ≥ 20.12) costs a
 * third of a createHash object for a string this short.
 */
export const hashApiKey: (key: string) => string = typeof crypto.hash === 'function'
  ? (key) => crypto.hash('sha256', key, 'hex')
  : (key) => crypto.createHash('sha256').update(key).digest('hex');

/** What the console and CLI show instead of the secret: `rl_live_AbCd…`. */
export function displayPrefix(key: string): string {
  return key.slice(0, 12);
}
