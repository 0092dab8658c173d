/**
 * The shape of a DLP detector (SPEC §6). Detectors are plain data plus pure functions so the
 * engine, the stream scanner, the CLI and the docs all read the same catalog.
 */
export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW';

export type Family = 'pii' | 'gov' | 'payment' | 'secret' | 'code' | 'custom';

export interface Example {
  text: string;
  /** the exact substring the detector must report */
  match: string;
}

export interface Detector {
  /** `family.kind`, e.g. `payment.credit_card`. Several detectors may share a class (one per format). */
  class: string;
  family: Family;
  /** Default severity; a finding at confidence ≤ LOW_CONFIDENCE is reported at LOW instead (see match.ts). */
  severity: Severity;
  /** One line, for docs and the console. */
  description: string;
  /** Which format of the class this entry covers (e.g. `es_dni`), when a class has several entries. */
  variant?: string;
  /**
   * RE2 source. The whole match, or the named group `value` (`(?P<value>…)`) when present, is the
   * candidate value. Prefer inline flags (`(?i)`, `(?i:…)`) over `flags` so every pattern can sit
   * in one `RE2.Set` prefilter unchanged.
   */
  pattern: string;
  /** RE2 flags, e.g. `i`. */
  flags?: string;
  /**
   * Instead of a `value` group: a JavaScript RegExp that matches, from the start of a match, the
   * part before the value (the value runs to the match's end). RE2 reports groups only after
   * running its slower submatch engine over each match; a short anchored regex on the match
   * costs less. It must parse the match as the pattern does: end it with a lookahead for the
   * value, so that it backtracks as the whole pattern would.
   */
  valuePrefix?: RegExp;
  /**
   * RE2 source for the engine's Set prefilter, when `pattern` is costly there: a necessary
   * condition that matches every text `pattern` matches (e.g. a PEM header for the whole key
   * block). Detectors with `context` default to their context words; others to `pattern`.
   */
  prefilter?: string;
  /**
   * Cheap prefilter: the text must contain one of these (case-insensitive) anywhere. Only ever a
   * word the pattern or `context` already requires, so skipping a text without it never changes a
   * result. Omitted when the pattern is selective on its own.
   */
  keywords?: string[];
  /**
   * Words that must appear within `window` characters before the value (case-insensitive, whole
   * word; a trailing `*` makes a word a prefix, e.g. `passport*` also matches `passports`).
   */
  context?: { words: string[]; window: number };
  /** Checksum and structure rules; a value that fails is not a candidate at all. */
  validate?: (value: string) => boolean;
  /**
   * 0..1; 0.9 when absent. 0 (or less) drops the candidate (a near miss recognised from its
   * surroundings); ≤ LOW_CONFIDENCE (0.3) keeps it but reports it at LOW (placeholders, doc keys).
   */
  confidence?: (value: string, text: string, start: number) => number;
  /**
   * Upper bound, in UTF-16 code units, of a value this detector reports. Needed only when the
   * pattern uses unbounded repetition over a delimited class (PEM bodies, JWT segments, code
   * blocks); otherwise `maxMatchLength(pattern)` computes the bound. The stream scanner's
   * hold-back window is the largest bound over the enabled detectors.
   */
  maxLength?: number;
  /** Positives: at least 3, realistic. */
  examples: Example[];
  /** Near misses that must NOT produce this class at confidence > 0.3: at least 3. */
  negatives: string[];
}
