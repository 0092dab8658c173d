import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRenLayerError } from '../core/errors.js';
import { normalizeRequest } from '../dialects/normalize.js';
import type { ApiKind, TextPart } from '../dialects/types.js';
import { join } from './detectors/shared.js';
import {
  compileDlp,
  decide,
  redactJson,
  redactText,
  scan,
  validateCustomPattern,
  type CustomPattern,
  type Finding,
  type TenantDlpConfig,
} from './engine.js';

// Example credentials are written in pieces (see detectors/shared.ts) so that no repository
// secret scanner mistakes this file for a leak. All are fake; checksummed ones do check out.
const GITHUB = join('ghp_', 'xI7OuhTo6zG5ycaMhxJPmRB7ctzIkw', '16HNch');
const RENLAYER = join('rl_live_', 'BZy8UFYmGsyWSxFVfYl7O7dPR96arYOl0ZePIF');
const AWS = join('AKIAPKWXVY2', 'VALZGQ2LM');
const AWS_DOC = join('AKIAIOSFODNN7', 'EXAMPLE');
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c3JfOGYyazEiLCJ0ZW5hbnQiOiJhY21lIiwiaWF0IjoxNzE4MDAwMDAwLCJleHAiOjE3MTgwMDM2MDB9.vrcQCrtYImgucfLUQRDtzebgqr0LfImfTQfgxgIxZP0';
const CARD = '4111 1111 1111 1111';
const EMAIL = 'maria.lopez@acme-corp.io';

const EMPTY: TenantDlpConfig = { overrides: {}, patterns: [], allow: [] };
const BUILTINS = compileDlp(EMPTY, 'salt');

const part = (text: string, path = '$.input'): TextPart => ({ path, text, kind: 'message' });
const found = (f: Finding[]) => f.map((x) => [x.class, x.location.start, x.location.end]);
const classesOf = (f: Finding[]) => f.map((x) => x.class);
function scanText(text: string, config: TenantDlpConfig = EMPTY, direction: 'request' | 'response' = 'request', agent: string | null = null) {
  return scan(config === EMPTY ? BUILTINS : compileDlp(config, 'salt'), [part(text)], direction, agent);
}
const custom = (p: Partial<CustomPattern> & Pick<CustomPattern, 'name' | 'type'>): CustomPattern => ({ severity: 'HIGH', appliesTo: 'both', ...p });

describe('scan', () => {
  it('reports class, severity, direction, path, exact span, confidence, salted hash and action', () => {
    const text = `Charge ${CARD} and mail ${EMAIL}`;
    const f = scan(BUILTINS, [part('nothing here', '$.messages[0].content'), part(text, '$.messages[1].content')], 'response', null);
    expect(f).toEqual([
      { class: 'payment.credit_card', severity: 'CRITICAL', direction: 'response', location: { path: '$.messages[1].content', start: 7, end: 26 }, confidence: 0.9, hash: expect.any(String), action: 'block' },
      { class: 'pii.email', severity: 'MEDIUM', direction: 'response', location: { path: '$.messages[1].content', start: 36, end: 60 }, confidence: 0.9, hash: expect.any(String), action: 'warn' },
    ]);
    expect(text.slice(7, 26)).toBe(CARD);
    expect(text.slice(36, 60)).toBe(EMAIL);
    expect(f[0]!.hash).toBe(createHmac('sha256', 'salt').update(CARD).digest('hex').slice(0, 16));
    // Another salt, another hash: a hash cannot be looked up across tenants.
    expect(scan(compileDlp(EMPTY, 'other'), [part(text)], 'request', null)[0]!.hash).not.toBe(f[0]!.hash);
    expect(JSON.stringify(f)).not.toContain('4111');
  });

  it('reports a low-confidence value (documentation key) at LOW, recorded', () => {
    const f = scanText(`aws_access_key_id = ${AWS_DOC}`);
    expect(f.map((x) => [x.class, x.severity, x.action])).toEqual([['secret.aws_access_key', 'LOW', 'record']]);
    expect(f[0]!.confidence).toBeLessThanOrEqual(0.3);
  });

  it('finds nothing in clean text and skips empty texts', () => {
    expect(scanText('Please summarise the meeting notes from Tuesday.')).toEqual([]);
    expect(scan(BUILTINS, [part('')], 'request', null)).toEqual([]);
  });
});

