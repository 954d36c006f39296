/**
 * The apply queue's worker (corpus host): hands the judge chunk's verdicts (or why there are none)
 * to the apply processor; a late apply (a judge chunk retried after its apply ran) also rewrites
 * the iteration's records, and the run's summary when the run has ended.
 */
import { Worker, type Job } from 'bullmq';
import { applyQueue } from '../queues/index.js';
import type { JudgeResult } from '../queues/judge.js';
import { TERMINAL_STATUSES } from '../state/run-state.js';
import { writeIterationRecords, writeLoopSummary } from '../scheduler/records.js';
import { settleAfterLateApply } from '../scheduler/outcome.js';
import { applyChunk } from './apply.processor.js';
import { applyLate } from '../core/late-apply.js';
import { parsePayload } from './errors.js';
import { ensureOwnVault, workerOpts, wrap, type RuntimeContext } from './runtime.js';

export function applyWorker(ctx: RuntimeContext): Worker {
  const corpus = ctx.corpus!;
  const processor = wrap<unknown, unknown>(ctx, 'apply', async (job) => {
    const p = parsePayload(applyQueue.payload, job as Job);
    await ensureOwnVault(ctx, p.runId);
    const deps = { vault: corpus.vault, store: ctx.store, now: () => new Date() };
    if (p.late) {
      const late = p.late;
      // The iteration's records (and the run's summary, when it has ended) are rewritten to include it.
      return await applyLate(p, {
        apply: async (payload) => await applyChunk(payload, late.verdicts, null, deps, late.svgs),
        records: {
          writeIterationRecords: async (runId, iter) => await writeIterationRecords(corpus.vault, ctx.store, runId, iter),
          writeLoopSummary: async (runId) => await writeLoopSummary(corpus.vault, ctx.store, runId),
        },
        settle: async (runId) => await settleAfterLateApply(ctx.store, runId),
        ended: async (runId) => {
          const run = await ctx.store.get(runId);
          return Boolean(run && TERMINAL_STATUSES.includes(run.status));
        },
      });
    }
    const values = Object.values(await job.getChildrenValues<JudgeResult>());
    const failures = Object.values(await job.getIgnoredChildrenFailures());
    const judge = values[0] ?? null;
    return await applyChunk(p, judge ? judge.verdicts : null, judge ? null : (failures[0] ?? 'judge did not run'), deps, judge?.svgs ?? []);
  });
  return new Worker(applyQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}
