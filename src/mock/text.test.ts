import { describe, expect, it } from 'vitest';
import { ANSWER_WORDS, answerText, countTokens, embedding, embeddingBase64, splitChars, splitWords } from './text.js';
import { pickTool, toolArguments } from './tools.js';

describe('answer text', () => {
  it('has a stable word count and quotes the start of the prompt', () => {
    for (const p of ['', 'hi', 'a b c d e f g h i j k l m n o p q r s t u v w x y z', 'x'.repeat(500), 'line\n\nbreaks\there']) {
      const a = answerText(p);
      expect(a.split(' ')).toHaveLength(ANSWER_WORDS);
      expect(a).not.toMatch(/\n/);
      expect(answerText(p)).toBe(a);
    }
    expect(answerText('What is RenLayer?')).toMatch(/^This is a mock answer to: What is RenLayer\?\. /);
    expect(answerText('line\n\nbreaks')).toContain('line breaks');
  });

  it('counts about four characters per token', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('abcd')).toBe(1);
    expect(countTokens('abcde')).toBe(2);
  });
});

describe('splitting', () => {
  it('splitChars yields n pieces that join back, never splitting a surrogate pair', () => {
    const text = 'a🙂b🙂c🙂d';
    for (let n = 1; n <= 12; n++) {
      const pieces = splitChars(text, n);
      expect(pieces.join('')).toBe(text);
      expect(pieces.length).toBe(Math.min(n, text.length));
      for (const p of pieces) expect(p).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/);
    }
    expect(splitChars('', 3)).toEqual(['']);
  });

  it('splitWords cuts on word boundaries when there are enough words', () => {
    const pieces = splitWords('one two three four five six', 3);
    expect(pieces).toEqual(['one two ', 'three four ', 'five six']);
    expect(splitWords('ab', 5)).toEqual(['a', 'b']);
  });
});

describe('embeddings', () => {
  it('are deterministic unit vectors that survive the base64 float32 round trip', () => {
    const v = embedding('hello', 8);
    expect(embedding('hello', 8)).toEqual(v);
    expect(embedding('hellp', 8)).not.toEqual(v);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    const buf = Buffer.from(embeddingBase64(v), 'base64');
    expect(Array.from({ length: 8 }, (_, i) => buf.readFloatLE(i * 4))).toEqual(v);
  });
});

describe('tool arguments', () => {
  it('fills required properties by type and falls back to query', () => {
    const schema = {
      type: 'object',
      properties: { q: { type: 'string' }, n: { type: 'integer' }, mode: { enum: ['fast', 'slow'] }, opt: { type: 'string' } },
      required: ['q', 'n', 'mode'],
    };
    expect(toolArguments(schema, 'cats')).toEqual({ q: 'cats', n: 1, mode: 'fast' });
    expect(toolArguments({ type: 'object', properties: { city: { type: 'string' } } }, 'Oslo')).toEqual({ city: 'Oslo' });
    expect(toolArguments(undefined, 'x')).toEqual({ query: 'x' });
  });

  it('picks the forced tool, the first otherwise, none when told', () => {
    const tools = [
      { name: 'a', schema: {} },
      { name: 'b', schema: {} },
    ];
    expect(pickTool(tools, null, false)?.name).toBe('a');
    expect(pickTool(tools, 'b', false)?.name).toBe('b');
    expect(pickTool(tools, null, true)).toBeNull();
    expect(pickTool([], null, false)).toBeNull();
  });
});
