/**
 * The generate queue's worker: gathers cells into batches (one provider call per batch), calls
 * the generate processor and hands each cell its draft.
 */
import { Worker, type Job } from 'bullmq';
import { generateQueue } from '../queues/index.js';
import type { GenerateResult } from '../queues/generate.js';
import type { GenerateCell } from '../domain/plan-cell.js';
import { Batcher } from './batcher.js';
import { parsePayload } from './errors.js';
import { BATCH_COLLECT_MS } from './batch.processor.js';
import { generateBatch, type CellOutcome } from '../core/generate-batch.js';
import { ensureRunActive, inStableOrder, runConfigOf, workerOpts, wrap, type RuntimeContext } from './runtime.js';

export function generateWorker(ctx: RuntimeContext): Worker {
  const deps = ctx.generateDeps();
  const batcher = new Batcher<GenerateCell, CellOutcome>(
    async (_key, cells) => await inStableOrder(cells, (a, b) => a.cellIndex - b.cellIndex, async (sorted) => await generateBatch(sorted, deps.toPromptCells(sorted), deps)),
    ctx.batchWindowMs,
  );
  // Batch mode's fixed groups wait for all their members: a group flushed early would register
  // a different request than the one its members find answered later.
  const fixedGroups = new Batcher<GenerateCell, CellOutcome>(
    async (_key, cells) => await inStableOrder(cells, (a, b) => a.cellIndex - b.cellIndex, async (sorted) => await generateBatch(sorted, deps.toPromptCells(sorted), deps)),
    BATCH_COLLECT_MS,
  );
  const processor = wrap<unknown, GenerateResult>(ctx, 'generate', async (job) => {
    const p = parsePayload(generateQueue.payload, job as Job);
    await ensureRunActive(ctx.store, p.runId);
    const cfg = await runConfigOf(ctx.store, p.runId);
    const size = Math.min(cfg.genBatchSize, ctx.genBatchCapacity);
    const outcome = cfg.batchMode ? await submitInFixedGroup(ctx, fixedGroups, p, size) : await batcher.submit(`${p.runId}:${p.iter}`, size, p);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  });
  return new Worker(generateQueue.name, processor, workerOpts(ctx, ctx.concurrency * ctx.genBatchCapacity));
}

/**
 * Batch mode: a cell always joins the same group (consecutive cell indexes, `size` at a time),
 * so the request a group registers for the provider batch is the one it finds answered when its
 * jobs come back after the batch ended.
 */
async function submitInFixedGroup(ctx: RuntimeContext, batcher: Batcher<GenerateCell, CellOutcome>, p: GenerateCell, size: number): Promise<CellOutcome> {
  const planSize = Number((await ctx.store.iterGet(p.runId, p.iter)).planSize ?? p.cellIndex + 1);
  const group = Math.floor(p.cellIndex / size);
  const members = Math.max(1, Math.min(size, planSize - group * size));
  return await batcher.submit(`${p.runId}:${p.iter}:g${group}`, members, p);
}
