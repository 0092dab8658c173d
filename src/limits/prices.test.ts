import { describe, expect, it } from 'vitest';
import { PriceTable } from './prices.js';

describe('PriceTable', () => {
  const table = new PriceTable();

  it('prices a dated model by its most specific family', () => {
    expect(table.price('gpt-4o-mini-2024-07-18')).toEqual({ input: 0.15, output: 0.6 });
    expect(table.price('gpt-4o-2024-08-06')).toEqual({ input: 2.5, output: 10 });
    expect(table.price('claude-sonnet-4-20250514')).toEqual({ input: 3, output: 15 });
  });

  it('ignores an organisation prefix and case', () => {
    expect(table.price('meta-llama/Llama-3.1-8B-Instruct')).toEqual({ input: 0.18, output: 0.18 });
  });

  it('computes cost in USD from tokens', () => {
    expect(table.cost('gpt-4o', 1_000_000, 500_000)).toBeCloseTo(2.5 + 5, 10);
  });

  it('returns null for an unknown model rather than guessing', () => {
    expect(table.price('my-private-model')).toBeNull();
    expect(table.cost('my-private-model', 10, 10)).toBeNull();
    expect(table.cost(null, 10, 10)).toBeNull();
  });

  it('lets a tenant override bundled prices and add models', () => {
    const t = new PriceTable({ 'gpt-4o': { input: 1, output: 2 }, 'my-private-model': { input: 4, output: 4 } });
    expect(t.price('gpt-4o-2024-08-06')).toEqual({ input: 1, output: 2 });
    expect(t.cost('my-private-model', 500_000, 0)).toBeCloseTo(2, 10);
    expect(t.price('gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6 });
  });
});
