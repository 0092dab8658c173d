/**
 * The structure of an RE2 pattern, for the two questions the stream scanner asks of every
 * detector: how long can a match be (`maxMatchLength`), and which texts could still grow into a
 * match (`prefixSource`). Pure: parsing only, no RE2 programs.
 *
 * The tree keeps what matters for both: single-character matchers (a literal, an escape, a class,
 * `.`) with the flags in force where they stand, sequences, alternations and repetitions.
 * Assertions (`^ $ \b \B \A \z`) and flag settings match the empty string and are kept as empty
 * nodes.
 */

export type PatternNode =
  | { t: 'char'; src: string; width: 1 | 2 }
  | { t: 'empty' }
  | { t: 'seq'; items: PatternNode[]; value?: true; literal?: true }
  | { t: 'alt'; items: PatternNode[] }
  | { t: 'rep'; item: PatternNode; min: number; max: number };

interface Flags {
  i: boolean;
  s: boolean;
}

/** Parses an RE2 pattern (as the detectors and custom patterns write them); throws on what it does not know. */
export function parsePattern(pattern: string, flags = ''): PatternNode {
  let i = 0;

  const alternation = (f: Flags): PatternNode => {
    const items = [sequence(f)];
    while (pattern[i] === '|') {
      i++;
      items.push(sequence(f));
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items };
  };

  // `f` is the group's flags: a bare `(?i)` changes them for the rest of the group, every
  // alternative included (as RE2 does).
  const sequence = (f: Flags): PatternNode => {
    const items: PatternNode[] = [];
    while (i < pattern.length && pattern[i] !== '|' && pattern[i] !== ')') {
      const a = atom(f);
      // \Q…\E: a repetition after it repeats its last character only.
      if (a.t === 'seq' && a.literal) items.push(...a.items.slice(0, -1), quantified(a.items[a.items.length - 1] ?? { t: 'empty' }));
      else items.push(quantified(a));
    }
    return items.length === 1 ? items[0]! : { t: 'seq', items };
  };

  const quantified = (node: PatternNode): PatternNode => {
    let out = node;
    for (;;) {
      const c = pattern[i];
      let min: number;
      let max: number;
      if (c === '*' || c === '+' || c === '?') {
        i++;
        [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
      } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i, i + 16))) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i))!;
        i += m[0].length;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      } else {
        return out;
      }
      if (pattern[i] === '?') i++; // lazy: the same language
      out = { t: 'rep', item: out, min, max };
    }
  };

  const charNode = (src: string, width: 1 | 2, f: Flags, folds: boolean, dot = false): PatternNode => {
    let s = src;
    if (dot && f.s) s = '(?s:.)';
    else if (folds && f.i) s = `(?i:${src})`;
    return { t: 'char', src: s, width };
  };

  const escape = (f: Flags): PatternNode => {
    const c = pattern[i + 1] ?? '';
    const start = i;
    i += 2;
    if ('bBAz'.includes(c)) return { t: 'empty' };
    if (c === 'Q') {
      // \Q…\E: every character literal, up to \E or the end.
      const end = pattern.indexOf('\\E', i);
      const text = pattern.slice(i, end < 0 ? pattern.length : end);
      i = end < 0 ? pattern.length : end + 2;
      const items = [...text].map((ch) => charNode(/[A-Za-z0-9]/.test(ch) ? ch : `\\x{${ch.codePointAt(0)!.toString(16)}}`, ch.length as 1 | 2, f, /[a-zA-Z]/.test(ch) || ch.codePointAt(0)! > 0x7f));
      return { t: 'seq', items, literal: true };
    }
    if (/[0-7]/.test(c)) {
      // An octal character code (RE2 has no back-references): up to three digits.
      const digits = /^[0-7]{0,2}/.exec(pattern.slice(i))![0];
      if (c !== '0' && digits === '') throw new Error(`invalid escape \\${c}`);
      i += digits.length;
      // As \x{…}: a digit after it must not read as part of the code once the source is reassembled.
      const code = parseInt(pattern.slice(start + 1, i), 8);
      return charNode(`\\x{${code.toString(16)}}`, 1, f, true);
    }
    if (c === 'p' || c === 'P') {
      if (pattern[i] === '{') i = pattern.indexOf('}', i) + 1;
      else i++;
      return charNode(pattern.slice(start, i), 2, f, true);
    }
    if (c === 'x') {
      if (pattern[i] === '{') {
        const close = pattern.indexOf('}', i);
        const cp = parseInt(pattern.slice(i + 1, close), 16);
        i = close + 1;
        return charNode(pattern.slice(start, i), cp > 0xffff ? 2 : 1, f, true);
      }
      i += 2;
      return charNode(pattern.slice(start, i), 1, f, true);
    }
    return charNode(pattern.slice(start, i), 'SWD'.includes(c) ? 2 : 1, f, true);
  };

  const charClass = (f: Flags): PatternNode => {
    const start = i;
    i++;
    let wide = false;
    if (pattern[i] === '^') {
      wide = true;
      i++;
    }
    if (pattern[i] === ']') i++;
    while (i < pattern.length && pattern[i] !== ']') {
      if (pattern[i] === '\\') {
        const c = pattern[i + 1] ?? '';
        if ('pPSWD'.includes(c)) wide = true;
        if (c === 'x' && pattern[i + 2] === '{') {
          const close = pattern.indexOf('}', i);
          if (parseInt(pattern.slice(i + 3, close), 16) > 0xffff) wide = true;
          i = close + 1;
          continue;
        }
        if ((c === 'p' || c === 'P') && pattern[i + 2] === '{') {
          i = pattern.indexOf('}', i) + 1;
          continue;
        }
        i += 2;
      } else if (pattern.startsWith('[:', i)) {
        if (pattern[i + 2] === '^') wide = true;
        i = pattern.indexOf(':]', i) + 2;
      } else {
        const cp = pattern.codePointAt(i)!;
        if (cp > 0xffff) wide = true;
        i += cp > 0xffff ? 2 : 1;
      }
    }
    if (i >= pattern.length) throw new Error('unterminated character class');
    i++; // ]
    return charNode(pattern.slice(start, i), wide ? 2 : 1, f, true);
  };

  const setFlags = (spec: string, f: Flags): Flags => {
    const out = { ...f };
    let on = true;
    for (const ch of spec) {
      if (ch === '-') on = false;
      else if (ch === 'i' || ch === 's') out[ch] = on;
      else if (ch !== 'm' && ch !== 'U') throw new Error(`unknown flag ${ch}`);
    }
    return out;
  };

  const atom = (f: Flags): PatternNode => {
    const c = pattern[i]!;
    if (c === '(') {
      i++;
      let inner = f;
      let value = false;
      if (pattern[i] === '?') {
        i++;
        if (pattern[i] === '<' || (pattern[i] === 'P' && pattern[i + 1] === '<')) {
          const close = pattern.indexOf('>', i);
          if (close < 0 || '=!'.includes(pattern[i + 1]!)) throw new Error('lookaround is not RE2');
          value = pattern.slice(pattern.indexOf('<', i) + 1, close) === 'value';
          i = close + 1;
        } else {
          const m = /^[a-zA-Z-]*/.exec(pattern.slice(i))![0];
          i += m.length;
          if (pattern[i] === ')') {
            // (?i): the rest of the enclosing group.
            i++;
            Object.assign(f, setFlags(m, f));
            return { t: 'empty' };
          }
          if (pattern[i] !== ':') throw new Error(`unsupported group (?${m}${pattern[i] ?? ''}`);
          i++;
          inner = setFlags(m, f);
        }
      }
      const node = alternation({ ...inner });
      if (pattern[i] !== ')') throw new Error(`missing ')' at ${i}`);
      i++;
      // The `value` group: what a finding reports (see `fromValue`).
      return value ? { t: 'seq', items: [node], value: true } : node;
    }
    if (c === '[') return charClass(f);
    if (c === '\\') return escape(f);
    if (c === '^' || c === '$') {
      i++;
      return { t: 'empty' };
    }
    if (c === '.') {
      i++;
      return charNode('.', 2, f, false, true);
    }
    if ('*+?'.includes(c)) throw new Error(`nothing to repeat at ${i}`);
    const cp = pattern.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    const src = pattern.slice(i, i + len);
    i += len;
    // A literal '{' that is no repetition, '}' and ']' stand for themselves but need escaping
    // where the source is reassembled.
    return charNode('{}]'.includes(src) ? `\\${src}` : src, len as 1 | 2, f, /[a-zA-Z]/.test(src) || cp > 0x7f);
  };

  const root = alternation(setFlags(flags.replace(/[gduyum]/g, ''), { i: false, s: false }));
  if (i < pattern.length) throw new Error(`unbalanced ')' at ${i}`);
  return root;
}

