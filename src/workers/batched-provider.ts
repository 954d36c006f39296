/**
 * Batch mode around a run's provider: a generate or judge request is answered from the provider
 * batch it joined; until that batch ends the job waits (BatchPendingError: delayed, no attempt
 * spent). A request whose batch item failed, expired or was cancelled — and every repair or
 * revision request — goes to the live provider below, which reserves its call in the budget as
 * usual. The batch's own calls were reserved and settled by the batch job, so an answer from a
 * batch costs nothing more here.
 *
 * Stack per run: response cache → batched → budget → rate limit → provider.
 */
import { BatchPendingError } from '../errors.js';
import { cacheHash } from '../llm/cache.js';
import type { CompletionRequest, CompletionResult, LlmProvider } from '../llm/types.js';
import type { BatchStage } from '../queues/batch.js';
import { batchName, type BatchStore } from '../scheduler/batches.js';

export interface BatchedContext {
  batches: BatchStore;
  runId: string;
  iter: number;
  stage: BatchStage;
  /** Adds the collector job of a stage's collection round (idempotent by job id). */
  enqueueCollector(runId: string, iter: number, stage: BatchStage, seq: number): Promise<void>;
  /** How long a waiting job sleeps before it looks for its answer again. */
  recheckMs: number;
}

const BATCHED_PURPOSES: ReadonlySet<CompletionRequest['purpose']> = new Set(['generate', 'judge']);

export function batchedProvider(live: LlmProvider, ctx: BatchedContext): LlmProvider {
  return {
    name: live.name,
    model: live.model,
    async complete(req: CompletionRequest): Promise<CompletionResult> {
      // A repair must follow its answer at once (the job holds the rest of the group): live.
      if (!BATCHED_PURPOSES.has(req.purpose)) return await live.complete(req);
      const hash = cacheHash(live, req);
      const outcome = await ctx.batches.outcome(ctx.runId, hash);
      if (outcome?.ok) return { ...outcome.result, latencyMs: 0, cached: false };
      if (outcome) return await live.complete(req);
      const reg = await ctx.batches.register(ctx.runId, ctx.iter, ctx.stage, hash, req);
      if (reg.isNew) {
        await ctx.enqueueCollector(ctx.runId, ctx.iter, ctx.stage, reg.seq);
      } else {
        // Registered by an attempt that died before it added the collector: add it now.
        const at = await ctx.batches.itemBatch(ctx.runId, hash);
        if (at && !(await ctx.batches.get(ctx.runId, batchName(at.iter, at.stage, at.seq)))) await ctx.enqueueCollector(ctx.runId, at.iter, at.stage, at.seq);
      }
      throw new BatchPendingError(`${ctx.stage} request waiting for its provider batch`, ctx.recheckMs);
    },
  };
}
