import type { TextPart } from './types.js';

/**
 * Shared building blocks of the request normalisers: JSON paths, a collector for texts and tool
 * names, and a walker for shapes no normaliser models, so unknown part types still get scanned.
 */

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$.a` for identifier keys, `$['a b']` otherwise, so every path can be followed back. */
export function keyPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}['${key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
}

export function indexPath(path: string, i: number): string {
  return `${path}[${i}]`;
}

export interface Common {
  model: string | null;
  stream: boolean;
  maxTokens: number | null;
}

/** Model, stream flag and token cap: read the same way in every dialect that has them. */
export function common(body: Record<string, unknown>, maxTokens: number | null): Common {
  return {
    model: typeof body.model === 'string' ? body.model : null,
    stream: body.stream === true,
    maxTokens,
  };
}

export function finiteNumber(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export class Collector {
  readonly texts: TextPart[] = [];
  readonly offered: string[] = [];
  readonly called: string[] = [];

  /** Empty strings carry nothing to scan and would only add blank lines to the prompt. */
  text(path: string, value: unknown, kind: TextPart['kind']): void {
    if (typeof value === 'string' && value !== '') this.texts.push({ path, text: value, kind });
  }

  /**
   * Tool arguments are scanned as the model sees them: JSON text stays as sent (re-serialising
   * could change the bytes a finding's offsets refer to), objects become JSON.
   */
  json(path: string, value: unknown, kind: TextPart['kind']): void {
    if (value === undefined || value === null) return;
    if (typeof value === 'string') return this.text(path, value, kind);
    let s: string | undefined;
    try {
      s = JSON.stringify(value);
    } catch {
      // Too deeply nested to stringify: the strings inside are still found one by one.
      return walkStrings(value, path, kind, this);
    }
    this.text(path, s, kind);
  }

  offer(name: unknown): void {
    if (typeof name === 'string' && name !== '' && !this.offered.includes(name)) this.offered.push(name);
  }

  call(name: unknown): void {
    if (typeof name === 'string' && name !== '' && !this.called.includes(name)) this.called.push(name);
  }
}

/**
 * Keys that hold identifiers, enums or encoded payloads rather than text a person wrote:
 * scanning them only adds noise (ids) or megabytes of base64 (images, files, encrypted state).
 */
const OPAQUE_KEYS = new Set([
  'type',
  'id',
  'call_id',
  'tool_use_id',
  'item_id',
  'status',
  'role',
  'media_type',
  'mime_type',
  'data',
  'file_data',
  'file_id',
  'image_url',
  'signature',
  'encrypted_content',
  'encrypted_stdout',
  'cache_control',
  'detail',
]);

/**
 * Every string leaf under `value` (except opaque keys and data: URLs), in document order.
 * Iterative, so a hostile 100,000-deep body cannot overflow the stack.
 */
export function walkStrings(value: unknown, path: string, kind: TextPart['kind'], c: Collector): void {
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [v, p] = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.startsWith('data:')) c.text(p, v, kind);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], indexPath(p, i)]);
    } else if (isRecord(v)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        if (!OPAQUE_KEYS.has(k)) stack.push([v[k], keyPath(p, k)]);
      }
    }
  }
}

/** Calls fn for each record of an array with its path; anything that is not an array yields nothing. */
export function eachRecord(v: unknown, path: string, fn: (r: Record<string, unknown>, p: string, i: number) => void): void {
  if (!Array.isArray(v)) return;
  v.forEach((x, i) => {
    if (isRecord(x)) fn(x, indexPath(path, i), i);
  });
}
