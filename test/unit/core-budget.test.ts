/**
 * The budget around a provider (src/core/budgeted-provider.ts) with the in-memory budget port:
 * a call is reserved before it is made and settled after; a judge call draws on its iteration's
 * judge pool; a call that never left is released, not counted; an exhausted budget makes no call.
 */
import { describe, expect, it } from 'vitest';
import { budgetedProvider } from '../../src/core/budgeted-provider.js';
import { MemoryBudget } from '../../src/core/memory.js';
import { BudgetExhaustedError, LlmUnreachableError } from '../../src/errors.js';
import type { CompletionRequest, LlmProvider } from '../../src/llm/types.js';

function provider(fail?: Error): LlmProvider & { calls: CompletionRequest[] } {
  const calls: CompletionRequest[] = [];
  return {
    name: 'fake',
    model: 'fake-1',
    calls,
    async complete(req) {
      calls.push(req);
      if (fail) throw fail;
      return { text: '[]', usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 4 }, model: 'fake-1', latencyMs: 1, cached: false };
    },
  };
}

const req = (purpose: CompletionRequest['purpose']): CompletionRequest => ({ purpose, prompt: 'p' });

describe('budgeted provider', () => {
  it('counts a made call with its tokens and cost, and leaves nothing reserved', async () => {
    const budget = new MemoryBudget();
    budget.open('r', 3);
    const inner = provider();
    const p = budgetedProvider(inner, { store: budget, runId: 'r', iter: 0, costOf: () => 0.5 });
    await p.complete(req('generate'));
    expect(budget.run('r')).toMatchObject({ callsUsed: 1, callsReserved: 0, tokensIn: 10, tokensOut: 5, tokensCached: 4, costUsd: 0.5 });
    expect(budget.free('r')).toBe(2);
  });

  it('draws a judge call from its iteration pool, which generation cannot spend', async () => {
    const budget = new MemoryBudget();
    budget.open('r', 2);
    expect(budget.reserveJudge('r', 0, 1)).toBe(1);
    const gen = budgetedProvider(provider(), { store: budget, runId: 'r', iter: 0, costOf: () => 0 });
    const judge = budgetedProvider(provider(), { store: budget, runId: 'r', iter: 0, costOf: () => 0 });
    await gen.complete(req('generate'));
    // The one call left outside the pool is spent: a second generate call is refused …
    await expect(gen.complete(req('repair'))).rejects.toBeInstanceOf(BudgetExhaustedError);
    // … while the judge call set aside for this iteration is still there.
    await judge.complete(req('judge'));
    expect(budget.run('r')).toMatchObject({ callsUsed: 2, judgePool: 0, callsReserved: 0 });
  });

  it('releases a call that never reached the provider without counting it', async () => {
    const budget = new MemoryBudget();
    budget.open('r', 1);
    const p = budgetedProvider(provider(new LlmUnreachableError('connection refused', 'ECONNREFUSED')), { store: budget, runId: 'r', iter: 0, costOf: () => 0 });
    await expect(p.complete(req('generate'))).rejects.toBeInstanceOf(LlmUnreachableError);
    expect(budget.run('r')).toMatchObject({ callsUsed: 0, callsReserved: 0 });
  });

  it('counts a call that reached the provider and failed there', async () => {
    const budget = new MemoryBudget();
    budget.open('r', 1);
    const p = budgetedProvider(provider(new Error('HTTP 500')), { store: budget, runId: 'r', iter: 0, costOf: () => 0 });
    await expect(p.complete(req('generate'))).rejects.toThrow('HTTP 500');
    expect(budget.run('r')).toMatchObject({ callsUsed: 1, callsReserved: 0 });
  });

  it('makes no call once the budget is spent', async () => {
    const budget = new MemoryBudget();
    budget.open('r', 0);
    const inner = provider();
    const seen: string[] = [];
    const p = budgetedProvider(inner, { store: budget, runId: 'r', iter: 0, costOf: () => 0, onCall: (r) => seen.push(r.purpose) });
    await expect(p.complete(req('judge'))).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(inner.calls).toHaveLength(0);
    expect(seen).toEqual([]);
  });
});
