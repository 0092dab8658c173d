/**
 * A tenant's own DLP patterns (SPEC §6 "Tenant configuration"): RE2 regexes and keyword lists.
 * They run on the same engine as the built-ins, so no operator-written pattern can stall the
 * proxy, and they are checked here both when saved and when compiled.
 */
import RE2 from 're2';
import { RenLayerError } from '../core/errors.js';
import type { Candidate } from './match.js';
import type { Severity } from './types.js';

export type DlpAction = 'block' | 'warn' | 'record' | 'redact';

export const DLP_ACTIONS: readonly DlpAction[] = ['block', 'warn', 'record', 'redact'];
export const SEVERITIES: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

export interface CustomPattern {
  /** The finding class is `custom.<name>`. */
  name: string;
  type: 'regex' | 'keywords';
  /** RE2 syntax; inline flags such as `(?i)`; a `(?P<value>…)` group narrows the reported span. */
  pattern?: string;
  keywords?: string[];
  severity: Severity;
  appliesTo: 'request' | 'response' | 'both';
  action?: DlpAction;
  enabled?: boolean;
}

// Same rule as tenant and agent names: the class appears in `[REDACTED:custom.<name>]` markers
// and in policies, so it must stay one plain token.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const MAX_PATTERN_LENGTH = 4096;
const MAX_KEYWORDS = 10_000;
const MAX_KEYWORD_LENGTH = 200;

/** Texts whose every position is tried: together they put each RE2 assertion (^ $ \A \z \b \B) in each state. */
const EMPTY_PROBES = ['', 'a', ' ', '\n', '0', 'é', 'a b', '\na\n', 'A_1.x', 'ab\n\ncd'];

function refuse(name: string, reason: string): never {
  throw new RenLayerError('validation_failed', `custom pattern "${name.slice(0, 80)}": ${reason}`, { pattern: name, reason });
}

/**
 * Whether an RE2 pattern can match the empty string somewhere. Tries a sticky match at every
 * position of a few probe texts: an empty match is possible only through optional parts and
 * zero-width assertions, and the probes' end positions (where nothing can be consumed, so a
 * preferred non-empty alternative cannot hide the empty one) cover every assertion state.
 */
export function canMatchEmpty(source: string): boolean {
  const re = new RE2(source, 'y');
  for (const probe of EMPTY_PROBES) {
    for (let i = 0; i <= probe.length; i++) {
      re.lastIndex = i;
      const m = re.exec(probe);
      if (m && m[0] === '') return true;
    }
  }
  return false;
}

/** Keywords as written, trimmed; the form every other function here works on. */
function cleanKeywords(keywords: readonly string[]): string[] {
  return keywords.map((k) => k.trim());
}

/**
 * Refuses a pattern that cannot be saved, with the reason (RenLayerError `validation_failed`,
 * details `{pattern, reason}`): a bad name, severity, direction or action, a regex that RE2
 * does not compile or that can match the empty string, an empty keyword list or keyword.
 */
export function validateCustomPattern(p: CustomPattern): void {
  const name = typeof p.name === 'string' ? p.name : '';
  if (!NAME.test(name)) refuse(name, "name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
  if (!SEVERITIES.includes(p.severity)) refuse(name, `severity must be one of ${SEVERITIES.join(', ')}`);
  if (!['request', 'response', 'both'].includes(p.appliesTo)) refuse(name, 'applies_to must be request, response or both');
  if (p.action !== undefined && !DLP_ACTIONS.includes(p.action)) refuse(name, `action must be one of ${DLP_ACTIONS.join(', ')}`);
  if (p.type === 'regex') {
    if (typeof p.pattern !== 'string' || p.pattern === '') refuse(name, 'a regex pattern needs a non-empty pattern');
    if (p.pattern.length > MAX_PATTERN_LENGTH) refuse(name, `pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
    try {
      new RE2(p.pattern);
    } catch (err) {
      refuse(name, `pattern does not compile (RE2 syntax): ${(err as Error).message}`);
    }
    // A pattern that matches nothing would be reported everywhere (or, worse, nowhere visible).
    if (canMatchEmpty(p.pattern)) refuse(name, 'pattern can match the empty string');
  } else if (p.type === 'keywords') {
    if (!Array.isArray(p.keywords) || p.keywords.length === 0) refuse(name, 'a keyword list needs at least one keyword');
    if (p.keywords.length > MAX_KEYWORDS) refuse(name, `at most ${MAX_KEYWORDS} keywords`);
    for (const k of p.keywords) {
      if (typeof k !== 'string' || k.trim() === '') refuse(name, 'keywords must not be empty');
      if (k.length > MAX_KEYWORD_LENGTH) refuse(name, `keyword "${k.slice(0, 40)}…" is longer than ${MAX_KEYWORD_LENGTH} characters`);
    }
    // The list becomes one RE2 program, which has a memory bound: refuse now, not at the next reload.
    try {
      new RE2(keywordPattern(p.keywords));
    } catch (err) {
      refuse(name, `keyword list does not compile: ${(err as Error).message}`);
    }
  } else {
    refuse(name, 'type must be regex or keywords');
  }
}

/** A letter, digit or underscore: what "whole word" means for keywords. */
const WORD = String.raw`\p{L}\p{N}_`;

/** RE2 source escaping of one literal keyword; any run of blanks inside it matches any run of blanks. */
function keywordSource(keyword: string): string {
  return keyword
    .split(/\s+/)
    .map((w) => w.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&'))
    .join(String.raw`\s+`);
}

/**
 * One case-insensitive RE2 alternation over all keywords, each a whole word: no letter, digit
 * or underscore right before or after it. RE2 has no lookaround and its `\b` knows only ASCII,
 * so the boundary characters are part of the match and the keyword is the `value` group;
 * longer keywords go first so that "password" is preferred over "pass".
 */
export function keywordPattern(keywords: readonly string[]): string {
  const words = [...new Set(cleanKeywords(keywords))].sort((a, b) => b.length - a.length);
  return String.raw`(?i)(?:^|[^${WORD}])(?P<value>${words.map(keywordSource).join('|')})(?:$|[^${WORD}])`;
}

/**
 * Every keyword occurrence. The next search starts right after the keyword, not after the
 * boundary character the match consumed, so "secret secret" yields two findings.
 */
export function keywordMatcher(keywords: readonly string[]): (text: string) => Candidate[] {
  const re = new RE2(keywordPattern(keywords), 'gd');
  return (text) => {
    const out: Candidate[] = [];
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const span = m.indices?.groups?.value;
      if (!span) break;
      const [start, end] = span;
      out.push({ start, end, value: text.slice(start, end), confidence: 0.9 });
      re.lastIndex = end;
    }
    return out;
  };
}
