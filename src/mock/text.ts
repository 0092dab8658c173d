import { randomBytes } from 'node:crypto';

/**
 * Deterministic "model" behaviour shared by every dialect: answer text, token estimates, splitting
 * into stream deltas, ids and embedding vectors. Same request in, same text and usage out, so tests
 * and benchmarks can assert on them.
 */

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The text of a message's content in any dialect: a plain string, or an array of parts whose `text`
 * fields are joined (OpenAI text/input_text parts, Anthropic text blocks). Anthropic tool_result
 * blocks nest their own content, which counts towards usage but is not what the user typed.
 */
export function contentText(content: unknown, withToolResults = true): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (typeof part === 'string') out += part;
    else if (isRecord(part)) {
      if (typeof part.text === 'string') out += part.text;
      else if (withToolResults && part.type === 'tool_result') out += contentText(part.content);
    }
  }
  return out;
}

/** Every normal answer has exactly this many words, whatever the prompt, so completion sizes are stable. */
export const ANSWER_WORDS = 32;
const SNIPPET_CHARS = 40;
const FILLER = (
  'The mock upstream pads every answer with the same filler words so that token counts stay stable ' +
  'across runs and tests can rely on them without calling a real model.'
).split(' ');

/** A simple, stable estimate (about four characters per token) used for prompts and completions alike. */
export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function answerText(prompt: string): string {
  const snippet = prompt.replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS).trim() || '(empty)';
  const words = `This is a mock answer to: ${snippet}.`.split(' ');
  for (let i = 0; words.length < ANSWER_WORDS; i++) words.push(FILLER[i % FILLER.length] as string);
  let text = words.join(' ');
  if (!text.endsWith('.')) text += '.';
  return text;
}

/** Cut points never fall between the halves of a surrogate pair, so every piece is valid text. */
function safeCut(text: string, at: number): number {
  const c = text.charCodeAt(at);
  return c >= 0xdc00 && c <= 0xdfff ? at + 1 : at;
}

/** Splits at character positions, ignoring word boundaries: echo mode uses it to cut secrets across deltas. */
export function splitChars(text: string, n: number): string[] {
  const count = Math.max(1, Math.min(n, text.length));
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i <= count; i++) {
    const end = i === count ? text.length : Math.max(start, safeCut(text, Math.floor((i * text.length) / count)));
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/**
 * Splits into n pieces on word boundaries when there are enough words, like a real model's token
 * stream; falls back to character positions otherwise. Never yields more pieces than characters.
 */
export function splitWords(text: string, n: number): string[] {
  const words = text.split(/(?<= )/);
  if (words.length < n) return splitChars(text, n);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(words.slice(Math.floor((i * words.length) / n), Math.floor(((i + 1) * words.length) / n)).join(''));
  }
  return out;
}

/** FNV-1a over UTF-16 code units: cheap, stable across runs, good enough to seed ids and vectors. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A stable id for a tool call, so a replayed request yields the same call id. */
export function stableId(prefix: string, text: string): string {
  const a = hash32(text).toString(16).padStart(8, '0');
  const b = hash32(text, 0x9e3779b9).toString(16).padStart(8, '0');
  return `${prefix}${a}${b}`;
}

// Response ids only need to be unique; a random per-process prefix plus a counter avoids any
// per-request randomness while keeping ids from two mock processes apart.
const ID_PREFIX = randomBytes(4).toString('hex');
let idCounter = 0;
export function nextId(prefix: string): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}${ID_PREFIX}${idCounter.toString(36).padStart(8, '0')}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export const EMBEDDING_DIMS = 8;

/** A unit-length vector seeded by the text: equal texts get equal vectors, different texts differ. */
export function embedding(text: string, dims: number): number[] {
  let s = hash32(text) || 1;
  const v = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    // xorshift32
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const x = s / 0xffffffff - 0.5;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  // Rounded through float32 so the JSON floats and the base64 encoding carry the same values.
  for (let i = 0; i < dims; i++) v[i] = Math.fround((v[i] as number) / norm);
  return v;
}

/** The little-endian float32 bytes, base64-encoded: what `encoding_format: "base64"` asks for. */
export function embeddingBase64(v: number[]): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i] as number, i * 4);
  return buf.toString('base64');
}
