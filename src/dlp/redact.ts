/**
 * Redaction (SPEC §6): each matched span becomes `[REDACTED:<class>]`, in plain text and inside
 * the JSON body that is forwarded or stored, which must stay valid JSON with nothing else
 * changed. Findings locate their text by JSON path (`$.messages[2].content[0].text`) and by
 * JavaScript string indices into the text the scanner saw at that path.
 */

/** What redaction needs of a finding. */
export interface Redactable {
  class: string;
  location: { path: string; start: number; end: number };
}

interface Span {
  start: number;
  end: number;
  class: string;
}

export const marker = (cls: string): string => `[REDACTED:${cls}]`;

/** Valid spans of `findings` within a text of `length`, sorted, overlapping ones merged (the first one's class names the union). */
function mergeSpans(findings: readonly Redactable[], length: number): Span[] {
  const spans = findings
    .map((f) => ({ start: f.location.start, end: f.location.end, class: f.class }))
    .filter((s) => Number.isInteger(s.start) && Number.isInteger(s.end) && s.start >= 0 && s.start < s.end && s.end <= length)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && s.start < last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function applyEdits(text: string, edits: readonly Edit[]): string {
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

/** The text with each finding's span replaced by `[REDACTED:<class>]`. Spans outside the text are ignored. */
export function redactText(text: string, findings: readonly Redactable[]): string {
  return applyEdits(text, mergeSpans(findings, text.length).map((s) => ({ start: s.start, end: s.end, text: marker(s.class) })));
}

// ---------------------------------------------------------------------------------------------
// JSON text: tool arguments are JSON inside a string, and object-valued arguments are scanned as
// their JSON.stringify text. A span is mapped onto the tokens it touches, so the result parses.

interface Token {
  start: number;
  end: number;
  /** String literal (with its quotes) or a bare number / true / false / null. */
  string: boolean;
}

/** The string and bare tokens of a JSON text (callers check it parses; this only never loops on one that does not). */
function tokens(json: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < json.length) {
    const c = json[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      out.push({ start: i, end: j + 1, string: true });
      i = j + 1;
    } else if (/[-0-9a-z]/.test(c)) {
      let j = i + 1;
      while (j < json.length && /[-+.0-9a-zA-Z]/.test(json[j]!)) j++;
      out.push({ start: i, end: j, string: false });
      i = j;
    } else {
      i++;
    }
  }
  return out;
}

/** Offsets within a string literal's content where one character or escape sequence begins, plus its end. */
function unitStarts(literal: string): number[] {
  const starts: number[] = [];
  let i = 1;
  while (i < literal.length - 1) {
    starts.push(i);
    if (literal[i] !== '\\') i += 1;
    else i += literal[i + 1] === 'u' ? 6 : 2;
  }
  starts.push(literal.length - 1);
  return starts;
}

/**
 * Redacts spans of a valid JSON text without breaking it: inside a string literal the span is
 * widened to whole escape sequences and the marker written escaped; a number or literal the
 * span touches becomes the marker as a JSON string.
 */
export function redactJsonText(json: string, findings: readonly Redactable[]): string {
  const spans = mergeSpans(findings, json.length);
  if (spans.length === 0) return json;
  const edits: Edit[] = [];
  for (const t of tokens(json)) {
    const hits = spans.filter((s) => s.start < t.end && s.end > t.start);
    if (hits.length === 0) continue;
    if (!t.string) {
      edits.push({ start: t.start, end: t.end, text: JSON.stringify(marker(hits[0]!.class)) });
      continue;
    }
    const literal = json.slice(t.start, t.end);
    const starts = unitStarts(literal);
    let last: Edit | undefined;
    for (const s of hits) {
      const from = Math.max(s.start - t.start, 1);
      const to = Math.min(s.end - t.start, literal.length - 1);
      if (from >= to) continue; // only the quotes
      const a = t.start + starts.filter((x) => x <= from).pop()!;
      const b = t.start + starts.find((x) => x >= to)!;
      const text = JSON.stringify(marker(s.class)).slice(1, -1);
      if (last && a < last.end) last.end = Math.max(last.end, b);
      else edits.push((last = { start: a, end: b, text }));
    }
  }
  return applyEdits(json, edits);
}

/** A string holding a JSON object or array (tool arguments), as opposed to text that merely parses (`"42"`). */
function isJsonText(s: string): boolean {
  const first = s.trimStart()[0];
  if (first !== '{' && first !== '[') return false;
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

function redactString(value: string, findings: readonly Redactable[]): string {
  if (isJsonText(value)) {
    const out = redactJsonText(value, findings);
    if (isJsonText(out)) return out;
  }
  return redactText(value, findings);
}

// ---------------------------------------------------------------------------------------------
// JSON paths as the dialect normalisers write them: `$`, `.key`, `[3]`, `['any key']`.

type Segment = string | number;

export function parsePath(path: string): Segment[] | null {
  if (!path.startsWith('$')) return null;
  const out: Segment[] = [];
  let i = 1;
  while (i < path.length) {
    if (path[i] === '.') {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(path.slice(i + 1));
      if (!m) return null;
      out.push(m[0]);
      i += 1 + m[0].length;
    } else if (path.startsWith("['", i)) {
      let key = '';
      let j = i + 2;
      for (; j < path.length && path[j] !== "'"; j++) {
        if (path[j] === '\\') j++;
        key += path[j] ?? '';
      }
      if (path[j + 1] !== ']') return null;
      out.push(key);
      i = j + 2;
    } else if (path[i] === '[') {
      const m = /^\[(\d+)\]/.exec(path.slice(i));
      if (!m) return null;
      out.push(Number(m[1]));
      i += m[0].length;
    } else {
      return null;
    }
  }
  return out;
}

type Container = Record<string, unknown> | unknown[];

function child(v: unknown, seg: Segment): { ok: boolean; value?: unknown } {
  if (typeof seg === 'number') return Array.isArray(v) && seg < v.length ? { ok: true, value: v[seg] } : { ok: false };
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, seg)) {
    return { ok: true, value: (v as Record<string, unknown>)[seg] };
  }
  return { ok: false };
}

