/**
 * The DLP engine (SPEC §6): a tenant's effective detector set compiled once per configuration
 * change, and a pure scan of the normalised texts of a request or response. No I/O here; the
 * proxy, the stream scanner and `renlayer dlp scan` all call these functions.
 */
import crypto, { createHmac } from 'node:crypto';
import RE2 from 're2';
import { RenLayerError } from '../core/errors.js';
import type { TextPart } from '../dialects/types.js';
import { keywordMatcher, keywordPattern, validateCustomPattern, type CustomPattern, type DlpAction } from './custom.js';
import { BUILTIN_DETECTORS } from './detectors/index.js';
import { detectorMaxLength, effectiveSeverity, findCandidates, LOW_CONFIDENCE, prefilterSource, scanSubject, stringSubject, EXTRACT_BYTES_UP_TO, type Candidate, type Subject } from './match.js';
import type { Detector, Severity } from './types.js';

export { canMatchEmpty, DLP_ACTIONS, SEVERITIES, validateCustomPattern } from './custom.js';
export type { CustomPattern, DlpAction } from './custom.js';
export { redactJson, redactText } from './redact.js';

export type Direction = 'request' | 'response';

export interface DetectorOverride {
  severity?: Severity;
  enabled?: boolean;
  /** Agent ids for which the class is not scanned. */
  disabledAgents?: string[];
  action?: DlpAction;
}

export interface TenantDlpConfig {
  /** By class (`pii.email`, `custom.employee-id`); applies to every detector of the class. */
  overrides: Record<string, DetectorOverride>;
  patterns: CustomPattern[];
  /** Values exempt for a class, e.g. the test card `4111 1111 1111 1111`. */
  allow: { class: string; value: string }[];
  /** Severity → action mapping; missing severities keep the default. */
  actions?: Partial<Record<Severity, DlpAction>>;
}

export interface Finding {
  class: string;
  severity: Severity;
  direction: Direction;
  /** start/end: JavaScript string indices within the text at `path`. */
  location: { path: string; start: number; end: number };
  confidence: number;
  /** HMAC-SHA256(salt, value), hex, first 16 characters: groups repeats without storing the value. */
  hash: string;
  action: DlpAction;
}

/** SPEC §6: CRITICAL blocks, HIGH and MEDIUM warn, LOW records. */
export const DEFAULT_ACTIONS: Readonly<Record<Severity, DlpAction>> = Object.freeze({
  CRITICAL: 'block',
  HIGH: 'warn',
  MEDIUM: 'warn',
  LOW: 'record',
});

/** One compiled detector: a built-in or custom pattern with the tenant's overrides applied. */
export interface CompiledEntry {
  class: string;
  severity: Severity;
  /** Per-detector or per-pattern action; wins over the severity mapping. */
  action: DlpAction | undefined;
  appliesTo: Direction | 'both';
  disabledAgents: ReadonlySet<string>;
  /** More specific classes win overlaps (see `specificity`). */
  specificity: number;
  /** Longest value it can report, in characters (Infinity for an unbounded custom pattern). */
  maxLength: number;
  /** Its RE2 pattern: what the stream scanner derives the beginnings of its values from. */
  pattern: { source: string; flags: string };
  /** `subject`: what RE2 reads for the text (see `scanSubject`). */
  extract(text: string, lower: () => string, subject: Subject): Candidate[];
}

export interface CompiledDlp {
  readonly entries: readonly CompiledEntry[];
  /** Prefilter over every entry's pattern, index for index; null when nothing is enabled. */
  readonly set: Prefilter | null;
  readonly allow: ReadonlyMap<string, ReadonlySet<string>>;
  readonly actions: Readonly<Record<Severity, DlpAction>>;
  readonly salt: string;
}

const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 3, HIGH: 2, MEDIUM: 1, LOW: 0 };

/**
 * Overlap order: a named credential, card or government id (and a tenant's own pattern, which
 * says exactly what the tenant cares about) is more specific than a generic `key = value`
 * secret, which is more specific than personal data, which beats the code heuristic.
 */
