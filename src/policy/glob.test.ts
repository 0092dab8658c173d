import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlobs, globMatcher } from './glob.js';

describe('globMatcher', () => {
  it('answers exactly as the RE2 program of the same globs, for simple and complex globs, any case mode', () => {
    const glob = fc.array(fc.constantFrom('a', 'b', '-', '.', '*', '?', 'A'), { maxLength: 6 }).map((cs) => cs.join(''));
    const text = fc.array(fc.constantFrom('a', 'b', '-', '.', 'A', '\n'), { maxLength: 8 }).map((cs) => cs.join(''));
    fc.assert(fc.property(fc.array(glob, { minLength: 1, maxLength: 3 }), text, fc.boolean(), (globs, s, ci) => {
      expect(globMatcher(globs, ci)(s)).toBe(compileGlobs(globs, ci ? 'i' : '').test(s));
    }), { numRuns: 2000 });
  });

  it('treats regex characters literally', () => {
    expect(globMatcher(['gpt-4o.*'])('gpt-4o.mini')).toBe(true);
    expect(globMatcher(['gpt-4o.*'])('gpt-4oXmini')).toBe(false);
    expect(globMatcher(['a+b'])('aab')).toBe(false);
  });
});