/** The redacted form of the value at a finding's path, or undefined to leave it alone. */
function redactValue(value: unknown, findings: readonly Redactable[]): unknown {
  if (typeof value === 'string') return redactString(value, findings);
  if (typeof value !== 'object' || value === null) return undefined;
  // Object-valued tool arguments were scanned as JSON.stringify(value): the same text here.
  const json = JSON.stringify(value);
  try {
    return JSON.parse(redactJsonText(json, findings));
  } catch {
    // Cannot happen for a valid JSON text, but a leak is worse than a lost argument.
    return marker(findings[0]!.class);
  }
}

/**
 * Replaces the value at a JSON path in place with `fn(value)`; `fn` returning undefined leaves
 * it. Returns the root, which is replaced when the path is `$`. Paths that lead nowhere are left alone.
 */
export function updateAtPath(root: unknown, path: string, fn: (value: unknown) => unknown): unknown {
  const segments = parsePath(path);
  if (!segments) return root;
  if (segments.length === 0) return fn(root) ?? root;
  let parent: unknown = root;
  for (const seg of segments.slice(0, -1)) {
    const next = child(parent, seg);
    if (!next.ok) return root;
    parent = next.value;
  }
  const last = segments[segments.length - 1]!;
  const current = child(parent, last);
  if (!current.ok) return root;
  const v = fn(current.value);
  if (v !== undefined) (parent as Container as Record<string | number, unknown>)[last] = v;
  return root;
}

/**
 * A copy of the JSON body with the findings' spans redacted in the values at their paths. The
 * input is not modified; paths that do not lead to a value are left alone.
 */
export function redactJson(body: unknown, findings: readonly Redactable[]): unknown {
  const byPath = new Map<string, Redactable[]>();
  for (const f of findings) {
    const list = byPath.get(f.location.path);
    if (list) list.push(f);
    else byPath.set(f.location.path, [f]);
  }
  if (byPath.size === 0) return body;
  let root = structuredClone(body);
  for (const [path, list] of byPath) root = updateAtPath(root, path, (v) => redactValue(v, list));
  return root;
}
