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
  /** USD per 1M input tokens read from the prompt cache (default: `input`, i.e. no discount known). */
  cachedInput?: number;
  /** USD per 1M input tokens written to the prompt cache (Anthropic; default: `input`). */
  cacheWrite?: number;
  /** The batch API's prices (default: half of each live price, as OpenAI and Anthropic sell it). */
  batch?: { input: number; output: number; cachedInput?: number; cacheWrite?: number };
}

/** How a call was made: live, or through a provider's batch API. */
export type PriceMode = 'live' | 'batch';

/** The batch discount both batch APIs give on every token kind when a table names no batch price. */
export const BATCH_DISCOUNT = 0.5;

export type PriceTable = Readonly<Record<string, ModelPrice>>;

export const DEFAULT_PRICES: PriceTable = Object.freeze({
  'gpt-4.1': { input: 2, output: 8, cachedInput: 0.5 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cachedInput: 0.1 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cachedInput: 0.025 },
  'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cachedInput: 0.075 },
  'gemini-2.5-pro': { input: 1.25, output: 10, cachedInput: 0.31 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5, cachedInput: 0.075 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cachedInput: 0.025 },
  'gemini-3.1-pro-preview': { input: 2, output: 12 },
  'claude-opus-4': { input: 15, output: 75, cachedInput: 1.5, cacheWrite: 18.75 },
  'claude-sonnet-4': { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
  'claude-sonnet-4-5': { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cachedInput: 0.08, cacheWrite: 1 },
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

/** The rates of one mode: the batch entry, else the live rates at the batch discount. */
export function ratesOf(p: ModelPrice, mode: PriceMode = 'live'): Required<Omit<ModelPrice, 'batch'>> {
  const live = { input: p.input, output: p.output, cachedInput: p.cachedInput ?? p.input, cacheWrite: p.cacheWrite ?? p.input };
  if (mode === 'live') return live;
  const b = p.batch;
  return {
    input: b?.input ?? live.input * BATCH_DISCOUNT,
    output: b?.output ?? live.output * BATCH_DISCOUNT,
    cachedInput: b?.cachedInput ?? live.cachedInput * BATCH_DISCOUNT,
    cacheWrite: b?.cacheWrite ?? live.cacheWrite * BATCH_DISCOUNT,
  };
}

/**
 * USD for one call; 0 for a model not in the table (see isPriced). Cached and cache-write input
 * tokens are part of inputTokens and priced at their own rates; `mode` picks live or batch prices.
 */
export function costOf(model: string, usage: TokenUsage, table: PriceTable = DEFAULT_PRICES, mode: PriceMode = 'live'): number {
  const p = priceOf(model, table);
  if (!p) return 0;
  const r = ratesOf(p, mode);
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  const written = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens - cached);
  const plain = usage.inputTokens - cached - written;
  return (plain * r.input + cached * r.cachedInput + written * r.cacheWrite + usage.outputTokens * r.output) / 1_000_000;
}

/** False when costOf's 0 means "unknown price" rather than "free". */
export function isPriced(model: string, table: PriceTable = DEFAULT_PRICES): boolean {
  return priceOf(model, table) !== undefined;
}
