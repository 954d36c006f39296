/**
 * The budget around a provider: a call is reserved atomically in Redis before it is made and
 * settled after, so `maxCalls` bounds real calls across every process. Put it inside the response
 * cache: an answer served from the cache reserves nothing and costs nothing. Judge calls draw on the
 * judge pool their iteration set aside (RunStore.reserveJudge, src/state/budget.ts), so generation cannot spend them.
 */
import { neverSent } from '../errors.js';
import type { CompletionRequest, CompletionResult, LlmProvider } from '../llm/types.js';
import type { BudgetPort } from './ports.js';

export interface BudgetContext {
  /** The run's budget (RunStore in Redis; MemoryBudget in tests). */
  store: BudgetPort;
  runId: string;
  iter: number;
  costOf(model: string, usage: CompletionResult['usage']): number;
  /** Counts every call that reached the provider (for tests and metrics). */
  onCall?(req: CompletionRequest): void;
}


export function budgetedProvider(inner: LlmProvider, ctx: BudgetContext): LlmProvider {
  return {
    name: inner.name,
    model: inner.model,
    async complete(req: CompletionRequest): Promise<CompletionResult> {
      // A judge call draws on its iteration's judge pool (set aside by the plan step); every other
      // call only on what is outside every pool.
      if (req.purpose === 'judge') await ctx.store.reserveJudgeCall(ctx.runId, ctx.iter);
      else await ctx.store.reserveCall(ctx.runId);
      let res: CompletionResult;
      try {
        ctx.onCall?.(req);
        res = await inner.complete(req);
      } catch (e) {
        await ctx.store.settleCall(ctx.runId, ctx.iter, !neverSent(e), { inputTokens: 0, outputTokens: 0 }, 0);
        throw e;
      }
      await ctx.store.settleCall(ctx.runId, ctx.iter, true, res.usage, ctx.costOf(res.model, res.usage));
      await ctx.store.addCachedTokens(ctx.runId, ctx.iter, res.usage.cachedInputTokens ?? 0);
      return res;
    },
  };
}
