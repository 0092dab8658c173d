import fc from 'fast-check';
import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS } from './detectors/index.js';
import { fromValue, parsePattern, prefixSource, source } from './pattern-syntax.js';

const prefixes = (pattern: string, value = false) => {
  const node = parsePattern(pattern);
  return new RE2(`^(?:${prefixSource(value ? fromValue(node) : node)})$`, 'u');
};

describe('prefixSource: the texts that could still grow into a match', () => {
  it.each<[string, string[], string[]]>([
    ['abc', ['', 'a', 'ab', 'abc'], ['b', 'abd', 'abcd']],
    [String.raw`\d{4}-\d{2}`, ['12', '1234', '1234-', '1234-5', '1234-56'], ['12345', '1234-567', '-1', 'a']],
    [String.raw`(?i)sk-[a-z]{3}`, ['S', 'sK-', 'SK-aBc'], ['sx', 'sk_', 'sk-abcd']],
    ['(?:ab|cd){2}', ['a', 'abc', 'cdab', 'abab'], ['ac', 'abcda', 'b']],
    ['a(?i:b)c', ['aB', 'aBc'], ['A', 'aBC']],
    [String.raw`\bkey\s*=\s*\w+`, ['k', 'key', 'key =', 'key = x1'], ['ke y', '=x', 'key = x-']],
    ['x?y', ['', 'x', 'y', 'xy'], ['xx', 'yx']],
    // Counts past 32 are read as unbounded: more is held, never less.
    ['x{40}', ['x', 'x'.repeat(40), 'x'.repeat(50)], ['y']],
    [String.raw`[\]a]{2}b`, [']', 'a]', 'a]b'], ['b', 'ab]']],
  ])('%s', (pattern, yes, no) => {
    const re = prefixes(pattern);
    for (const t of yes) expect(re.test(t), `${JSON.stringify(t)} is a beginning`).toBe(true);
    for (const t of no) expect(re.test(t), `${JSON.stringify(t)} is no beginning`).toBe(false);
  });

  it('every beginning of every match of a pattern is one, in any pattern of these shapes', () => {
    const patterns = ['[ab]{2,5}c?|a+b', '(?:ab|b)*c', 'a{2}(?:b|ca)?a', '(?i)Ab[c-e]{1,3}', String.raw`(?:^|[^a])(?P<value>b{2,3})(?:$|c)`];
    fc.assert(
      fc.property(fc.constantFrom(...patterns), fc.string({ unit: fc.constantFrom(...'abcABC'), maxLength: 10 }), (pattern, text) => {
        if (!new RE2(`^(?:${pattern})$`, 'u').test(text)) return;
        const re = prefixes(pattern);
        for (let k = 0; k <= text.length; k++) expect(re.test(text.slice(0, k))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('every beginning of every built-in example match is one (from where the value begins, when a group names it)', () => {
    for (const d of BUILTIN_DETECTORS) {
      const node = parsePattern(d.pattern);
      const value = fromValue(node);
      const re = new RE2(`^(?:${prefixSource(value)})$`, 'u');
      for (const ex of d.examples) {
        const m = new RE2(d.pattern, 'd').exec(ex.text);
        if (!m) continue;
        const from = value === node ? m.index : m.indices!.groups!.value![0];
        const match = ex.text.slice(from, m.index + m[0].length);
        for (let k = 0; k <= match.length; k++) expect(re.test(match.slice(0, k)), `${d.class}: ${k} characters of ${match}`).toBe(true);
      }
    }
  });

  it('source() matches what the pattern matches', () => {
    for (const d of BUILTIN_DETECTORS) {
      const re = new RE2(`^(?:${source(parsePattern(d.pattern))})$`, 'u');
      const original = new RE2(d.pattern, 'u');
      for (const ex of d.examples) {
        const m = original.exec(ex.text);
        if (m) expect(re.test(m[0]), `${d.class}: ${m[0]}`).toBe(true);
      }
    }
  });
});

describe('fromValue', () => {
  it('starts at a top-level value group: the context before it never waits', () => {
    const re = prefixes(String.raw`(?:^|[^a-z])(?P<value>[a-z]{3})(?:$|\d)`, true);
    expect(re.test('ab')).toBe(true);
    expect(re.test('abc1')).toBe(true);
    expect(re.test(' ')).toBe(false);
    expect(re.test(' ab')).toBe(false);
  });

  it('keeps the whole pattern when there is no value group, or it is not at the top level', () => {
    expect(source(fromValue(parsePattern('ab(c)')))).toBe(source(parsePattern('ab(c)')));
    expect(source(fromValue(parsePattern('a|(?P<value>b)')))).toBe(source(parsePattern('a|(?P<value>b)')));
  });
});

describe('parsePattern', () => {
  it.each([String.raw`(a)\1`, 'a)', '(a', '[ab', '*a', '(?<=a)b'])('refuses %s', (pattern) => {
    expect(() => parsePattern(pattern)).toThrow();
  });

  it.each<[string, string[], string[]]>([
    [String.raw`\Qa.b\E+`, ['a.', 'a.bbb'], ['ax']],
    [String.raw`x\101`, ['x', 'xA'], ['xB']],
    ['(?<value>ab)c', ['a', 'abc'], ['b']],
  ])('reads RE2 syntax %s as RE2 does', (pattern, yes, no) => {
    const re = prefixes(pattern);
    for (const t of yes) expect(re.test(t)).toBe(true);
    for (const t of no) expect(re.test(t)).toBe(false);
  });
});
