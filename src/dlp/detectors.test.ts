import fc from 'fast-check';
import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import { BUILTIN_CLASSES, BUILTIN_DETECTORS } from './detectors/index.js';
import {
  DEFAULT_CONFIDENCE,
  detectorMaxLength,
  effectiveSeverity,
  findCandidates,
  scanSubject,
  hasContext,
  LOW_CONFIDENCE,
  maxMatchLength,
  prefilterSource,
} from './match.js';
import type { Detector } from './types.js';

const id = (d: Detector): string => (d.variant ? `${d.class}/${d.variant}` : d.class);
const byId = (name: string): Detector => {
  const d = BUILTIN_DETECTORS.find((x) => id(x) === name);
  if (!d) throw new Error(`no detector ${name}`);
  return d;
};
const label = (s: string): string => {
  const one = JSON.stringify(s);
  return one.length > 70 ? `${one.slice(0, 67)}…` : one;
};
const confident = (d: Detector, text: string) => findCandidates(d, text).filter((c) => c.confidence > LOW_CONFIDENCE);

/** SPEC §6: every class that must exist, with its default severity. */
const REQUIRED: Record<string, string> = {
  'pii.email': 'MEDIUM',
  'pii.phone': 'MEDIUM',
  'pii.ip_address': 'LOW',
  'pii.postal_address': 'MEDIUM',
  'pii.person_with_id': 'HIGH',
  'gov.us_ssn': 'HIGH',
  'gov.iban': 'HIGH',
  'gov.passport': 'HIGH',
  'gov.tax_id': 'HIGH',
  'gov.eu_national_id': 'HIGH',
  'payment.credit_card': 'CRITICAL',
  'payment.cvv': 'HIGH',
  'secret.aws_access_key': 'CRITICAL',
  'secret.aws_secret_key': 'CRITICAL',
  'secret.gcp_api_key': 'CRITICAL',
  'secret.stripe_key': 'CRITICAL',
  'secret.slack_token': 'CRITICAL',
  'secret.github_token': 'CRITICAL',
  'secret.openai_key': 'CRITICAL',
  'secret.anthropic_key': 'CRITICAL',
  'secret.private_key': 'CRITICAL',
  'secret.jwt': 'CRITICAL',
  'secret.renlayer_key': 'CRITICAL',
  'secret.generic_api_key': 'CRITICAL',
  'code.source': 'LOW',
};

describe('catalog', () => {
  it('has every class of SPEC §6 with its default severity', () => {
    for (const [cls, severity] of Object.entries(REQUIRED)) {
      const entries = BUILTIN_DETECTORS.filter((d) => d.class === cls);
      expect(entries.length, cls).toBeGreaterThan(0);
      for (const d of entries) expect(d.severity, id(d)).toBe(severity);
    }
    expect([...BUILTIN_CLASSES].sort()).toEqual(Object.keys(REQUIRED).sort());
  });

  it('names classes family.kind and keeps class/variant pairs unique', () => {
    const ids = BUILTIN_DETECTORS.map(id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const d of BUILTIN_DETECTORS) {
      expect(d.class).toMatch(/^[a-z]+\.[a-z0-9_]+$/);
      expect(d.class.split('.')[0]).toBe(d.family);
      // Several entries of one class must tell themselves apart.
      if (BUILTIN_DETECTORS.filter((x) => x.class === d.class).length > 1) expect(d.variant, id(d)).toBeTruthy();
      // Inline flags only, so every pattern can go into one RE2.Set unchanged.
      expect(d.flags, id(d)).toBeUndefined();
    }
  });

  it('compiles as one RE2.Set (the engine prefilter) that flags every example', () => {
    const set = new RE2.Set(BUILTIN_DETECTORS.map((d) => d.pattern), 'u');
    BUILTIN_DETECTORS.forEach((d, i) => {
      for (const ex of d.examples) expect(set.match(ex.text), `${id(d)} ${label(ex.text)}`).toContain(i);
    });
  });
});

