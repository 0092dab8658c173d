import { describe, expect, it } from 'vitest';
import { compileDlp } from '../dlp/engine.js';
import { StreamScanner } from '../dlp/stream.js';
import { bodyPolicy, clip, redactedJsonBody } from './bodies.js';

describe('trace bodies', () => {
  it('clip keeps short texts and cuts long ones on a character boundary, marked, within the bound', () => {
    expect(clip('hello', 5)).toBe('hello');
    const cut = clip('ä'.repeat(100), 40);
    expect(cut.endsWith('…[TRUNCATED]')).toBe(true);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(40);
    expect(cut).not.toContain('\uFFFD');
    expect(cut.startsWith('ää')).toBe(true);
  });

  it('a JSON body without findings is stored as received, with findings re-serialised redacted', () => {
    const raw = '{ "a" : "x@y.io" }';
    expect(redactedJsonBody(JSON.parse(raw), raw, [], 1000)).toBe('{ "a" : "x@y.io" }');
    const finding = { class: 'pii.email', severity: 'MEDIUM' as const, direction: 'request' as const, location: { path: '$.a', start: 0, end: 6 }, confidence: 1, hash: 'h', action: 'warn' as const };
    expect(redactedJsonBody({ a: 'x@y.io' }, raw, [finding], 1000)).toBe('{"a":"[REDACTED:pii.email]"}');
  });

  it('the policy follows store_bodies, and keeps originals only with a key', () => {
    const key = Buffer.alloc(32, 1);
    expect(bodyPolicy('none', key, 10)).toMatchObject({ redacted: false, sealKey: undefined });
    expect(bodyPolicy('redacted', key, 10)).toMatchObject({ redacted: true, sealKey: undefined });
    expect(bodyPolicy('redacted_and_encrypted', key, 10)).toMatchObject({ redacted: true, sealKey: key });
    expect(bodyPolicy('redacted_and_encrypted', undefined, 10)).toMatchObject({ redacted: true, sealKey: undefined });
  });

  it('a streamed text cut by the recording bound is redacted up to the cut, never shown in part', () => {
    const dlp = compileDlp({ overrides: {}, patterns: [], allow: [] }, 'salt');
    const text = 'write to jane.doe@example.org today';
    const cutAt = text.indexOf('@') + 3;
    const scanner = new StreamScanner(dlp, null, 64, cutAt);
    scanner.push([{ path: '$', value: text, stream: 'k' }]);
    scanner.end();
    expect(scanner.recordedTexts()).toEqual({ k: 'write to [REDACTED:pii.email]' });
  });
});
