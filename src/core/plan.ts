/**
 * The plan step of an iteration: gathers the evidence of the stop conditions and asks
 * src/core/saturation.ts whether the run stops; asks the analysis for the plan, sizes it within
 * the budget, sets aside its judge calls, mints one id per cell and adds the generate flow. Iteration 0 first judges drafts earlier runs left (catch-up).
 * Safe to run twice: the plan, its size and its ids are stored once per iteration.
 */
import type { PlanCell } from '../domain/plan-cell.js';
import type { RunConfig } from '../domain/run-config.js';
import type { DraftRecord, JudgeDraft } from '../domain/draft.js';
import { TRACKS } from '../corpus/taxonomy.js';
import { CATCH_UP, finishRun, freeCalls, isTerminal, judgeCalls, judgeReservation, readVisualSource, sizeWithRepairHeadroom, type StepDeps, type StepResult } from './control.js';
import type { JudgeChunkPlan } from './ports.js';
import { forJudge } from './dispatch.js';
import { planRevision } from './revision.js';
import { CONVERGENCE_WINDOW, decideStop, iterationEvidence, type Stop, type StopEvidence, type TopCell } from './saturation.js';

export async function planStep(runId: string, iter: number, cfg: RunConfig, deps: StepDeps): Promise<StepResult> {
  const { store } = deps;
  if (await isTerminal(deps, runId)) {
    // A repeated plan step after it ended the run reports the same decision.
    const ended = await store.get(runId);
    return ended?.stopReason ? { decision: 'stop', detail: { reason: ended.stopReason } } : { decision: 'run already finished' };
  }
  const run = (await store.get(runId))!;
  await store.set(runId, { iter, phase: 'plan' });
  if (cfg.reviseFrom) return await planRevision(runId, iter, cfg, deps);

  // The stop conditions are decided in src/core/saturation.ts, in the order of the design; this
  // step gathers their evidence as it learns it and asks after each stage.
  const evidence: StopEvidence = { stopRequested: run.stopRequested };
  const userStop = decideStop(evidence);
  if (userStop) return await stop(userStop);
  const remaining = freeCalls(run);
  // Drafts earlier runs left unjudged are judged first, in a catch-up iteration 0 that does not
  // count against maxIters.
  if (iter === 0 && !cfg.dryRun) {
    const caught = await catchUpStep(runId, cfg, deps, remaining);
    if (caught) return caught;
  }
  const afterCatchUp = iter > 0 && (await store.iterGet(runId, 0)).kind === CATCH_UP;
  evidence.schedule = { iter, afterCatchUp, judgeOnly: Boolean(cfg.judgeOnly), maxIters: cfg.maxIters, dryRun: cfg.dryRun, freeCalls: remaining };
  const scheduled = decideStop(evidence);
  if (scheduled) return await stop(scheduled);

  const visual = cfg.visualEachIter && iter % 2 === 0;
  const ih = await store.iterGet(runId, iter);
  let plan: PlanCell[];
  if (ih.plan) {
    plan = JSON.parse(ih.plan) as PlanCell[];
  } else {
    const { report, markdown } = await deps.analyze({ strategy: cfg.strategy, total: cfg.genBatchSize * cfg.genCallsPerIter, visual });
    await deps.records.writeIterJson(runId, iter, 'report.json', report);
    await deps.records.writeIterText(runId, iter, 'report.md', markdown);
    plan = JSON.parse(await store.iterSetOnce(runId, iter, 'plan', JSON.stringify(report.recommended_plan))) as PlanCell[];
  }

  const first = plan[0];
  const top = first ? { cell: [first.track, first.zone, first.level] as TopCell, priority: first.priority } : null;
  if (top) await store.iterSet(runId, iter, { topCell: JSON.stringify(top.cell), topPriority: top.priority, visual: visual ? '1' : '0' });
  evidence.plan = {
    top,
    gapThreshold: cfg.gapThreshold,
    previousDropRate: top && iter > 0 ? (deps.records.readIterRecord(runId, iter - 1)?.drop_rate ?? null) : null,
    maxDropRate: cfg.maxDropRate,
    earlier: top ? await iterationEvidence(store, runId, Array.from({ length: CONVERGENCE_WINDOW }, (_, k) => iter - 1 - k), cfg.dryRun) : [],
  };
  const planned = decideStop(evidence);
  if (planned) return await stop(planned);

  // Sized once: a second run of this step must not see the reservations of the first one's jobs.
  const sized = cfg.dryRun ? plan.length : sizeWithRepairHeadroom(plan.length, remaining, cfg.genBatchSize, cfg.judgeChunkSize);
  const n = Number(await store.iterSetOnce(runId, iter, 'planSize', String(sized)));
  // What was free when the iteration was sized (a second run of this step sees its judge pool taken).
  const freeAtPlan = Number(await store.iterSetOnce(runId, iter, 'freeAtPlan', String(remaining)));
  evidence.sizedCells = n;
  const unsized = decideStop(evidence);
  if (unsized) return await stop(unsized);
  // The judge calls of these drafts are set aside before any generate call (once per iteration):
  // generation and its repairs spend only the rest.
  if (!cfg.dryRun) await store.reserveJudge(runId, iter, 'plan', judgeReservation(n, freeAtPlan, cfg.genBatchSize, cfg.judgeChunkSize));
  const cells = plan.slice(0, n);
  await deps.records.writeIterJson(runId, iter, 'plan.json', cells);
  await store.iterSetOnce(runId, iter, 'startedAt', deps.now().toISOString());

  if (cfg.dryRun) {
    // Dry run: no calls, no drafts; the iteration closes at once.
    await store.iterSetOnce(runId, iter, 'finishedAt', deps.now().toISOString());
    await store.iterSet(runId, iter, { closed: '1' });
    await deps.records.writeIterationRecords(runId, iter);
    await deps.flows.addPlan(runId, iter + 1);
    return { decision: 'dry-run iteration', detail: { cells: n } };
  }

  // Ids continue from the highest already in the vault (nested or flat layout).
  const maxIds = await deps.scanMaxIds();
  for (const t of TRACKS) await store.raiseIdCounter(deps.vault, t, maxIds[t] ?? 0);

  // One id per cell, in plan order (idempotent per cell when this step runs twice). A cell that
  // fails for good leaves its id unused.
  const draftIds: string[] = [];
  for (const [cellIndex, cell] of cells.entries()) draftIds.push(await store.mintId(runId, deps.vault, cell.track, `${iter}-${cellIndex}`));

  await store.set(runId, { phase: 'generate' });
  deps.prefetchNearDup?.();
  await deps.flows.addGenerate(
    runId,
    iter,
    cells.map((cell, cellIndex) => ({ runId, iter, cellIndex, cell, variant: `${cfg.variantSalt ?? runId}-${iter}-${cellIndex}-s${cfg.seed}`, draftId: draftIds[cellIndex]! })),
  );
  return { decision: 'generate', detail: { cells: n, remaining: freeAtPlan, topPriority: top!.priority } };

  async function stop({ reason, status }: Stop): Promise<StepResult> {
    await finishRun(deps, runId, reason, status);
    return { decision: 'stop', detail: { reason } };
  }
}