function specificity(cls: string): number {
  if (cls === 'secret.generic_api_key') return 2;
  const family = cls.slice(0, cls.indexOf('.'));
  if (family === 'secret' || family === 'payment' || family === 'gov' || family === 'custom') return 3;
  return family === 'pii' ? 1 : 0;
}

/**
 * The form in which allow-list entries and found values are compared: cards and IBANs without
 * the spaces and dashes people group them with, phone numbers by their digits, e-mail addresses
 * without case; anything else as written (trimmed).
 */
export function allowKey(cls: string, value: string): string {
  switch (cls) {
    case 'payment.credit_card':
      return value.replace(/[\s-]/g, '');
    case 'gov.iban':
      return value.replace(/[\s-]/g, '').toUpperCase();
    case 'pii.phone':
      return value.replace(/[^\d+]/g, '');
    case 'pii.email':
      return value.trim().toLowerCase();
    default:
      return value.trim();
  }
}

function builtinEntry(d: Detector, o: DetectorOverride | undefined): CompiledEntry {
  return {
    class: d.class,
    severity: o?.severity ?? d.severity,
    action: o?.action,
    appliesTo: 'both',
    disabledAgents: new Set(o?.disabledAgents ?? []),
    specificity: specificity(d.class),
    maxLength: detectorMaxLength(d),
    pattern: { source: d.pattern, flags: d.flags ?? '' },
    // The keyword prefilter searches the text case-insensitively itself (no lower-cased copy).
    extract: (text, _lower, subject) => findCandidates(d, text, undefined, subject),
  };
}

function customEntry(p: CustomPattern, o: DetectorOverride | undefined): CompiledEntry {
  const cls = `custom.${p.name}`;
  let source: string;
  let extract: CompiledEntry['extract'];
  let maxLength: number;
  if (p.type === 'regex') {
    source = p.pattern!;
    // findCandidates is the reference matcher for built-ins; a custom pattern is a detector
    // without validator or context, so the same code reports its spans.
    const d: Detector = { class: cls, family: 'custom', severity: p.severity, description: p.name, pattern: source, examples: [], negatives: [] };
    extract = (text, _lower, subject) => findCandidates(d, text, undefined, subject);
    // A pattern RE2 takes but our reading does not is counted unbounded: held longest, never cut short.
    try {
      maxLength = detectorMaxLength(d);
    } catch {
      maxLength = Infinity;
    }
  } else {
    source = keywordPattern(p.keywords!);
    const match = keywordMatcher(p.keywords!);
    extract = (text) => match(text);
    maxLength = Math.max(...p.keywords!.map((k) => k.length));
  }
  return {
    class: cls,
    severity: o?.severity ?? p.severity,
    action: o?.action ?? p.action,
    appliesTo: p.appliesTo,
    disabledAgents: new Set(o?.disabledAgents ?? []),
    specificity: specificity(cls),
    maxLength,
    pattern: { source, flags: '' },
    extract,
  };
}

/**
 * Compiles a tenant's effective detector set: built-ins with their overrides, enabled custom
 * patterns (each validated: a bad one throws `validation_failed` naming it), allow lists and the
 * action mapping, with RE2.Sets over all patterns as the prefilter (DESIGN.md §2).
 */
export function compileDlp(config: TenantDlpConfig, salt: string): CompiledDlp {
  const entries: CompiledEntry[] = [];
  const sources: string[] = [];
  for (const d of BUILTIN_DETECTORS) {
    const o = config.overrides[d.class];
    if (o?.enabled === false) continue;
    entries.push(builtinEntry(d, o));
    sources.push(prefilterSource(d));
  }
  for (const p of config.patterns) {
    validateCustomPattern(p);
    const o = config.overrides[`custom.${p.name}`];
    if (p.enabled === false || o?.enabled === false) continue;
    const entry = customEntry(p, o);
    entries.push(entry);
    sources.push(entry.pattern.source);
  }
  const allow = new Map<string, Set<string>>();
  for (const a of config.allow) {
    let values = allow.get(a.class);
    if (!values) allow.set(a.class, (values = new Set()));
    values.add(allowKey(a.class, a.value));
  }
  return {
    entries,
    set: sources.length > 0 ? prefilter(sources) : null,
    allow,
    actions: { ...DEFAULT_ACTIONS, ...config.actions },
    salt,
  };
}

