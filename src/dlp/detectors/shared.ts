/**
 * Small building blocks the detector files share: confidence functions for secrets and the
 * boundary checks that RE2 cannot express (it has no lookaround).
 */
import { hasContext } from '../match.js';
import { isPlaceholder, shannonEntropy } from '../validators.js';

/**
 * Joins parts of an example secret. The catalog's example keys are written in pieces so that no
 * complete, well-formed credential appears in the source: repository secret scanners (GitHub
 * push protection among them) would otherwise flag — or refuse — the project's own test data.
 */
export const join = (...parts: string[]): string => parts.join('');

/** Confidence of a placeholder or documentation value: reported, at LOW (see match.ts). */
export const PLACEHOLDER_CONFIDENCE = 0.1;

/** The character right after the value, or '' at the end of the text. */
export function charAfter(text: string, start: number, value: string): string {
  return text[start + value.length] ?? '';
}

/** The character right before the value, or ''. */
export function charBefore(text: string, start: number): string {
  return start > 0 ? text[start - 1]! : '';
}

/** The whole word (run of non-blank characters) that ends just before `start`, skipping blanks; lower-cased. */
export function wordBefore(text: string, start: number): string {
  let end = start;
  while (end > 0 && /\s/.test(text[end - 1]!)) end--;
  let begin = end;
  while (begin > 0 && !/\s/.test(text[begin - 1]!) && end - begin < 40) begin--;
  return text.slice(begin, end).toLowerCase();
}

export interface SecretConfidenceOptions {
  /** Characters a token of this kind is made of: a neighbour from this set means the match is part of something longer. */
  tokenChars?: RegExp;
  /** The random part of the value (after a fixed prefix), for the entropy floor. */
  body?: (value: string) => string;
  /** Bits per character the random part must reach. */
  minEntropy?: number;
  /** Also require upper case, lower case and a digit in the random part (true for base62 keys of 30+ characters). */
  mixedCase?: boolean;
  /** Confidence for a value below the entropy floor that is no placeholder: 0 drops it. */
  lowEntropy?: number;
  /** Confidence when everything passes. */
  base?: number;
}

/**
 * Confidence for a prefixed secret: 0 when glued to more token characters, LOW for placeholders,
 * `lowEntropy` when the random part is not random enough, else `base`.
 */
export function secretConfidence(opts: SecretConfidenceOptions = {}) {
  const { tokenChars, body, minEntropy = 0, mixedCase = false, lowEntropy = 0, base = 0.9 } = opts;
  return (value: string, text: string, start: number): number => {
    if (tokenChars) {
      if (tokenChars.test(charAfter(text, start, value))) return 0;
      if (tokenChars.test(charBefore(text, start))) return 0;
    }
    if (isPlaceholder(value)) return PLACEHOLDER_CONFIDENCE;
    const random = body ? body(value) : value;
    if (shannonEntropy(random) < minEntropy) return lowEntropy;
    if (mixedCase && !(/[a-z]/.test(random) && /[A-Z]/.test(random) && /\d/.test(random))) {
      return lowEntropy;
    }
    return base;
  };
}

/** `high` when one of the words is within `window` characters before the value, else `low`. */
export function contextBoost(words: string[], window: number, low: number, high: number) {
  return (_value: string, text: string, start: number): number =>
    hasContext(text, start, { words, window }) ? high : low;
}
