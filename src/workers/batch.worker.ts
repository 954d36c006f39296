/** The batch queue's worker: one collection round of a provider batch (batch mode only). */
import { Worker, type Job } from 'bullmq';
import { batchQueue, type BatchResult } from '../queues/batch.js';
import { parsePayload, RunStoppedError } from './errors.js';
import { processBatch } from './batch.processor.js';
import { workerOpts, wrap, type RuntimeContext } from './runtime.js';

export function batchWorker(ctx: RuntimeContext): Worker {
  const processor = wrap<unknown, BatchResult>(ctx, 'batch', async (job) => {
    const p = parsePayload(batchQueue.payload, job as Job);
    if (!ctx.batchDeps) throw new Error('this process has no batch support wired in');
    if (!(await ctx.store.exists(p.runId))) throw new RunStoppedError(`run ${p.runId} does not exist`);
    return await processBatch(p, ctx.batchDeps());
  });
  return new Worker(batchQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}