/**
 * Which patterns can match a text, index for index with the entries: RE2.Sets over groups of at
 * most PREFILTER_GROUP patterns, each source the detector's prefilter (its pattern, or a cheaper
 * necessary condition: see `prefilterSource`). One Set over all 52 built-ins runs a single DFA
 * whose states combine every pattern's; on varied traffic (several languages, code, JSON, logs)
 * that DFA outgrew RE2's cache and was rebuilt over and over: 6 MB/s on mixed 1–8 KB messages.
 * Two interleaved Sets (every other pattern) of the prefilter sources run at 150 MB/s on the
 * same text; interleaving spreads the costly patterns, which sit together in the catalog.
 */
export interface Prefilter {
  match(text: string | Buffer): number[];
}

const PREFILTER_GROUP = 26;

class GroupedSet implements Prefilter {
  /** Each Set with the entry index of each of its patterns. */
  constructor(private readonly groups: readonly { set: InstanceType<typeof RE2.Set>; indices: readonly number[] }[]) {}

  match(text: string | Buffer): number[] {
    if (this.groups.length === 1) return this.groups[0]!.set.match(text);
    const out: number[] = [];
    for (const { set, indices } of this.groups) for (const i of set.match(text)) out.push(indices[i]!);
    return out;
  }
}

/**
 * Compiling the Sets is most of a tenant's compile time (tens of milliseconds on the proxy's
 * event loop), and most tenants share the same sources (the built-ins, maybe a few overrides):
 * the Sets are immutable, so tenants with identical sources share them.
 */
const SET_CACHE = new Map<string, Prefilter>();
const SET_CACHE_MAX = 256;

function prefilter(sources: string[]): Prefilter {
  const key = sources.join('\u0000');
  const cached = SET_CACHE.get(key);
  if (cached) return cached;
  // n groups, none larger than PREFILTER_GROUP; pattern i goes to group i mod n.
  const n = Math.ceil(sources.length / PREFILTER_GROUP);
  const groups = Array.from({ length: n }, (_, k) => {
    const indices = sources.map((_, i) => i).filter((i) => i % n === k);
    return { set: compileSet(indices.map((i) => sources[i]!)), indices };
  });
  const set = new GroupedSet(groups);
  if (SET_CACHE.size >= SET_CACHE_MAX) SET_CACHE.delete(SET_CACHE.keys().next().value!);
  SET_CACHE.set(key, set);
  return set;
}

function compileSet(sources: string[]): InstanceType<typeof RE2.Set> {
  try {
    return new RE2.Set(sources, 'u');
  } catch (err) {
    // Each pattern compiled on its own; only their sum can exceed RE2's program size.
    throw new RenLayerError('validation_failed', `the custom patterns together are too large to compile: ${(err as Error).message}`);
  }
}

/**
 * The salt of a tenant's finding hashes: stable across proxies (derived from
 * RENLAYER_ENCRYPTION_KEY) and different per tenant, so repeats group within a tenant only.
 */
export function dlpSalt(encryptionKey: Buffer | undefined, tenantId: string): string {
  return createHmac('sha256', encryptionKey ?? Buffer.alloc(0)).update(`dlp-salt:${tenantId}`).digest('hex');
}

function valueHash(salt: string, value: string): string {
  return createHmac('sha256', salt).update(value).digest('hex').slice(0, 16);
}

/**
 * Every finding in the texts, for one direction and agent. Within a text, overlapping findings
 * are resolved to the most specific one (see `resolveOverlaps`); findings come out in text
 * order, then by position. `remember`: look texts up among those scanned lately (see
 * `recentFindings`) — for request texts, which agents send again and again.
 */
