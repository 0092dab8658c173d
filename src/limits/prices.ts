/**
 * Bundled model prices in USD per million tokens, for the cost of a call and for cost budgets.
 * Closed models: the providers' list prices; open models: typical hosted rates. Prices change —
 * tenants override any entry (renlayer.model_prices), and an unknown model costs nothing rather
 * than a guess.
 */
export const PRICES_AS_OF = '2025-08-01';

export interface Price {
  input: number;
  output: number;
}

const BUNDLED: Record<string, Price> = {
  // OpenAI
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4-turbo': { input: 10, output: 30 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  o1: { input: 15, output: 60 },
  'o1-mini': { input: 1.1, output: 4.4 },
  o3: { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'text-embedding-ada-002': { input: 0.1, output: 0 },
  // Anthropic
  'claude-opus-4-1': { input: 15, output: 75 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-3-5-sonnet': { input: 3, output: 15 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-3-opus': { input: 15, output: 75 },
  'claude-3-haiku': { input: 0.25, output: 1.25 },
  // Open models (typical hosted rates)
  'llama-3.3-70b': { input: 0.88, output: 0.88 },
  'llama-3.1-405b': { input: 3.5, output: 3.5 },
  'llama-3.1-70b': { input: 0.88, output: 0.88 },
  'llama-3.1-8b': { input: 0.18, output: 0.18 },
  'mixtral-8x7b': { input: 0.6, output: 0.6 },
  'mistral-7b': { input: 0.2, output: 0.2 },
  'qwen2.5-72b': { input: 1.2, output: 1.2 },
  'deepseek-v3': { input: 0.27, output: 1.1 },
  'deepseek-r1': { input: 0.55, output: 2.19 },
};

/** Longest known name first, so "gpt-4o-mini-2024-07-18" finds gpt-4o-mini, not gpt-4o. */
function byLength(table: Record<string, Price>): [string, Price][] {
  return Object.entries(table).sort((a, b) => b[0].length - a[0].length);
}

const BUNDLED_SORTED = byLength(BUNDLED);

/** Lower-cased, without an organisation prefix ("meta-llama/Llama-3.1-8B-Instruct" → "llama-3.1-8b-instruct"). */
export function canonicalModel(model: string): string {
  const m = model.toLowerCase();
  const slash = m.lastIndexOf('/');
  return slash >= 0 ? m.slice(slash + 1) : m;
}

export class PriceTable {
  private readonly entries: [string, Price][];
  private readonly cache = new Map<string, Price | null>();

  /** Overrides replace bundled entries of the same name; the most specific name still wins. */
  constructor(overrides: Record<string, Price> = {}) {
    const custom = Object.entries(overrides).map(([k, v]) => [canonicalModel(k), v] as const);
    this.entries = custom.length === 0 ? BUNDLED_SORTED : byLength({ ...BUNDLED, ...Object.fromEntries(custom) });
  }

  price(model: string | null): Price | null {
    if (!model) return null;
    const cached = this.cache.get(model);
    if (cached !== undefined) return cached;
    const m = canonicalModel(model);
    const hit = this.entries.find(([name]) => m === name || m.startsWith(name + '-') || m.startsWith(name + ':') || m.startsWith(name + '@'));
    const found = hit ? hit[1] : null;
    if (this.cache.size < 10_000) this.cache.set(model, found);
    return found;
  }

  /** USD for one call, or null when the model has no known price. */
  cost(model: string | null, inputTokens: number, outputTokens: number): number | null {
    const p = this.price(model);
    if (!p) return null;
    return (inputTokens * p.input + outputTokens * p.output) / 1_000_000;
  }
}

export const BUNDLED_PRICES: Readonly<Record<string, Price>> = BUNDLED;