describe.each(BUILTIN_DETECTORS.map((d) => [id(d), d] as const))('%s', (_name, d) => {
  it('has a prefilter (the engine Set source) that matches wherever the detector finds something', () => {
    const pre = new RE2(prefilterSource(d), 'u');
    for (const ex of d.examples) expect(pre.test(ex.text), label(ex.text)).toBe(true);
    // Every negative the detector still reports something on (at any confidence) passes it too.
    for (const text of d.negatives) if (findCandidates(d, text).length > 0) expect(pre.test(text), label(text)).toBe(true);
  });

  it('compiles with RE2 and cannot match the empty string', () => {
    expect(() => new RE2(d.pattern, d.flags ?? '')).not.toThrow();
    expect(new RE2(`^(?:${d.pattern})$`, d.flags ?? '').test('')).toBe(false);
  });

  it('documents itself with ≥ 3 examples and ≥ 3 negatives', () => {
    expect(d.description.length).toBeGreaterThan(10);
    expect(d.description).not.toContain('\n');
    expect(d.examples.length).toBeGreaterThanOrEqual(3);
    expect(d.negatives.length).toBeGreaterThanOrEqual(3);
  });

  it('has a bounded match length (from the pattern, or declared for delimited unbounded parts)', () => {
    const computed = maxMatchLength(d.pattern);
    if (!Number.isFinite(computed)) expect(d.maxLength, 'unbounded pattern needs maxLength').toBeGreaterThan(0);
    expect(Number.isFinite(detectorMaxLength(d))).toBe(true);
    for (const ex of d.examples) expect(ex.match.length).toBeLessThanOrEqual(detectorMaxLength(d));
  });

  it('uses keywords only as a pure prefilter (every example contains one)', () => {
    if (!d.keywords) return;
    for (const ex of d.examples) {
      const lower = ex.text.toLowerCase();
      expect(d.keywords.some((k) => lower.includes(k.toLowerCase())), label(ex.text)).toBe(true);
    }
  });

  it.each(d.examples.map((ex) => [label(ex.text), ex] as const))('finds the exact span in %s', (_l, ex) => {
    const found = confident(d, ex.text);
    expect(found.map((c) => c.value)).toEqual([ex.match]);
    const [c] = found;
    expect(ex.text.slice(c!.start, c!.end)).toBe(ex.match);
    expect(c!.confidence).toBeLessThanOrEqual(1);
  });

  it.each(d.negatives.map((n) => [label(n), n] as const))('stays quiet on %s', (_l, n) => {
    expect(confident(d, n)).toEqual([]);
  });

  it('finds the examples again when they are embedded in a longer text', () => {
    for (const ex of d.examples) {
      const text = `Forwarded note (ticket 7):\n\n${ex.text}\n\n-- sent from the help desk`;
      const values = confident(d, text).map((c) => c.value);
      expect(values, label(ex.text)).toContain(ex.match);
    }
  });
});

/**
 * Placeholders and documentation values are not dropped: they come out at LOW confidence, which
 * the engine reports at severity LOW (recorded, never blocking).
 */
