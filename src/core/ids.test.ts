import { describe, expect, it } from 'vitest';
import { newId, newTraceId, ulid } from './ids.js';

describe('ids', () => {
  it('are prefixed ULIDs in Crockford base32', () => {
    expect(newTraceId()).toMatch(/^trace_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(newId('agt')).toMatch(/^agt_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('sort by creation time', () => {
    expect(ulid(1_000) < ulid(2_000)).toBe(true);
    expect(ulid(Date.UTC(2030, 0, 1)).slice(0, 10) > ulid(Date.UTC(2026, 0, 1)).slice(0, 10)).toBe(true);
  });

  it('do not repeat across many draws (the random pool refills)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(ulid(0));
    expect(seen.size).toBe(20_000);
  });
});
