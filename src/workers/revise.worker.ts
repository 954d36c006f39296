/** The revise queue's worker: gathers NEEDS_FIX drafts into batches and calls the revise processor. */
import { Worker, type Job } from 'bullmq';
import { reviseQueue, type ReviseResult } from '../queues/index.js';
import type { RevisePayload } from '../queues/revise.js';
import { Batcher } from './batcher.js';
import { parsePayload } from './errors.js';
import { reviseBatch, type ReviseOutcome } from '../core/revise-batch.js';
import { ensureRunActive, inStableOrder, runConfigOf, workerOpts, wrap, type RuntimeContext } from './runtime.js';

export function reviseWorker(ctx: RuntimeContext): Worker {
  const deps = ctx.reviseDeps();
  const batcher = new Batcher<RevisePayload, ReviseOutcome>(
    async (_key, items) => await inStableOrder(items, (a, b) => a.draft.id.localeCompare(b.draft.id), async (sorted) => await reviseBatch(sorted, deps)),
    ctx.batchWindowMs,
  );
  const processor = wrap<unknown, ReviseResult>(ctx, 'revise', async (job) => {
    const p = parsePayload(reviseQueue.payload, job as Job);
    await ensureRunActive(ctx.store, p.runId);
    const cfg = await runConfigOf(ctx.store, p.runId);
    const outcome = await batcher.submit(`${p.runId}:${p.iter}:${p.round}`, Math.min(cfg.genBatchSize, ctx.genBatchCapacity), p);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  });
  return new Worker(reviseQueue.name, processor, workerOpts(ctx, ctx.concurrency * ctx.genBatchCapacity));
}