const PLACEHOLDERS: Array<[string, string, string]> = [
  ['secret.aws_access_key', 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
  ['secret.aws_access_key', 'AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX', 'AKIAXXXXXXXXXXXXXXXX'],
  ['secret.aws_secret_key', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
  ['secret.openai_key', 'OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  ['secret.openai_key', 'OPENAI_API_KEY=sk-your-openai-key-here', 'sk-your-openai-key-here'],
  ['secret.generic_api_key/assignment', 'api_key = "your-api-key-here"', 'your-api-key-here'],
  ['secret.generic_api_key/auth_header', 'Authorization: Bearer YOUR_ACCESS_TOKEN_HERE', 'YOUR_ACCESS_TOKEN_HERE'],
  ['secret.github_token/prefixed', 'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  ['secret.stripe_key', 'STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx', 'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx'],
  ['secret.gcp_api_key', 'key=AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 'AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX'],
  ['secret.slack_token', 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX', 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'],
  ['secret.renlayer_key', 'RENLAYER_API_KEY=rl_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'rl_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  [
    'secret.jwt',
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  ],
  ['gov.us_ssn/separated', 'SSN 123-45-6789', '123-45-6789'],
  ['pii.email', 'mail user@example.com', 'user@example.com'],
  ['pii.ip_address/ipv4', 'host 192.0.2.10', '192.0.2.10'],
];

describe('placeholders and documentation values', () => {
  it.each(PLACEHOLDERS)('%s reports %s at LOW confidence', (name, text, value) => {
    const found = findCandidates(byId(name), text);
    expect(found.map((c) => c.value)).toEqual([value]);
    expect(found[0]!.confidence).toBeLessThanOrEqual(LOW_CONFIDENCE);
    expect(effectiveSeverity(byId(name).severity, found[0]!.confidence)).toBe('LOW');
  });
});

describe('findCandidates', () => {
  const email = byId('pii.email');

  it('reports JavaScript string indices, also after characters outside the BMP', () => {
    const text = '😀 café → write to zoe.keller@acme-corp.com 🙂';
    const [c] = findCandidates(email, text);
    expect(c!.value).toBe('zoe.keller@acme-corp.com');
    expect(text.slice(c!.start, c!.end)).toBe(c!.value);
    const ssn = findCandidates(byId('gov.us_ssn/separated'), '🙂🙂 SSN: 536-22-8765');
    expect(ssn[0]).toMatchObject({ start: 10, end: 21, value: '536-22-8765' });
  });

  it('takes the value group when there is one', () => {
    const [c] = findCandidates(byId('payment.cvv'), 'CVV: 123');
    expect(c).toMatchObject({ start: 5, end: 8, value: '123', confidence: DEFAULT_CONFIDENCE });
  });

  it('applies the keyword prefilter and the context window', () => {
    const ssnDigits = byId('gov.us_ssn/digits');
    expect(findCandidates(ssnDigits, 'ref 536228765')).toEqual([]);
    expect(findCandidates(ssnDigits, 'SSN 536228765')).toHaveLength(1);
    // The context word must sit within the window before the value.
    expect(findCandidates(ssnDigits, `SSN ${'x'.repeat(40)} 536228765`)).toEqual([]);
  });

  it('finds every occurrence', () => {
    const found = findCandidates(email, 'a.b@acme.io, c.d@acme.io; e.f@acme.io');
    expect(found.map((c) => c.value)).toEqual(['a.b@acme.io', 'c.d@acme.io', 'e.f@acme.io']);
  });

  it('returns nothing for empty and unrelated text', () => {
    for (const d of BUILTIN_DETECTORS) {
      expect(findCandidates(d, '')).toEqual([]);
      expect(findCandidates(d, 'The quick brown fox jumps over the lazy dog.')).toEqual([]);
    }
  });
});

describe('properties', () => {
  const filler = fc
    .array(fc.constantFrom(...'abcdefghij klmnopqrstuvwxyz ABC.,'.split('')), { maxLength: 60 })
    .map((cs) => cs.join(''));

  it('finds every example wherever it is planted between paragraphs of other text', () => {
    for (const d of BUILTIN_DETECTORS) {
      for (const ex of d.examples) {
        fc.assert(
          fc.property(filler, filler, (before, after) => {
            const text = `${before}\n\n${ex.text}\n\n${after}`;
            const found = confident(d, text).find((c) => c.value === ex.match);
            return found !== undefined && text.slice(found.start, found.end) === ex.match;
          }),
          { numRuns: 15 },
        );
      }
    }
  });

  it('never throws and reports consistent spans on arbitrary text', () => {
    // Random text seeded with pieces of the catalog's own examples, to reach the validators.
    const pieces = BUILTIN_DETECTORS.flatMap((d) => d.examples.map((e) => e.match.slice(0, 1 + (e.match.length >> 1))));
    const noise = fc
      .array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...pieces), fc.constantFrom(' ', '\n', '-', ':', '=', '"')), { maxLength: 30 })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(noise, (text) => {
        for (const d of BUILTIN_DETECTORS) {
          for (const c of findCandidates(d, text)) {
            if (text.slice(c.start, c.end) !== c.value) return false;
            if (!(c.confidence > 0 && c.confidence <= 1)) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('scanning the bytes of a text (scanSubject)', () => {
  // RE2 reads a large text's UTF-8 bytes once; every offset must map back to the same string
  // offsets and values as reading the string itself, whatever characters surround the values.
  const pieces = BUILTIN_DETECTORS.flatMap((d) => d.examples.map((e) => e.match));
  const wide = fc.constantFrom('é', 'ß', '€', '…', '中文', '😀', '👩‍💻', 'Ω', ' ', '\n', 'abc', '12');
  const text = fc
    .array(fc.oneof(wide, fc.constantFrom(...pieces), fc.string({ maxLength: 8 })), { minLength: 20, maxLength: 60 })
    .map((parts) => parts.join(' '))
    .filter((t) => t.length >= 256);

  it('finds the same candidates, at the same string offsets, as reading the string', () => {
    fc.assert(
      fc.property(text, (t) => {
        const subject = scanSubject(t);
        for (const d of BUILTIN_DETECTORS) {
          expect(findCandidates(d, t, undefined, subject)).toEqual(findCandidates(d, t));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('hasContext', () => {
  const ctx = { words: ['ssn', 'passport*'], window: 20 };
  it('matches whole words, case-insensitively, inside the window only', () => {
    expect(hasContext('SSN: 1', 5, ctx)).toBe(true);
    expect(hasContext('lessn: 1', 7, ctx)).toBe(false);
    expect(hasContext('ssns: 1', 6, ctx)).toBe(false);
    expect(hasContext(`ssn ${'-'.repeat(30)} 1`, 35, ctx)).toBe(false);
  });
  it('ignores boundaries on the punctuation side of a word', () => {
    expect(hasContext('ss#536228765', 3, { words: ['ss#'], window: 10 })).toBe(true);
  });
  it('treats a trailing * as a prefix', () => {
    expect(hasContext('Passportnummer 1', 15, ctx)).toBe(true);
    expect(hasContext('"passport_no": 1', 15, ctx)).toBe(true);
    expect(hasContext('nopassport 1', 11, ctx)).toBe(false);
  });
});

describe('maxMatchLength', () => {
  it.each([
    ['abc', 3],
    ['a{2,5}b?', 6],
    ['(?:ab|cde){1,3}', 9],
    [String.raw`\bx\d{3}\b`, 4],
    ['[a-z]{4}|[0-9]{6}', 6],
    ['(?P<value>x{10})y', 11],
    ['(?i)ab(?i:cd)', 4],
    ['[^a]{2}', 4],
    ['.', 2],
    ['a+', Infinity],
    ['a{2,}', Infinity],
    ['(?:x|y*)z', Infinity],
    ['[\\]a]{3}', 3],
  ])('%s → %s', (pattern, expected) => {
    expect(maxMatchLength(pattern as string)).toBe(expected);
  });
});

describe('effectiveSeverity', () => {
  it('reports low-confidence candidates at LOW and keeps the default otherwise', () => {
    expect(effectiveSeverity('CRITICAL', 0.1)).toBe('LOW');
    expect(effectiveSeverity('CRITICAL', LOW_CONFIDENCE)).toBe('LOW');
    expect(effectiveSeverity('CRITICAL', 0.31)).toBe('CRITICAL');
    expect(effectiveSeverity('MEDIUM', 0.9)).toBe('MEDIUM');
  });
});
