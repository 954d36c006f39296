/**
 * The control queue's worker (corpus host): runs one control step of an iteration (plan,
 * dispatch, checkpoint, redispatch; src/scheduler/steps.ts) with what its children returned.
 */
import { Worker, type Job } from 'bullmq';
import type { z } from 'zod';
import { controlQueue, generateQueue, reviseQueue } from '../queues/index.js';
import { cellIndexOfKey, revisedIdOfKey } from '../state/job-ids.js';
import { checkpointStep, dispatchStep, planStep, redispatchStep } from '../scheduler/steps.js';
import type { ChildOutcomes } from '../core/dispatch.js';
import { parsePayload } from './errors.js';
import { ensureOwnVault, runConfigOf, workerOpts, wrap, type RuntimeContext } from './runtime.js';

/** A parent's children: the values that parse as `schema`, and the failed children's errors, each with what `keyOf` reads from its job key. */
async function childResults<S extends z.ZodType, K>(job: Job, schema: S, keyOf: (jobKey: string) => K): Promise<ChildOutcomes<z.output<S>, K>> {
  const results: z.output<S>[] = [];
  for (const v of Object.values(await job.getChildrenValues<unknown>())) {
    const r = schema.safeParse(v);
    if (r.success) results.push(r.data);
  }
  return { results, failures: Object.entries(await job.getIgnoredChildrenFailures()).map(([key, error]) => ({ ...keyOf(key), error })) };
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
      case 'dispatch':
        return await dispatchStep(p.runId, p.iter, cfg, await childResults(job as Job, generateQueue.result, (key) => ({ cellIndex: cellIndexOfKey(key) })), deps);
      case 'checkpoint':
        return await checkpointStep(p.runId, p.iter, p.round, cfg, deps);
      case 'redispatch':
        return await redispatchStep(p.runId, p.iter, p.round, cfg, await childResults(job as Job, reviseQueue.result, (key) => ({ id: revisedIdOfKey(key) })), deps);
    }
  });
  // Control steps are sequential per run; a little concurrency serves several runs.
  return new Worker(controlQueue.name, processor, workerOpts(ctx, 2));
}
