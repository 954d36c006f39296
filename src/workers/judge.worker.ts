/**
 * The judge queue's worker: reads the chunk's renders, calls the judge processor (one judge chunk,
 * src/core/judge-chunk.ts) and enqueues what the outcome says: a late apply when the apply
 * job that waited for this chunk already ran (src/core/late-apply.ts decides).
 */
import { Job, Worker } from 'bullmq';
import { judgeQueue } from '../queues/index.js';
import type { JudgeResult } from '../queues/judge.js';
import type { RenderResult } from '../queues/render.js';
import { draftIdOfKey, ids } from '../state/job-ids.js';
import { judgeOutcome } from '../core/late-apply.js';
import type { ParentState } from '../core/ports.js';
import { parsePayload } from './errors.js';
import { judgeChunk } from '../core/judge-chunk.js';
import { ensureRunActive, workerOpts, wrap, type RuntimeContext } from './runtime.js';

export function judgeWorker(ctx: RuntimeContext): Worker {
  const processor = wrap<unknown, JudgeResult>(ctx, 'judge', async (job, _token, signal) => {
    const p = parsePayload(judgeQueue.payload, job as Job);
    // A judge chunk retried after its run ended is still judged and applied (late retry).
    await ensureRunActive(ctx.store, p.runId, true);
    const renders = new Map<string, RenderResult>();
    for (const v of Object.values(await job.getChildrenValues<RenderResult>())) renders.set(v.draftId, v);
    for (const [key, err] of Object.entries(await job.getIgnoredChildrenFailures())) {
      const draftId = draftIdOfKey(key);
      if (draftId && !renders.has(draftId)) renders.set(draftId, { draftId, ok: false, error: `render failed: ${err}`, warnings: [] });
    }
    const deps = await ctx.judgeDeps(p.runId);
    const result = await judgeChunk(p, renders, { ...deps, ...(signal ? { signal } : {}) });
    // Late result: the apply job that waited for this chunk already ran (src/core/late-apply.ts).
    let parent: ParentState | null = null;
    if (job.parent?.id) {
      const applyJob = await Job.fromId(ctx.queues.apply, job.parent.id);
      parent = applyJob ? await applyJob.getState() : 'unknown';
    }
    const outcome = judgeOutcome(p, result, parent, { id: String(job.id), attemptsStarted: job.attemptsStarted });
    if (outcome.kind === 'late-apply') {
      await ctx.queues.apply.add('apply-late', outcome.apply, { jobId: ids.lateApply(p.runId, p.iter, p.chunk, outcome.attempt, p.round) });
    }
    return outcome.result;
  });
  return new Worker(judgeQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}
