/**
 * The control queue's worker (corpus host): runs one control step of an iteration (plan,
 * dispatch, checkpoint, redispatch; src/scheduler/steps.ts) with what its children returned.
 */
import { Worker, type Job } from 'bullmq';
import { controlQueue, generateQueue, reviseQueue, type ReviseResult } from '../queues/index.js';
import type { GenerateResult } from '../queues/generate.js';
import { cellIndexOfKey, revisedIdOfKey } from '../state/ids.js';
import { checkpointStep, dispatchStep, planStep, redispatchStep } from '../scheduler/steps.js';
import { parsePayload } from './errors.js';
import { ensureOwnVault, runConfigOf, workerOpts, wrap, type RuntimeContext } from './runtime.js';

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
        const generated: GenerateResult[] = [];
        for (const v of Object.values(await job.getChildrenValues<unknown>())) {
          const r = generateQueue.result.safeParse(v);
          if (r.success) generated.push(r.data);
        }
        const failures = Object.entries(await job.getIgnoredChildrenFailures()).map(([key, error]) => ({ cellIndex: cellIndexOfKey(key), error }));
        return await dispatchStep(p.runId, p.iter, cfg, generated, failures, deps);
      }
      case 'checkpoint':
        return await checkpointStep(p.runId, p.iter, p.round, cfg, deps);
      case 'redispatch': {
        const revised: ReviseResult[] = [];
        for (const v of Object.values(await job.getChildrenValues<unknown>())) {
          const r = reviseQueue.result.safeParse(v);
          if (r.success) revised.push(r.data);
        }
        const failures = Object.entries(await job.getIgnoredChildrenFailures()).map(([key, error]) => ({ id: revisedIdOfKey(key), error }));
        return await redispatchStep(p.runId, p.iter, p.round, cfg, revised, failures, deps);
      }
    }
  });
  // Control steps are sequential per run; a little concurrency serves several runs.
  return new Worker(controlQueue.name, processor, workerOpts(ctx, 2));
}