export function scan(
  compiled: CompiledDlp,
  texts: readonly TextPart[],
  direction: Direction,
  agentId: string | null,
  opts: { remember?: boolean; shadowed?: Finding[] } = {},
): Finding[] {
  const out: Finding[] = [];
  if (!compiled.set) return out;
  for (const part of texts) {
    if (part.text === '') continue;
    if (!opts.remember) {
      out.push(...scanText(compiled, part.text, part.path, direction, agentId, opts.shadowed));
      continue;
    }
    for (const f of recentFindings(compiled, part.text, part.path, direction, agentId)) {
      out.push(f.location.path === part.path ? f : { ...f, location: { ...f.location, path: part.path } });
    }
  }
  return out;
}

/** `shadowed`: receives the findings overlap resolution set aside (see `resolveOverlaps`). */
function scanText(compiled: CompiledDlp, text: string, path: string, direction: Direction, agentId: string | null, shadowed?: Finding[]): Finding[] {
  let lowered: string | undefined;
  const lower = () => (lowered ??= text.toLowerCase());
  const ranked: Ranked[] = [];
  const subject = scanSubject(text);
  const extractFrom = text.length <= EXTRACT_BYTES_UP_TO ? subject : stringSubject(text);
  for (const i of compiled.set!.match(subject.input)) {
    const e = compiled.entries[i]!;
    if (e.appliesTo !== 'both' && e.appliesTo !== direction) continue;
    if (agentId !== null && e.disabledAgents.has(agentId)) continue;
    const allowed = compiled.allow.get(e.class);
    for (const c of e.extract(text, lower, extractFrom)) {
      if (allowed?.has(allowKey(e.class, c.value))) continue;
      const severity = effectiveSeverity(e.severity, c.confidence);
      // A low-confidence value (placeholder, documentation key) is recorded at LOW and never
      // blocks: a per-detector action is meant for the real thing.
      const action = (c.confidence > LOW_CONFIDENCE ? e.action : undefined) ?? compiled.actions[severity];
      ranked.push({
        specificity: e.specificity,
        finding: {
          class: e.class,
          severity,
          direction,
          location: { path, start: c.start, end: c.end },
          confidence: c.confidence,
          hash: valueHash(compiled.salt, c.value),
          action,
        },
      });
    }
  }
  return resolveOverlaps(ranked, shadowed);
}

/**
 * Texts scanned lately, with their findings. An agent sends its whole conversation on every
 * turn — system prompt, tool definitions, every earlier message — so most of a request's text
 * was scanned on an earlier call, and looking a text up costs a SHA-256 of it where scanning
 * costs a pass of every prefilter Set (about 15 µs per KB with every built-in on). Exact: the key
 * is the text's digest (`textDigest`: no two strings share one) with the compiled
 * set it was scanned with (a tenant's detectors, overrides, allow list, actions and salt; any
 * reload of the tenant compiles a new one), the direction and the agent, so a hit is what
 * scanning would return and no tenant reaches another's entries. Only digests are kept, never
 * the texts: prompts do not linger in memory, and SHA-256 leaves no collision to craft. Short
 * texts are kept too (a system prompt, a tool's instructions): a scan costs a native call per
 * prefilter Set whatever the length (about 5 µs for 32 characters), a digest under 1 µs. Texts
 * dense with findings are not kept. Bounded in entries and in findings held (a few MB at most),
 * least recently used first out.
 */
const RECENT_MAX_ENTRIES = 20_000;
const RECENT_MAX_FINDINGS = 20_000;
/** A text with more findings than this is scanned every time rather than held. */
const RECENT_MAX_FINDINGS_PER_TEXT = 64;
const NO_FINDINGS: readonly Finding[] = Object.freeze([]);
const recent = new Map<string, readonly Finding[]>();
let recentFindingsHeld = 0;
const compiledIds = new WeakMap<CompiledDlp, number>();
let lastCompiledId = 0;