/**
 * The pattern from where its reported value begins: a `(?P<value>…)` group at the top level and
 * what follows it. What comes before (a boundary character, a label) is context, never part of
 * what is redacted or blocked, so text that could only be such context need not wait.
 */
export function fromValue(node: PatternNode): PatternNode {
  if (node.t !== 'seq') return node;
  const k = node.items.findIndex((n) => n.t === 'seq' && n.value);
  return k <= 0 ? node : { t: 'seq', items: node.items.slice(k) };
}

/** The most UTF-16 code units a match can span (Infinity when a repetition is unbounded). */
export function maxLength(node: PatternNode): number {
  switch (node.t) {
    case 'char':
      return node.width;
    case 'empty':
      return 0;
    case 'seq':
      return node.items.reduce((sum, n) => sum + maxLength(n), 0);
    case 'alt':
      return Math.max(...node.items.map(maxLength));
    case 'rep': {
      const one = maxLength(node.item);
      return one === 0 || node.max === 0 ? 0 : one * node.max;
    }
  }
}

/** RE2 source matching what the node matches (assertions dropped: the language can only grow). */
export function source(node: PatternNode): string {
  switch (node.t) {
    case 'char':
      return node.src;
    case 'empty':
      return '';
    case 'seq':
      return node.items.map(source).join('');
    case 'alt':
      return `(?:${node.items.map(source).join('|')})`;
    case 'rep':
      return `(?:${source(node.item)})${repeat(node.min, node.max)}`;
  }
}

