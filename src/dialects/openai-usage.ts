import { isRecord } from './collect.js';

/**
 * OpenAI-style streams report usage only when asked (`stream_options.include_usage`), so the
 * proxy asks (SPEC §7) and, when the agent had not asked itself, hides the consequences: the
 * extra usage-only chunk and the `"usage":null` member the upstream then adds to every chunk.
 * The agent must receive what it would have received without us, so the member is cut out of the
 * text rather than the chunk re-serialised.
 */

/**
 * For openai_chat and openai_completions requests only (Anthropic and the Responses API reject
 * `stream_options` or report usage anyway). A `stream_options` that is not an object is left for
 * the upstream to reject, as it would without us.
 */
export function requestStreamUsage(body: Record<string, unknown>): { body: Record<string, unknown>; injected: boolean } {
  if (body.stream !== true) return { body, injected: false };
  const so = body.stream_options;
  if (so === undefined || so === null) return { body: { ...body, stream_options: { include_usage: true } }, injected: true };
  if (!isRecord(so) || so.include_usage === true) return { body, injected: false };
  return { body: { ...body, stream_options: { ...so, include_usage: true } }, injected: true };
}

const USAGE_NULL = /"usage"\s*:\s*null/g;

/** Depth and string state at `end`, by one pass over the JSON text before it. */
function isTopLevelKey(s: string, end: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return !inString && depth === 1;
}

const WS = /\s/;

/** Cuts the top-level `"usage": null` member and one comma next to it; null when there is none. */
function cutUsageNull(s: string): string | null {
  for (const m of s.matchAll(USAGE_NULL)) {
    const start = m.index;
    const end = start + m[0].length;
    if (!isTopLevelKey(s, start)) continue;
    let after = end;
    while (after < s.length && WS.test(s[after]!)) after++;
    if (s[after] !== ',' && s[after] !== '}') continue;
    let before = start - 1;
    while (before >= 0 && WS.test(s[before]!)) before--;
    if (s[before] === ',') return s.slice(0, before) + s.slice(end);
    if (s[after] === ',') return s.slice(0, start) + s.slice(after + 1);
    return s.slice(0, start) + s.slice(end);
  }
  return null;
}

/**
 * One chunk's data when the proxy injected include_usage: null for the usage-only chunk (drop
 * it), otherwise the data without its `"usage":null` member. Anything else (`[DONE]`, errors,
 * chunks without the member) comes back unchanged, so applying it twice changes nothing more.
 */
export function stripInjectedUsage(data: string): string | null {
  const cut = cutUsageNull(data);
  if (cut !== null) return cut;
  let j: unknown;
  try {
    j = JSON.parse(data);
  } catch {
    return data;
  }
  if (!isRecord(j) || !('usage' in j)) return data;
  if (j.usage === null) {
    // Only an oddly written member (an escaped key) gets here; correctness over byte fidelity.
    delete j.usage;
    return JSON.stringify(j);
  }
  if (isRecord(j.usage) && Array.isArray(j.choices) && j.choices.length === 0) return null;
  return data;
}