/** `String.prototype.isWellFormed` (ES2024; Node 20 has it, this project's TypeScript lib does not name it). */
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * A text's key among those scanned lately: SHA-256 of its UTF-8 when it is well-formed, by the
 * one-shot crypto.hash (Node ≥ 20.12; half the cost of a Hash object on a 2 KB prompt), else of
 * its UTF-16 code units — UTF-8 turns every lone surrogate into U+FFFD, so two such texts could
 * share a digest. The tag keeps the two kinds of digest apart.
 */
const textDigest: (text: string) => string = typeof crypto.hash === 'function'
  ? (text) => (isWellFormed(text) ? `u${crypto.hash('sha256', text, 'base64')}` : `w${utf16Digest(text)}`)
  : (text) => `w${utf16Digest(text)}`;

function utf16Digest(text: string): string {
  return crypto.createHash('sha256').update(text, 'utf16le').digest('base64');
}

function recentFindings(compiled: CompiledDlp, text: string, path: string, direction: Direction, agentId: string | null): readonly Finding[] {
  let id = compiledIds.get(compiled);
  if (id === undefined) compiledIds.set(compiled, (id = ++lastCompiledId));
  const key = `${id}:${direction}:${agentId ?? ''}:${textDigest(text)}`;
  const hit = recent.get(key);
  if (hit) {
    recent.delete(key);
    recent.set(key, hit);
    return hit;
  }
  const found = scanText(compiled, text, path, direction, agentId);
  if (found.length > RECENT_MAX_FINDINGS_PER_TEXT) return found;
  for (const f of found) Object.freeze(Object.freeze(f).location);
  recent.set(key, found.length === 0 ? NO_FINDINGS : found);
  recentFindingsHeld += found.length;
  for (const [oldest, held] of recent) {
    if (recent.size <= RECENT_MAX_ENTRIES && recentFindingsHeld <= RECENT_MAX_FINDINGS) break;
    recent.delete(oldest);
    recentFindingsHeld -= held.length;
  }
  return found;
}

interface Ranked {
  specificity: number;
  finding: Finding;
}

/** Positive when a should be kept over b: more specific class, then higher severity, longer span, higher confidence, earlier. */
function compareRank(a: Ranked, b: Ranked): number {
  const fa = a.finding;
  const fb = b.finding;
  return (
    a.specificity - b.specificity ||
    SEVERITY_RANK[fa.severity] - SEVERITY_RANK[fb.severity] ||
    (fa.location.end - fa.location.start) - (fb.location.end - fb.location.start) ||
    fa.confidence - fb.confidence ||
    fb.location.start - fa.location.start
  );
}

/**
 * Keeps, among findings of one text whose spans overlap, only the best ranked: a JWT that a
 * generic `token=` detector also saw is reported once, as `secret.jwt`. Greedy from the best;
 * the kept spans are disjoint and sorted, so each check is a binary search.
 */
function resolveOverlaps(ranked: Ranked[], shadowed?: Finding[]): Finding[] {
  if (ranked.length <= 1) return ranked.map((r) => r.finding);
  ranked.sort((a, b) => compareRank(b, a));
  const kept: Finding[] = [];
  for (const { finding } of ranked) {
    const { start, end } = finding.location;
    // First kept finding that ends after this one starts: the only one that can overlap from the left or inside.
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[mid]!.location.end <= start) lo = mid + 1;
      else hi = mid;
    }
    const next = kept[lo];
    if (next && next.location.start < end) {
      shadowed?.push(finding);
      continue;
    }
    kept.splice(lo, 0, finding);
  }
  return kept;
}

export interface Decision {
  /** A finding's action is block: the call is answered 403 `dlp_blocked`. */
  blocked: boolean;
  /** A finding's action is warn: forwarded with status DLP_WARNED. */
  warned: boolean;
  /** Findings whose spans are replaced by `[REDACTED:<class>]` before forwarding. */
  redact: Finding[];
}

export function decide(findings: readonly Finding[]): Decision {
  return {
    blocked: findings.some((f) => f.action === 'block'),
    warned: findings.some((f) => f.action === 'warn'),
    redact: findings.filter((f) => f.action === 'redact'),
  };
}