/**
 * Past this many repetitions a prefix counts any number: RE2 spells `x{0,n}` out n times, and a
 * run that long is a match already (or none), never a mere beginning of one.
 */
const COUNT_EXACT_UP_TO = 32;

function repeat(min: number, max: number): string {
  if (max === Infinity || max > COUNT_EXACT_UP_TO) return min === 0 ? '*' : min === 1 ? '+' : `{${Math.min(min, COUNT_EXACT_UP_TO)},}`;
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

/**
 * RE2 source matching every prefix of every string the node matches (the empty string
 * included), and possibly more — assertions are dropped and long counts become unbounded — never
 * less: a text that does not match it cannot grow into a match of the node.
 */
export function prefixSource(node: PatternNode): string {
  switch (node.t) {
    case 'char':
      return `(?:${node.src})?`;
    case 'empty':
      return '';
    case 'alt':
      return `(?:${node.items.map(prefixSource).join('|')})`;
    case 'seq': {
      // Prefixes of a·b·c: a prefix of a, or a whole and a prefix of b·c.
      const items = node.items.filter((n) => n.t !== 'empty');
      let out = '';
      for (let k = items.length - 1; k >= 0; k--) {
        const p = prefixSource(items[k]!);
        out = out === '' ? p : `(?:${source(items[k]!)}${out}|${p})`;
      }
      return out;
    }
    case 'rep': {
      if (node.max === 0) return '';
      // Prefixes of x^k (k ≤ max): x^j then a prefix of x, j < max.
      const times = repeat(0, node.max === Infinity ? Infinity : node.max - 1);
      if (node.item.t === 'char') return `(?:${node.item.src})${repeat(0, node.max)}`;
      return `(?:${source(node.item)})${times}${prefixSource(node.item)}`;
    }
  }
}
