/**
 * What a call cost, from a price table in USD per million tokens. The defaults are list prices of
 * a few known models (standard tier, short-context rates; check your provider's page, they change):
 * pass your own table to override. Unknown models and the offline provider cost 0, and say so.
 */
import type { TokenUsage } from './types.js';

export interface ModelPrice {
  /** USD per 1M input tokens. */
  input: number;
  /** USD per 1M output tokens. */
  output: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

export const DEFAULT_PRICES: PriceTable = Object.freeze({
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gemini-2.5-pro': { input: 1.25, output: 10 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4 },
  'gemini-3.1-pro-preview': { input: 2, output: 12 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  offline: { input: 0, output: 0 },
});

/** The defaults with `overrides` on top (a key set to {0, 0} makes a model free). */
export function priceTable(overrides: Record<string, ModelPrice> = {}): PriceTable {
  return Object.freeze({ ...DEFAULT_PRICES, ...overrides });
}

/**
 * The table entry for a model id: exact, else the longest key the id starts with followed by
 * `-` or `@` (servers report dated ids such as `gpt-4o-2024-08-06` or `claude-sonnet-4-5-20250929`).
 * `models/` prefixes (Gemini) are ignored.
 */
export function priceOf(model: string, table: PriceTable = DEFAULT_PRICES): ModelPrice | undefined {
  const id = model.replace(/^models\//, '');
  if (table[id]) return table[id];
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if ((id.startsWith(`${key}-`) || id.startsWith(`${key}@`)) && (!best || key.length > best.length)) best = key;
  }
  return best ? table[best] : undefined;
}

/** USD for one call; 0 for a model not in the table (see isPriced). */
export function costOf(model: string, usage: TokenUsage, table: PriceTable = DEFAULT_PRICES): number {
  const p = priceOf(model, table);
  if (!p) return 0;
  return (usage.inputTokens * p.input + usage.outputTokens * p.output) / 1_000_000;
}

/** False when costOf's 0 means "unknown price" rather than "free". */
export function isPriced(model: string, table: PriceTable = DEFAULT_PRICES): boolean {
  return priceOf(model, table) !== undefined;
}
