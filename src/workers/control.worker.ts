/**
 * The control queue's worker (corpus host): runs one control step of an iteration (plan,
 * dispatch, checkpoint, redispatch; src/scheduler/steps.ts) with what its children returned.
 */
import { Worker, type Job } from 'bullmq';
import type { z } from 'zod';
import { controlQueue, generateQueue, reviseQueue } from '../queues/index.js';
import { cellIndexOfKey, revisedIdOfKey } from '../state/job-ids.js';
import { checkpointStep, dispatchStep, planStep, redispatchStep } from '../scheduler/steps.js';
import { parsePayload } from './errors.js';
import { ensureOwnVault, runConfigOf, workerOpts, wrap, type RuntimeContext } from './runtime.js';

/** A parent's children: the values that parse as `schema`, and the failed children's errors by job key. */
async function childResults<S extends z.ZodType>(job: Job, schema: S): Promise<{ values: z.output<S>[]; failures: [string, string][] }> {
  const values: z.output<S>[] = [];
  for (const v of Object.values(await job.getChildrenValues<unknown>())) {
    const r = schema.safeParse(v);
    if (r.success) values.push(r.data);
  }
  return { values, failures: Object.entries(await job.getIgnoredChildrenFailures()) };
}

export function controlWorker(ctx: RuntimeContext): Worker {
  const corpus = ctx.corpus!;
  const processor = wrap<unknown, unknown>(ctx, 'control', async (job) => {
    const p = parsePayload(controlQueue.payload, job as Job);
    await ensureOwnVault(ctx, p.runId);
    const cfg = await runConfigOf(ctx.store, p.runId);
    const deps = corpus.stepDeps;
    switch (p.step) {
      case 'plan':
        return await planStep(p.runId, p.iter, cfg, deps);
      case 'dispatch': {
        const { values: generated, failures } = await childResults(job as Job, generateQueue.result);
        return await dispatchStep(p.runId, p.iter, cfg, generated, failures.map(([key, error]) => ({ cellIndex: cellIndexOfKey(key), error })), deps);
      }
      case 'checkpoint':
        return await checkpointStep(p.runId, p.iter, p.round, cfg, deps);
      case 'redispatch': {
        const { values: revised, failures } = await childResults(job as Job, reviseQueue.result);
        return await redispatchStep(p.runId, p.iter, p.round, cfg, revised, failures.map(([key, error]) => ({ id: revisedIdOfKey(key), error })), deps);
      }
    }
  });
  // Control steps are sequential per run; a little concurrency serves several runs.
  return new Worker(controlQueue.name, processor, workerOpts(ctx, 2));
}
