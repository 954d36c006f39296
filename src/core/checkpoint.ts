/**
 * The checkpoint step: closes a judging round. NEEDS_FIX drafts go to revision while rounds are
 * left (src/core/revision.ts); otherwise the iteration's records are written and the next plan is
 * added, or the run ends (a stop request, or an iteration that shows the provider is not working).
 */
import type { RunConfig } from '../domain/run-config.js';
import { finishRun, freeCalls, isTerminal, judgeReservation, sizeIteration, TERMINAL_STATUSES, type StepDeps, type StepResult } from './control.js';
import { failedJudgeChunks, iterationFailure } from './outcome.js';
import { revisionCandidates } from './revision.js';
import { decideStop } from './saturation.js';

/**
 * Closes one judging round of an iteration. With `revise` on and rounds left, NEEDS_FIX drafts of
 * this round go to revision (and back to judging) first; otherwise the iteration's records are
 * written and the next plan (which checks the stop conditions) is added, or the run ends.
 */
export async function checkpointStep(runId: string, iter: number, round: number, cfg: RunConfig, deps: StepDeps): Promise<StepResult> {
  const { store } = deps;
  // This round's judging is over: what its pool still holds goes back to the run.
  await store.releaseJudge(runId, iter, 0);
  const run = await store.get(runId);
  if (cfg.revise && round < (cfg.maxRevisions ?? 1) && run && !run.stopRequested && !TERMINAL_STATUSES.includes(run.status)) {
    const items = await revisionCandidates(runId, iter, round, deps);
    if (items.length > 0) {
      const remaining = freeCalls(run);
      const n = sizeIteration(items.length, remaining, cfg.genBatchSize, cfg.judgeChunkSize);
      if (n > 0) {
        await store.reserveJudge(runId, iter, `r${round + 1}`, judgeReservation(n, remaining, cfg.genBatchSize, cfg.judgeChunkSize));
        await store.set(runId, { phase: 'revise' });
        await deps.flows.addRevise(runId, iter, round + 1, items.slice(0, n).map((it) => ({ ...it, round: round + 1 })));
        return { decision: 'revise', detail: { drafts: n, round: round + 1 } };
      }
      deps.log('no budget left to revise', { runId, iter, candidates: items.length });
    }
  }
  await store.iterSetOnce(runId, iter, 'finishedAt', deps.now().toISOString());
  await store.iterSet(runId, iter, { closed: '1' });
  const record = await deps.records.writeIterationRecords(runId, iter);
  if (await isTerminal(deps, runId)) {
    await deps.records.writeLoopSummary(runId);
    return { decision: 'run already finished' };
  }
  const after = (await store.get(runId))!;
  const stop = decideStop({ stopRequested: after.stopRequested });
  if (stop) {
    await finishRun(deps, runId, stop.reason, stop.status);
    return { decision: 'stop', detail: { reason: stop.reason } };
  }
  // A provider that answered nothing this iteration will not answer the next: end the run as failed.
  const failedChunks = (await failedJudgeChunks(store, runId)).filter((c) => c.iter === iter).length;
  const judged = [...(await store.verdicts(runId)).values()].filter((v) => v.iter === iter).length;
  const failure = iterationFailure({ planSize: record.plan_size, generated: record.generated, cellsFailed: record.cells_failed, judged, failedChunks });
  if (failure) {
    await finishRun(deps, runId, failure, 'failed');
    return { decision: 'stop', detail: { reason: failure } };
  }
  await store.set(runId, { phase: 'checkpoint' });
  await deps.flows.addPlan(runId, iter + 1);
  return { decision: 'next', detail: { dropRate: record.drop_rate, generated: record.generated } };
}

