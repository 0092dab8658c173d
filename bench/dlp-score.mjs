// Loading and scoring of the labelled DLP corpus (test/fixtures/dlp/*.jsonl), shared by
// `npm run bench:dlp` (bench/dlp.mjs) and the corpus test (test/dlp-corpus.test.ts).
//
// Scoring rules (also in test/fixtures/dlp/README.md):
// - A finding is a positive prediction only at confidence ≥ CONFIDENCE_THRESHOLD (0.5). Below it
//   the engine reports placeholders and documentation values (AKIAIOSFODNN7EXAMPLE, sk-xxxx…,
//   user@example.com) at severity LOW, never blocking; the corpus labels them as negatives.
// - A finding matches an expected entry when the class is equal and the spans overlap.
// - Recall of a class: expected entries matched by at least one finding / expected entries.
//   Precision: findings that match at least one expected entry / findings. A finding that
//   matches nothing is a false positive; an expected entry that nothing matches is a false negative.
// - Exact-span rate: expected entries with a finding of the same class and the same start and end
//   / expected entries.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONFIDENCE_THRESHOLD = 0.5;
export const CORPUS_DIR = fileURLToPath(new URL('../test/fixtures/dlp/', import.meta.url));

/** Every corpus line, in file order: { file, id, text, expected: [{class, start, end}], source }. */
export function loadCorpus(dir = CORPUS_DIR) {
  const lines = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()) {
    const content = readFileSync(join(dir, file), 'utf8');
    content.split('\n').forEach((raw, i) => {
      if (raw.trim() === '') return;
      let parsed;
      try {
        parsed = JSON.parse(raw);
      } catch (err) {
        throw new Error(`${file}:${i + 1}: not JSON: ${err.message}`);
      }
      lines.push({ file, ...parsed });
    });
  }
  return lines;
}

/** Shape problems of the corpus (empty when fine): ids, spans in range and ordered, known classes. */
export function validateCorpus(lines, classes) {
  const known = new Set(classes);
  const problems = [];
  const ids = new Set();
  for (const l of lines) {
    const where = `${l.file} ${l.id}`;
    if (typeof l.id !== 'string' || l.id === '') problems.push(`${where}: no id`);
    if (ids.has(l.id)) problems.push(`${where}: duplicate id`);
    ids.add(l.id);
    if (typeof l.text !== 'string' || l.text === '') problems.push(`${where}: no text`);
    if (typeof l.source !== 'string' || l.source === '') problems.push(`${where}: no source`);
    if (!Array.isArray(l.expected)) {
      problems.push(`${where}: expected is not an array`);
      continue;
    }
    for (const e of l.expected) {
      if (!known.has(e.class)) problems.push(`${where}: unknown class ${e.class}`);
      if (!Number.isInteger(e.start) || !Number.isInteger(e.end) || e.start < 0 || e.end <= e.start || e.end > l.text.length) {
        problems.push(`${where}: span ${e.start}..${e.end} out of range (text length ${l.text.length})`);
      }
    }
  }
  return problems;
}

const overlaps = (a, b) => a.start < b.end && b.start < a.end;

/**
 * Scores `predict(text) → [{class, start, end, confidence}]` over the corpus. Returns per-class
 * counts and rates, micro-averaged totals, and the individual errors (for investigation).
 */
export function scoreCorpus(lines, predict, classes, threshold = CONFIDENCE_THRESHOLD) {
  const perClass = {};
  const row = (cls) =>
    (perClass[cls] ??= { expected: 0, predicted: 0, tp: 0, fp: 0, fn: 0, exact: 0, precision: 1, recall: 1, exactRate: 1 });
  for (const cls of classes) row(cls);
  const errors = [];
  for (const l of lines) {
    const found = predict(l.text).filter((f) => f.confidence >= threshold);
    for (const e of l.expected) {
      const r = row(e.class);
      r.expected++;
      const same = found.filter((f) => f.class === e.class && overlaps(f, e));
      if (same.length > 0) {
        r.tp++;
        if (same.some((f) => f.start === e.start && f.end === e.end)) r.exact++;
        else errors.push({ kind: 'span', id: l.id, class: e.class, expected: l.text.slice(e.start, e.end), found: same.map((f) => l.text.slice(f.start, f.end)) });
      } else {
        r.fn++;
        const other = found.filter((f) => overlaps(f, e)).map((f) => f.class);
        errors.push({ kind: 'fn', id: l.id, class: e.class, value: l.text.slice(e.start, e.end), reportedAs: other });
      }
    }
    for (const f of found) {
      const r = row(f.class);
      r.predicted++;
      if (!l.expected.some((e) => e.class === f.class && overlaps(f, e))) {
        r.fp++;
        const other = l.expected.filter((e) => overlaps(f, e)).map((e) => e.class);
        errors.push({ kind: 'fp', id: l.id, class: f.class, value: l.text.slice(f.start, f.end), confidence: f.confidence, labelledAs: other });
      }
    }
  }
  const totals = { expected: 0, predicted: 0, tp: 0, fp: 0, fn: 0, exact: 0 };
  for (const r of Object.values(perClass)) {
    r.precision = r.predicted === 0 ? 1 : (r.predicted - r.fp) / r.predicted;
    r.recall = r.expected === 0 ? 1 : r.tp / r.expected;
    r.exactRate = r.expected === 0 ? 1 : r.exact / r.expected;
    for (const k of Object.keys(totals)) totals[k] += r[k];
  }
  totals.precision = totals.predicted === 0 ? 1 : (totals.predicted - totals.fp) / totals.predicted;
  totals.recall = totals.expected === 0 ? 1 : totals.tp / totals.expected;
  totals.exactRate = totals.expected === 0 ? 1 : totals.exact / totals.expected;
  return { perClass, totals, errors };
}