describe('tenant overrides', () => {
  it('changes a class severity, and the action with it', () => {
    const f = scanText(`mail ${EMAIL}`, { ...EMPTY, overrides: { 'pii.email': { severity: 'LOW' } } });
    expect(f.map((x) => [x.class, x.severity, x.action])).toEqual([['pii.email', 'LOW', 'record']]);
  });

  it('disables a class for everyone', () => {
    expect(classesOf(scanText(`card ${CARD}`, { ...EMPTY, overrides: { 'payment.credit_card': { enabled: false } } }))).toEqual([]);
  });

  it('disables a class for chosen agents only', () => {
    const config = { ...EMPTY, overrides: { 'payment.credit_card': { disabledAgents: ['agt_a'] } } };
    expect(classesOf(scanText(`card ${CARD}`, config, 'request', 'agt_a'))).toEqual([]);
    expect(classesOf(scanText(`card ${CARD}`, config, 'request', 'agt_b'))).toEqual(['payment.credit_card']);
    expect(classesOf(scanText(`card ${CARD}`, config, 'request', null))).toEqual(['payment.credit_card']);
  });

  it('overrides the action of a class, also for custom classes', () => {
    const config: TenantDlpConfig = {
      ...EMPTY,
      overrides: { 'payment.credit_card': { action: 'redact' }, 'custom.emp': { action: 'record', disabledAgents: ['agt_x'] } },
      patterns: [custom({ name: 'emp', type: 'regex', pattern: 'EMP-[0-9]{6}', action: 'block' })],
    };
    const f = scanText(`card ${CARD} for EMP-123456`, config);
    expect(f.map((x) => [x.class, x.action])).toEqual([['payment.credit_card', 'redact'], ['custom.emp', 'record']]);
    expect(classesOf(scanText('EMP-123456', config, 'request', 'agt_x'))).toEqual([]);
  });
});

