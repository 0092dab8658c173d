// Types for bench/dlp-score.mjs (imported by test/dlp-corpus.test.ts).
export interface Expected {
  class: string;
  start: number;
  end: number;
}
export interface CorpusLine {
  file: string;
  id: string;
  text: string;
  expected: Expected[];
  source: string;
}
export interface Predicted extends Expected {
  confidence: number;
}
export interface ClassScore {
  expected: number;
  predicted: number;
  tp: number;
  fp: number;
  fn: number;
  exact: number;
  precision: number;
  recall: number;
  exactRate: number;
}
export interface ScoreError {
  kind: 'fn' | 'fp' | 'span';
  id: string;
  class: string;
  [more: string]: unknown;
}
export const CONFIDENCE_THRESHOLD: number;
export const CORPUS_DIR: string;
export function loadCorpus(dir?: string): CorpusLine[];
export function validateCorpus(lines: CorpusLine[], classes: readonly string[]): string[];
export function scoreCorpus(
  lines: CorpusLine[],
  predict: (text: string) => Predicted[],
  classes: readonly string[],
  threshold?: number,
): { perClass: Record<string, ClassScore>; totals: Omit<ClassScore, never>; errors: ScoreError[] };
