// The labelled DLP corpus (test/fixtures/dlp/*.jsonl): its shape, and per-class precision and
// recall of the built-in detector set, scored exactly as `npm run bench:dlp` scores them
// (bench/dlp-score.mjs). Speed is measured by the bench only: no timing assertions here.
import { describe, expect, it } from 'vitest';
import { loadCorpus, scoreCorpus, validateCorpus } from '../bench/dlp-score.mjs';
import { BUILTIN_CLASSES } from '../src/dlp/detectors/index.js';
import { compileDlp, scan } from '../src/dlp/engine.js';

const corpus = loadCorpus();
const compiled = compileDlp({ overrides: {}, patterns: [], allow: [] }, 'corpus-test');
const predict = (text: string) =>
  scan(compiled, [{ path: '$', text, kind: 'message' }], 'request', null).map((f) => ({
    class: f.class,
    start: f.location.start,
    end: f.location.end,
    confidence: f.confidence,
  }));

describe('DLP corpus', () => {
  it('is well formed: ids, spans in range, known classes', () => {
    expect(validateCorpus(corpus, BUILTIN_CLASSES)).toEqual([]);
  });

  it('has ≥ 400 lines, ≥ 1/3 of them negatives, and ≥ 5 positives of every class', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(400);
    const negatives = corpus.filter((l) => l.expected.length === 0).length;
    expect(negatives * 3).toBeGreaterThanOrEqual(corpus.length);
    const positives = new Map<string, number>();
    for (const l of corpus) for (const e of l.expected) positives.set(e.class, (positives.get(e.class) ?? 0) + 1);
    for (const cls of BUILTIN_CLASSES) expect(positives.get(cls) ?? 0, cls).toBeGreaterThanOrEqual(5);
  });

  const { perClass, errors } = scoreCorpus(corpus, predict, BUILTIN_CLASSES);
  it.each([...BUILTIN_CLASSES])('%s: precision and recall ≥ 0.95', (cls) => {
    const r = perClass[cls]!;
    const mine = errors.filter((e) => e.class === cls && e.kind !== 'span');
    expect(r.precision, JSON.stringify(mine, null, 1)).toBeGreaterThanOrEqual(0.95);
    expect(r.recall, JSON.stringify(mine, null, 1)).toBeGreaterThanOrEqual(0.95);
  });
});