/**
 * The catch-up iteration: adopts the drafts earlier runs of this vault left unjudged (as many
 * judge chunks as the budget allows, their calls set aside first) and adds their judge flow; its
 * checkpoint writes the records and adds the first generating plan. Null when there is nothing
 * to catch up. Safe to run twice: the adopted drafts are recorded once and re-read from Redis.
 */
async function catchUpStep(runId: string, cfg: RunConfig, deps: StepDeps, remaining: number): Promise<StepResult | null> {
  const { store } = deps;
  if (!deps.leftoverDrafts || !deps.readDraft) return null;
  const ih = await store.iterGet(runId, 0);
  if (ih.catchUp === 'none' || (ih.plan && ih.kind !== CATCH_UP)) return null;
  if (ih.kind !== CATCH_UP) {
    const left = await deps.leftoverDrafts(runId);
    const fit = Math.min(judgeCalls(left.length, cfg.judgeChunkSize), remaining);
    if (left.length > 0 && fit === 0) deps.log('no budget left to judge earlier drafts', { runId, leftovers: left.length });
    if (fit === 0) {
      await store.iterSet(runId, 0, { catchUp: 'none' });
      return null;
    }
    const records: DraftRecord[] = [];
    for (const d of left) {
      if (records.length >= fit * cfg.judgeChunkSize) break;
      const doc = await deps.readDraft(d.path);
      if (!doc) continue;
      records.push({ id: d.id, iter: 0, cellIndex: -1, chunk: Math.floor(records.length / cfg.judgeChunkSize), path: d.path, fileHash: d.fileHash, track: d.track, visualFiles: d.visualFiles, adoptedFrom: d.runId });
    }
    await store.putDrafts(runId, records);
    await store.iterSet(runId, 0, { kind: CATCH_UP, planSize: 0, generated: records.length, cellsFailed: '[]' });
    await store.iterSetOnce(runId, 0, 'startedAt', deps.now().toISOString());
    await store.reserveJudge(runId, 0, CATCH_UP, judgeCalls(records.length, cfg.judgeChunkSize));
  }
  const adopted = [...(await store.drafts(runId)).values()].filter((d) => d.iter === 0).sort((a, b) => a.chunk - b.chunk || a.id.localeCompare(b.id));
  const written: JudgeDraft[] = [];
  if (adopted.length > 0) await deps.loadNearDup();
  for (const d of adopted) {
    const doc = await deps.readDraft(d.path);
    if (!doc) continue;
    const visual = await readVisualSource(deps, d.visualFiles);
    written.push(forJudge(deps, d.id, { id: d.id, doc, ...(visual ? { visual } : {}) }, d.path, d.fileHash));
  }
  const chunks: JudgeChunkPlan[] = [];
  for (let i = 0; i < written.length; i += cfg.judgeChunkSize) chunks.push({ chunk: chunks.length, drafts: written.slice(i, i + cfg.judgeChunkSize) });
  await deps.records.writeIterText(runId, 0, 'judge_inputs.txt', written.map((d) => d.path).join('\n') + '\n');
  await store.set(runId, { phase: 'judge' });
  await deps.flows.addJudge(runId, 0, chunks, cfg.allowPythonVisuals);
  const from = [...new Set(adopted.map((d) => d.adoptedFrom ?? ''))].sort();
  deps.log('judging drafts earlier runs left unjudged', { runId, drafts: written.length, from });
  return { decision: 'judge leftovers', detail: { drafts: written.length, chunks: chunks.length, from } };
}