describe('severity → action', () => {
  it('defaults: CRITICAL blocks, HIGH and MEDIUM warn, LOW records', () => {
    const patterns = (['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const).map((s) => custom({ name: s.toLowerCase(), type: 'keywords', keywords: [`kw${s}`], severity: s }));
    const f = scanText('kwCRITICAL kwHIGH kwMEDIUM kwLOW', { ...EMPTY, patterns });
    expect(f.map((x) => [x.severity, x.action])).toEqual([['CRITICAL', 'block'], ['HIGH', 'warn'], ['MEDIUM', 'warn'], ['LOW', 'record']]);
  });

  it('follows the tenant mapping, and a per-pattern action wins over it', () => {
    const config: TenantDlpConfig = {
      ...EMPTY,
      actions: { CRITICAL: 'redact', MEDIUM: 'record' },
      patterns: [custom({ name: 'codename', type: 'keywords', keywords: ['bluebird'], severity: 'CRITICAL', action: 'warn' })],
    };
    const f = scanText(`card ${CARD}, mail ${EMAIL}, project Bluebird`, config);
    expect(f.map((x) => [x.class, x.action])).toEqual([['payment.credit_card', 'redact'], ['pii.email', 'record'], ['custom.codename', 'warn']]);
  });

  it('does not apply a per-detector action to a low-confidence value', () => {
    const f = scanText(`key ${AWS_DOC}`, { ...EMPTY, overrides: { 'secret.aws_access_key': { action: 'block' } } });
    expect(f.map((x) => [x.severity, x.action])).toEqual([['LOW', 'record']]);
  });

  it('decide() says blocked, warned, and what to redact', () => {
    const mk = (action: Finding['action']): Finding => ({ class: 'x.y', severity: 'LOW', direction: 'request', location: { path: '$', start: 0, end: 1 }, confidence: 1, hash: '0', action });
    expect(decide([])).toEqual({ blocked: false, warned: false, redact: [] });
    expect(decide([mk('record')])).toEqual({ blocked: false, warned: false, redact: [] });
    expect(decide([mk('warn'), mk('record')])).toEqual({ blocked: false, warned: true, redact: [] });
    const r = mk('redact');
    expect(decide([mk('block'), r])).toEqual({ blocked: true, warned: false, redact: [r] });
  });
});

describe('allow lists', () => {
  const config: TenantDlpConfig = { ...EMPTY, allow: [{ class: 'payment.credit_card', value: CARD }, { class: 'pii.email', value: 'Maria.Lopez@acme-corp.io' }] };

  it('drops an allowed value whatever its spacing, and only for its class', () => {
    for (const written of [CARD, '4111-1111-1111-1111', '4111111111111111']) {
      expect(classesOf(scanText(`test card ${written}`, config)), written).toEqual([]);
    }
    expect(classesOf(scanText(`mail ${EMAIL}`, config))).toEqual([]);
    expect(classesOf(scanText('card 5555 5555 5555 4444', config))).toEqual(['payment.credit_card']);
    const otherClass = { ...EMPTY, allow: [{ class: 'pii.email', value: CARD }] };
    expect(classesOf(scanText(`card ${CARD}`, otherClass))).toEqual(['payment.credit_card']);
  });
});

describe('custom patterns', () => {
  it('regex: reports custom.<name> with its span, severity and direction', () => {
    const config = { ...EMPTY, patterns: [custom({ name: 'employee-id', type: 'regex', pattern: 'EMP-[0-9]{6}', severity: 'MEDIUM', appliesTo: 'request' })] };
    const text = 'Ticket for EMP-123456 and EMP-654321.';
    const f = scanText(text, config);
    expect(f.map((x) => [x.class, x.severity, text.slice(x.location.start, x.location.end)])).toEqual([
      ['custom.employee-id', 'MEDIUM', 'EMP-123456'],
      ['custom.employee-id', 'MEDIUM', 'EMP-654321'],
    ]);
    expect(scanText(text, config, 'response')).toEqual([]);
  });

  it('regex: a value group narrows the span; disabled patterns do not run', () => {
    const p = custom({ name: 'order', type: 'regex', pattern: '(?i)order\\s+#(?P<value>[0-9]{8})' });
    expect(found(scanText('see Order #12345678 now', { ...EMPTY, patterns: [p] }))).toEqual([['custom.order', 11, 19]]);
    expect(scanText('see Order #12345678 now', { ...EMPTY, patterns: [{ ...p, enabled: false }] })).toEqual([]);
  });

  it('keywords: whole words, case-insensitive, in one pass, metacharacters literal', () => {
    const config = { ...EMPTY, patterns: [custom({ name: 'codenames', type: 'keywords', keywords: ['bluebird', 'night jar', 'c++', 'a.b', 'geheim', 'pass', 'password'] })] };
    const text = 'Bluebird, bluebirds, NIGHT\n JAR, nightjar, c++ code, axb, a.b, streng GEHEIM, password, bluebird bluebird';
    const f = scanText(text, config);
    expect(f.map((x) => text.slice(x.location.start, x.location.end))).toEqual([
      'Bluebird', 'NIGHT\n JAR', 'c++', 'a.b', 'GEHEIM', 'password', 'bluebird', 'bluebird',
    ]);
    expect(new Set(classesOf(f))).toEqual(new Set(['custom.codenames']));
    // Letters outside ASCII are word characters too: no match inside "geheimnis" or "ägeheim".
    expect(scanText('Geheimnis ägeheim geheim_x', config)).toEqual([]);
  });

  it('refuses a regex that does not compile, naming the pattern and the reason', () => {
    for (const [pattern, reason] of [['(?=x)abc', 'does not compile'], ['a(b', 'does not compile'], ['(a)\\1', 'does not compile']] as const) {
      let err: unknown;
      try {
        validateCustomPattern(custom({ name: 'bad-one', type: 'regex', pattern }));
      } catch (e) {
        err = e;
      }
      expect(isRenLayerError(err, 'validation_failed'), pattern).toBe(true);
      expect((err as Error).message).toContain('"bad-one"');
      expect((err as Error).message).toContain(reason);
    }
  });

  it('refuses a regex that can match the empty string', () => {
    for (const pattern of ['a*', 'x?', '(?:foo|)', '^', '$', '\\b', '(?m)^$', '[0-9]{0,4}', '\\bfoo|\\B']) {
      expect(() => validateCustomPattern(custom({ name: 'empty', type: 'regex', pattern })), pattern).toThrow(/empty string/);
    }
    for (const pattern of ['a+', 'EMP-[0-9]{6}', '\\bfoo\\b', '(?i)x?y', '^abc$']) {
      expect(() => validateCustomPattern(custom({ name: 'fine', type: 'regex', pattern })), pattern).not.toThrow();
    }
  });

  it('refuses bad names, empty keyword lists and invalid fields; compileDlp refuses the same', () => {
    const bad: CustomPattern[] = [
      custom({ name: 'has space', type: 'regex', pattern: 'x' }),
      custom({ name: 'ok', type: 'keywords', keywords: [] }),
      custom({ name: 'ok', type: 'keywords', keywords: ['fine', '  '] }),
      custom({ name: 'ok', type: 'regex' }),
      { ...custom({ name: 'ok', type: 'regex', pattern: 'x' }), severity: 'SEVERE' as never },
      { ...custom({ name: 'ok', type: 'regex', pattern: 'x' }), action: 'delete' as never },
    ];
    for (const p of bad) {
      expect(() => validateCustomPattern(p), JSON.stringify(p)).toThrow(/custom pattern/);
      expect(() => compileDlp({ ...EMPTY, patterns: [p] }, 's'), JSON.stringify(p)).toThrow(/custom pattern/);
    }
    expect(() => compileDlp({ ...EMPTY, patterns: [custom({ name: 'e', type: 'regex', pattern: 'x*' })] }, 's')).toThrow(/"e".*empty string/);
  });

  it('refuses a keyword list too large for one RE2 program when saved, not at the next reload', () => {
    const keywords = Array.from({ length: 10_000 }, (_, i) => `kw${i}-`.padEnd(199, 'abcdefghij'));
    expect(() => validateCustomPattern(custom({ name: 'huge', type: 'keywords', keywords }))).toThrow(/"huge": keyword list does not compile/);
  });
});

describe('overlapping findings', () => {
  it('report a JWT seen by the generic token= detector once, as secret.jwt', () => {
    for (const text of [`token=${JWT}`, `Authorization: Bearer ${JWT}`]) {
      const start = text.indexOf(JWT);
      expect(found(scanText(text)), text).toEqual([['secret.jwt', start, start + JWT.length]]);
      // The generic detector does fire here: without the JWT detector it is what remains.
      expect(classesOf(scanText(text, { ...EMPTY, overrides: { 'secret.jwt': { enabled: false } } }))).toEqual(['secret.generic_api_key']);
    }
  });

  it('prefer a secret inside a code block over the code block; both stay when apart', () => {
    const block = '```python\nAWS_KEY = "' + AWS + '"\nprint(1)\n```';
    expect(classesOf(scanText(block))).toEqual(['secret.aws_access_key']);
    expect(classesOf(scanText(block, { ...EMPTY, overrides: { 'secret.aws_access_key': { enabled: false } } }))).toEqual(['code.source']);
    expect(classesOf(scanText(`${block}\nthanks, ${EMAIL}`))).toEqual(['secret.aws_access_key', 'pii.email']);
  });

  it('then prefer the higher severity, then the longer match', () => {
    const patterns = [
      custom({ name: 'short', type: 'regex', pattern: 'ACME-[0-9]{4}', severity: 'CRITICAL' }),
      custom({ name: 'long', type: 'regex', pattern: 'ACME-[0-9]{4}-[A-Z]{2}', severity: 'HIGH' }),
    ];
    expect(found(scanText('id ACME-1234-XY', { ...EMPTY, patterns }))).toEqual([['custom.short', 3, 12]]);
    const same = patterns.map((p) => ({ ...p, severity: 'HIGH' as const }));
    expect(found(scanText('id ACME-1234-XY', { ...EMPTY, patterns: same }))).toEqual([['custom.long', 3, 15]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const PLANTED = [
  ['secret.github_token', GITHUB],
  ['secret.renlayer_key', RENLAYER],
  ['secret.aws_access_key', AWS],
  ['secret.jwt', JWT],
] as const;

/** Pieces that make random text look like the things detectors look for. */
const FRAGMENTS = ['sk-', 'AKIA', 'eyJ', '@', '.com', '4111', ' 1111', '-', '```', '\n', '\\n', 'token=', 'Bearer ', 'key: ', '"', '-----BEGIN PRIVATE KEY-----', 'DE89', '+49 ', 'CVV ', 'ghp_', '0', 'é', '😀'];
const noisyText = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: 'binary', maxLength: 20 })), { maxLength: 40 }).map((a) => a.join(''));

describe('properties', () => {
  it('finds a planted secret at any position of any text part, with its exact span', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 60 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.constantFrom(...PLANTED),
        (others, at, before, after, [cls, secret]) => {
          const k = at % others.length;
          const texts = others.map((t, i) => part(i === k ? `${before} ${secret} ${after}` : t, `$.messages[${i}].content`));
          const f = scan(BUILTINS, texts, 'request', null).filter((x) => x.location.path === `$.messages[${k}].content` && x.class === cls);
          const start = before.length + 1;
          expect(f.map((x) => [x.location.start, x.location.end])).toContainEqual([start, start + secret.length]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on random input and returns disjoint spans inside the text', () => {
    fc.assert(
      fc.property(fc.oneof(noisyText, fc.string({ unit: 'binary' })), (text) => {
        const f = scan(BUILTINS, [part(text)], 'request', null);
        let lastEnd = 0;
        for (const x of f) {
          expect(x.location.start).toBeGreaterThanOrEqual(lastEnd);
          expect(x.location.end).toBeGreaterThan(x.location.start);
          expect(x.location.end).toBeLessThanOrEqual(text.length);
          expect(x.hash).toMatch(/^[0-9a-f]{16}$/);
          lastEnd = x.location.end;
        }
        const redacted = redactText(text, f);
        for (const x of f) expect(redacted).toContain(`[REDACTED:${x.class}]`);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Redaction

describe('redactText', () => {
  const f = (start: number, end: number, cls = 'pii.email'): Finding => ({ class: cls, severity: 'MEDIUM', direction: 'request', location: { path: '$', start, end }, confidence: 0.9, hash: '0', action: 'redact' });

  it('replaces each span with [REDACTED:<class>], in any order', () => {
    expect(redactText('a bb ccc', [f(5, 8, 'x.c'), f(2, 4, 'x.b')])).toBe('a [REDACTED:x.b] [REDACTED:x.c]');
  });

  it('merges overlapping spans and ignores spans outside the text', () => {
    expect(redactText('abcdefgh', [f(1, 4, 'x.one'), f(3, 6, 'x.two'), f(7, 99), f(-1, 2), f(5, 5)])).toBe('a[REDACTED:x.one]gh');
  });
});

/** Every finding at action redact: what the proxy forwards in redact mode. */
const REDACT_ALL: TenantDlpConfig = { ...EMPTY, actions: { CRITICAL: 'redact', HIGH: 'redact', MEDIUM: 'redact', LOW: 'redact' } };

function redactBody(api: ApiKind, body: unknown) {
  const compiled = compileDlp(REDACT_ALL, 'salt');
  const findings = scan(compiled, normalizeRequest(api, body).texts, 'request', null);
  const before = JSON.stringify(body);
  const out = redactJson(body, decide(findings).redact);
  expect(JSON.stringify(body), 'input left unchanged').toBe(before);
  // Still JSON, and scanning what is forwarded finds nothing left to redact.
  const reparsed = JSON.parse(JSON.stringify(out));
  expect(scan(compiled, normalizeRequest(api, reparsed).texts, 'request', null)).toEqual([]);
  return { out: reparsed, findings };
}

describe('redactJson', () => {
  it('rewrites an OpenAI chat body: string content, content parts and tool-call arguments (JSON in a string)', () => {
    const body = {
      model: 'gpt-4o-mini',
      temperature: 0.2,
      messages: [
        { role: 'system', content: 'You are a billing assistant.' },
        { role: 'user', content: `Charge ${CARD} and mail ${EMAIL}` },
        { role: 'user', content: [{ type: 'text', text: 'Also card 5555-5555-5555-4444 please' }, { type: 'image_url', image_url: { url: 'https://img.example/a.png' } }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'charge', arguments: '{"card": "4111111111111111", "pan": 5555555555554444, "note": "for \\"Maria\\""}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'charged the card' },
      ],
    };
    const { out, findings } = redactBody('openai_chat', body);
    expect(findings.map((x) => x.location.path)).toEqual([
      '$.messages[1].content', '$.messages[1].content', '$.messages[2].content[0].text',
      '$.messages[3].tool_calls[0].function.arguments', '$.messages[3].tool_calls[0].function.arguments',
    ]);
    const expected = structuredClone(body) as any;
    expected.messages[1].content = 'Charge [REDACTED:payment.credit_card] and mail [REDACTED:pii.email]';
    expected.messages[2].content[0].text = 'Also card [REDACTED:payment.credit_card] please';
    expected.messages[3].tool_calls[0].function.arguments =
      '{"card": "[REDACTED:payment.credit_card]", "pan": "[REDACTED:payment.credit_card]", "note": "for \\"Maria\\""}';
    expect(out).toEqual(expected);
    expect(JSON.parse(out.messages[3].tool_calls[0].function.arguments).note).toBe('for "Maria"');
  });

  it('rewrites an Anthropic messages body: system blocks, text, tool_use input objects and tool results', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 512,
      system: [{ type: 'text', text: `Deploy key ${AWS} is internal.` }],
      messages: [
        { role: 'user', content: `My card is ${CARD}` },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me look that up.' },
            { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { email: EMAIL, pan: 4111111111111111, tags: ['vip'], nested: { note: `reach ${EMAIL}` } } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: `Found ${EMAIL}` }] }] },
      ],
    };
    const { out } = redactBody('anthropic_messages', body);
    const expected = structuredClone(body) as any;
    expected.system[0].text = 'Deploy key [REDACTED:secret.aws_access_key] is internal.';
    expected.messages[0].content = 'My card is [REDACTED:payment.credit_card]';
    expected.messages[1].content[1].input = {
      email: '[REDACTED:pii.email]', pan: '[REDACTED:payment.credit_card]', tags: ['vip'], nested: { note: 'reach [REDACTED:pii.email]' },
    };
    expected.messages[2].content[0].content[0].text = 'Found [REDACTED:pii.email]';
    expect(out).toEqual(expected);
  });

  it('keeps escapes whole when a span ends inside one, and handles quoted keys in paths', () => {
    const json = '{"a": "x\\u00e9y"}';
    const spanToEscape = { class: 'x.y', location: { path: "$['odd key'][0]", start: 8, end: 11 } };
    const out = redactJson({ 'odd key': [json] }, [spanToEscape]) as { 'odd key': string[] };
    expect(JSON.parse(out['odd key'][0]!)).toEqual({ a: 'x[REDACTED:x.y]y' });
  });

  it('leaves unknown and malformed paths alone', () => {
    const body = { messages: [{ role: 'user', content: 'hello', n: 42 }] };
    const at = (path: string) => ({ class: 'pii.email', location: { path, start: 0, end: 2 } });
    for (const path of ['$.messages[3].content', '$.nope', 'messages[0].content', '$.messages[0].n', '$.messages[0]content', '$.messages[x]']) {
      expect(redactJson(body, [at(path)]), path).toEqual(body);
    }
    expect(redactJson('a secret', [{ class: 'x.y', location: { path: '$', start: 2, end: 8 } }])).toBe('a [REDACTED:x.y]');
  });
});

describe('texts scanned lately', () => {
  const long = (secret: string) => `${'The customer wrote in about their last order and asked for a refund. '.repeat(6)}Card: ${secret}. Mail ${EMAIL}.`;

  it('answers a text seen before exactly as a scan would, wherever it sits in the request', () => {
    const text = long(CARD);
    const first = scan(BUILTINS, [part(text, '$.messages[0].content')], 'request', 'agt_a', { remember: true });
    const again = scan(BUILTINS, [part(text, '$.messages[3].content')], 'request', 'agt_a', { remember: true });
    const fresh = scan(BUILTINS, [part(text, '$.messages[3].content')], 'request', 'agt_a');
    expect(classesOf(first)).toEqual(['payment.credit_card', 'pii.email']);
    expect(again).toEqual(fresh);
    expect(again.map((f) => f.location.path)).toEqual(['$.messages[3].content', '$.messages[3].content']);
  });

  it('keeps apart what another agent, direction or configuration would find in the same text', () => {
    const text = long(CARD);
    const config = { ...EMPTY, overrides: { 'payment.credit_card': { disabledAgents: ['agt_b'] } } };
    const compiled = compileDlp(config, 'salt');
    expect(classesOf(scan(compiled, [part(text)], 'request', 'agt_a', { remember: true }))).toEqual(['payment.credit_card', 'pii.email']);
    expect(classesOf(scan(compiled, [part(text)], 'request', 'agt_b', { remember: true }))).toEqual(['pii.email']);
    // The card allowed: a new compile of the tenant's configuration finds it no more.
    const allowing = compileDlp({ ...config, allow: [{ class: 'payment.credit_card', value: CARD }] }, 'salt');
    expect(classesOf(scan(allowing, [part(text)], 'request', 'agt_a', { remember: true }))).toEqual(['pii.email']);
    const perDirection = compileDlp({ ...EMPTY, patterns: [custom({ name: 'emp', type: 'regex', pattern: 'EMP-[0-9]{6}', appliesTo: 'response' })] }, 'salt');
    const withEmp = `${text} EMP-123456`;
    expect(classesOf(scan(perDirection, [part(withEmp)], 'response', null, { remember: true }))).toContain('custom.emp');
    expect(classesOf(scan(perDirection, [part(withEmp)], 'request', null, { remember: true }))).not.toContain('custom.emp');
  });

  it('answers short texts, and texts with a lone surrogate (keyed by their UTF-16 units), as a scan would', () => {
    const compiled = compileDlp({ ...EMPTY, patterns: [custom({ name: 'mark', type: 'keywords', keywords: ['x\uFFFDy'] })] }, 'salt');
    for (const text of ['see x\uD800y', 'see x\uFFFDy', 'x\uD800y \uDC00', `Mail ${EMAIL}`]) {
      const fresh = scan(compiled, [part(text)], 'request', 'agt_d');
      expect(scan(compiled, [part(text)], 'request', 'agt_d', { remember: true }), text).toEqual(fresh);
      expect(scan(compiled, [part(text)], 'request', 'agt_d', { remember: true }), text).toEqual(fresh);
    }
  });

  it('hands out findings no caller can change for the next one', () => {
    const text = long(CARD);
    const [f] = scan(BUILTINS, [part(text)], 'request', 'agt_c', { remember: true });
    expect(() => { (f as { action: string }).action = 'record'; }).toThrow(TypeError);
    expect(() => { (f!.location as { start: number }).start = 0; }).toThrow(TypeError);
    expect(scan(BUILTINS, [part(text)], 'request', 'agt_c', { remember: true })[0]).toEqual(scan(BUILTINS, [part(text)], 'request', 'agt_c')[0]);
  });
});
