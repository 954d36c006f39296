/**
 * The control steps of one iteration, run by the corpus host: plan, dispatch, checkpoint.
 * Pure of BullMQ: flows are added through the injected `flows`. Every step is safe to run twice:
 * the plan is stored once per iteration, drafts are written with the same bytes, flows are added
 * under deterministic job ids and skipped when present.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CoverageReport, Strategy } from '../analysis/types.js';
import type { GenerateCell, PlanCell } from '../domain/plan-cell.js';
import type { RunConfig } from '../domain/run-config.js';
import { callsSaved, prejudge } from '../checks/prejudge.js';
import { TRACKS, type Track } from '../corpus/taxonomy.js';
import type { GenerateResult } from '../queues/generate.js';
import type { JudgeDraft } from '../domain/draft.js';
import type { RevisePayload, ReviseResult } from '../queues/revise.js';
import { sha256 } from '../corpus/loader.js';
import { readFile } from 'node:fs/promises';
import { parseQuestionText } from '../corpus/loader.js';
import { atomicWrite } from '../corpus/writer.js';
import { IterRecordSchema, JudgeSummarySchema, RunJsonSchema, type JudgeSummary } from '../domain/records.js';
import { iterDir, iterDirName, readRecord, writeIterationRecords, writeJson, writeLoopSummary, writeRecord } from './records.js';
import { failedJudgeChunks, finalOutcome, iterationFailure } from './outcome.js';
import { CONVERGENCE_WINDOW, isConverged, iterationEvidence } from './saturation.js';
import type { LeftoverDraft } from './leftovers.js';
import { freeCalls, TERMINAL_STATUSES, type DraftRecord, type RunStore } from '../state/run-state.js';

export type { RunConfig } from '../domain/run-config.js';

export interface JudgeChunkPlan {
  chunk: number;
  drafts: JudgeDraft[];
}

export interface Flows {
  /** control:dispatch over one generate job per cell (skipped when already added). */
  addGenerate(runId: string, iter: number, cells: GenerateCell[]): Promise<void>;
  /** control:checkpoint over apply ← judge ← render jobs (skipped when already added). */
  addJudge(runId: string, iter: number, chunks: JudgeChunkPlan[], allowPython: boolean, round?: number): Promise<void>;
  /** control:redispatch over one revise job per draft (skipped when already added). */
  addRevise(runId: string, iter: number, round: number, items: RevisePayload[]): Promise<void>;
  addPlan(runId: string, iter: number): Promise<void>;
}

export interface StepDeps {
  vault: string;
  store: RunStore;
  flows: Flows;
  analyze(opts: { strategy: Strategy; total: number; visual: boolean }): Promise<{ report: CoverageReport; markdown: string }>;
  scanMaxIds(): Promise<Record<Track, number>>;
  /** Validates and writes a draft; returns its vault-relative path and the sha256 of its bytes. */
  writeDraft(doc: Record<string, unknown>): Promise<{ relPath: string; fileHash: string }>;
  /** Safe absolute path under the vault. */
  vaultPath(...segments: string[]): string;
  /** Nearest existing vault question (not a draft of this run) by text similarity. */
  vaultNearest(doc: Record<string, unknown>): { id: string; similarity: number } | null;
  /** (Re)loads the vault's near-duplicate index; called once per dispatch. */
  loadNearDup(): Promise<void>;
  /** Starts loading it in the background (the plan step, while generation runs). */
  prefetchNearDup?(): void;
  /** Drafts earlier runs of this vault left unjudged (src/scheduler/leftovers.ts). */
  leftoverDrafts?(exceptRunId: string): Promise<LeftoverDraft[]>;
  /** A draft's document as it is on disk, or null when it no longer parses. */
  readDraft?(relPath: string): Promise<Record<string, unknown> | null>;
  now(): Date;
  log(msg: string, extra?: Record<string, unknown>): void;
}

export const STOP = {
  user: 'stopped by user',
  maxIters: 'max iterations reached',
  budget: 'budget exhausted',
  emptyPlan: 'empty plan',
  gap: (top: number, t: number) => `top priority gap ${top} below threshold ${t}`,
  dropRate: (r: number, m: number) => `DROP rate ${r} exceeds ${m} — likely hallucination`,
  converged: 'same top-priority cell and priority over the two previous iterations — converged',
  leftoversJudged: 'unjudged drafts of earlier runs judged',
  noLeftovers: 'no unjudged drafts to judge',
} as const;

/** Iteration kind of a catch-up iteration (iter_NN of a run that first judged earlier runs' drafts). */
export const CATCH_UP = 'catch-up';

/** How many cells fit: their generation calls and their judge calls within what remains. */
export function sizeIteration(planLength: number, remaining: number, genBatchSize: number, judgeChunkSize: number): number {
  let n = planLength;
  while (n > 0 && Math.ceil(n / genBatchSize) + Math.ceil(n / judgeChunkSize) > remaining) n--;
  return n;
}

/**
 * How many cells the plan step sends to generation: their generate calls, one repair call per
 * generate call as headroom, and their judge calls, within what remains. A draft whose repair
 * finds no budget is lost, and so are the calls spent on it; when not even one cell fits with the
 * headroom, the iteration is sized without it (its judge calls are set aside all the same).
 */
export function sizeWithRepairHeadroom(planLength: number, remaining: number, genBatchSize: number, judgeChunkSize: number): number {
  let n = planLength;
  while (n > 0 && 2 * Math.ceil(n / genBatchSize) + Math.ceil(n / judgeChunkSize) > remaining) n--;
  return n > 0 ? n : sizeIteration(planLength, remaining, genBatchSize, judgeChunkSize);
}

/**
 * The judge calls to set aside for `n` drafts before any of them is generated: one per chunk, plus
 * one retry per chunk (an unparsable verdict answer is asked again) when the budget also leaves
 * one repair call per generate call. Tight budgets favour generation repairs: a draft that fails
 * its repair is never written, so it needs no judge; a written draft always has its judge call.
 */
export function judgeReservation(n: number, remaining: number, genBatchSize: number, judgeChunkSize: number): number {
  const gen = Math.ceil(n / genBatchSize);
  const judge = Math.ceil(n / judgeChunkSize);
  return judge + Math.max(0, Math.min(judge, remaining - 2 * gen - judge));
}

/** Judge chunks of `drafts` drafts. */
export const judgeCalls = (drafts: number, judgeChunkSize: number): number => Math.ceil(drafts / judgeChunkSize);

export async function finishRun(deps: StepDeps, runId: string, reason: string, status: 'completed' | 'stopped' | 'failed' = 'completed'): Promise<void> {
  const run = await deps.store.get(runId);
  const ending = run !== null && !TERMINAL_STATUSES.includes(run.status);
  const base = reason;
  // The records are complete before the run is seen as ended: whoever waits for the status can
  // read loop_summary.json at once. A crash in between leaves the run open; its plan step decides
  // the same stop again.
  if (ending) {
    // Judge chunks still failed make a "completed" run a failed one (src/scheduler/outcome.ts).
    const outcome = finalOutcome(reason, status, (await failedJudgeChunks(deps.store, runId)).length);
    reason = outcome.reason;
    status = outcome.status;
    await deps.store.set(runId, { stopReason: reason, baseStopReason: base, finishedAt: run.finishedAt ?? deps.now().toISOString(), phase: 'finished' });
  }
  const final = ending ? status : (run?.status ?? status);
  await writeLoopSummary(deps.vault, deps.store, runId, final);
  const runJsonPath = join(deps.vault, '_validation_results', 'coverage_loop', runId, 'run.json');
  const runJson = readRecord(RunJsonSchema, runJsonPath);
  const after = await deps.store.get(runId);
  if (runJson && after) await writeRecord(RunJsonSchema, runJsonPath, { ...runJson, status: final, stopped_reason: after.stopReason, finished_at: after.finishedAt });
  if (ending) {
    await deps.store.setStatus(runId, status);
    deps.log('run finished', { runId, reason, status });
  }
}

const isTerminal = async (deps: StepDeps, runId: string) => {
  const r = await deps.store.get(runId);
  return !r || TERMINAL_STATUSES.includes(r.status);
};

export async function planStep(runId: string, iter: number, cfg: RunConfig, deps: StepDeps): Promise<{ decision: string; detail?: Record<string, unknown> }> {
  const { store } = deps;
  if (await isTerminal(deps, runId)) {
    // A repeated plan step after it ended the run reports the same decision.
    const ended = await store.get(runId);
    return ended?.stopReason ? { decision: 'stop', detail: { reason: ended.stopReason } } : { decision: 'run already finished' };
  }
  const run = (await store.get(runId))!;
  await store.set(runId, { iter, phase: 'plan' });
  if (cfg.reviseFrom) return await planRevision(runId, iter, cfg, deps);

  // Stop conditions, in the order of the design: user stop, max iterations, budget, empty plan,
  // gap threshold, DROP rate, convergence.
  if (run.stopRequested) return await stop(STOP.user, 'stopped');
  const remaining = freeCalls(run);
  // Drafts earlier runs left unjudged are judged first, in a catch-up iteration 0 that does not
  // count against maxIters.
  if (iter === 0 && !cfg.dryRun) {
    const caught = await catchUpStep(runId, cfg, deps, remaining);
    if (caught) return caught;
  }
  const catchUp = iter > 0 && (await store.iterGet(runId, 0)).kind === CATCH_UP ? 1 : 0;
  if (cfg.judgeOnly) return await stop(catchUp ? STOP.leftoversJudged : STOP.noLeftovers);
  if (iter - catchUp >= cfg.maxIters) return await stop(STOP.maxIters);
  if (!cfg.dryRun && remaining < 2) return await stop(STOP.budget);

  const visual = cfg.visualEachIter && iter % 2 === 0;
  const ih = await store.iterGet(runId, iter);
  let plan: PlanCell[];
  if (ih.plan) {
    plan = JSON.parse(ih.plan) as PlanCell[];
  } else {
    const { report, markdown } = await deps.analyze({ strategy: cfg.strategy, total: cfg.genBatchSize * cfg.genCallsPerIter, visual });
    const dir = iterDir(deps.vault, runId, iter);
    mkdirSync(dir, { recursive: true });
    await writeJson(join(dir, 'report.json'), report);
    await atomicWrite(join(dir, 'report.md'), markdown);
    plan = JSON.parse(await store.iterSetOnce(runId, iter, 'plan', JSON.stringify(report.recommended_plan))) as PlanCell[];
  }

  if (plan.length === 0) return await stop(STOP.emptyPlan);
  const top = plan[0]!;
  const topCell: [string, string, string] = [top.track, top.zone, top.level];
  await store.iterSet(runId, iter, { topCell: JSON.stringify(topCell), topPriority: top.priority, visual: visual ? '1' : '0' });
  if (top.priority < cfg.gapThreshold) return await stop(STOP.gap(top.priority, cfg.gapThreshold));
  // A catch-up iteration judged other runs' drafts: its DROP rate and top cell say nothing of this plan.
  if (iter - catchUp > 0) {
    const prev = readRecord(IterRecordSchema, join(iterDir(deps.vault, runId, iter - 1), 'iter_record.json'));
    if (prev && prev.drop_rate > cfg.maxDropRate) return await stop(STOP.dropRate(prev.drop_rate, cfg.maxDropRate));
  }
  const earlier = await iterationEvidence(store, runId, Array.from({ length: CONVERGENCE_WINDOW }, (_, k) => iter - 1 - k), cfg.dryRun);
  if (isConverged({ iter, topCell, topPriority: top.priority }, earlier)) return await stop(STOP.converged);

  // Sized once: a second run of this step must not see the reservations of the first one's jobs.
  const sized = cfg.dryRun ? plan.length : sizeWithRepairHeadroom(plan.length, remaining, cfg.genBatchSize, cfg.judgeChunkSize);
  const n = Number(await store.iterSetOnce(runId, iter, 'planSize', String(sized)));
  // What was free when the iteration was sized (a second run of this step sees its judge pool taken).
  const freeAtPlan = Number(await store.iterSetOnce(runId, iter, 'freeAtPlan', String(remaining)));
  if (n === 0) return await stop(STOP.budget);
  // The judge calls of these drafts are set aside before any generate call (once per iteration):
  // generation and its repairs spend only the rest.
  if (!cfg.dryRun) await store.reserveJudge(runId, iter, 'plan', judgeReservation(n, freeAtPlan, cfg.genBatchSize, cfg.judgeChunkSize));
  const cells = plan.slice(0, n);
  await writeJson(join(iterDir(deps.vault, runId, iter), 'plan.json'), cells);
  await store.iterSetOnce(runId, iter, 'startedAt', deps.now().toISOString());

  if (cfg.dryRun) {
    // Dry run: no calls, no drafts; the iteration closes at once.
    await store.iterSetOnce(runId, iter, 'finishedAt', deps.now().toISOString());
    await store.iterSet(runId, iter, { closed: '1' });
    await writeIterationRecords(deps.vault, store, runId, iter);
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
  return { decision: 'generate', detail: { cells: n, remaining: freeAtPlan, topPriority: top.priority } };

  async function stop(reason: string, status: 'completed' | 'stopped' = 'completed') {
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
async function catchUpStep(runId: string, cfg: RunConfig, deps: StepDeps, remaining: number): Promise<{ decision: string; detail?: Record<string, unknown> } | null> {
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
    written.push({ id: d.id, doc, ...(visual ? { visual } : {}), path: d.path, fileHash: d.fileHash, vaultNearest: deps.vaultNearest(doc) });
  }
  const chunks: JudgeChunkPlan[] = [];
  for (let i = 0; i < written.length; i += cfg.judgeChunkSize) chunks.push({ chunk: chunks.length, drafts: written.slice(i, i + cfg.judgeChunkSize) });
  const dir = iterDir(deps.vault, runId, 0);
  mkdirSync(dir, { recursive: true });
  await atomicWrite(join(dir, 'judge_inputs.txt'), written.map((d) => d.path).join('\n') + '\n');
  await store.set(runId, { phase: 'judge' });
  await deps.flows.addJudge(runId, 0, chunks, cfg.allowPythonVisuals);
  const from = [...new Set(adopted.map((d) => d.adoptedFrom ?? ''))].sort();
  deps.log('judging drafts earlier runs left unjudged', { runId, drafts: written.length, from });
  return { decision: 'judge leftovers', detail: { drafts: written.length, chunks: chunks.length, from } };
}

async function readVisualSource(deps: Pick<StepDeps, 'vaultPath'>, files: string[]): Promise<JudgeDraft['visual'] | undefined> {
  const src = files.find((f) => f.endsWith('.dot') || f.endsWith('.py'));
  if (!src) return undefined;
  try {
    return { kind: src.endsWith('.dot') ? 'dot' : 'matplotlib', source: await readFile(deps.vaultPath(src), 'utf8') };
  } catch {
    return undefined;
  }
}

/** Writes the drafts the generate jobs returned and adds the judge flow. */
export async function dispatchStep(
  runId: string,
  iter: number,
  cfg: RunConfig,
  generated: GenerateResult[],
  failures: { cellIndex: number; error: string }[],
  deps: StepDeps,
): Promise<{ decision: string; detail?: Record<string, unknown> }> {
  const { store } = deps;
  if (await isTerminal(deps, runId)) return { decision: 'run already finished' };
  await store.set(runId, { phase: 'dispatch' });
  const cellsFailed = [...failures.map((f) => ({ cell: f.cellIndex, error: f.error }))];
  const written: JudgeDraft[] = [];
  if (generated.length > 0) await deps.loadNearDup();
  const sorted = [...generated].sort((a, b) => a.cellIndex - b.cellIndex);
  // A draft this step already recorded is never written again: when the step runs twice (its
  // completion lost with a Redis restart), apply may have pruned the file in between.
  const known = await store.drafts(runId);
  // Files are written a few at a time (each by temp file + rename); the order of `written` stays
  // the cell order, so chunks are the same whatever finishes first.
  const files = await mapLimit(sorted, 8, async (g) => {
    const rec = known.get(g.draft.id);
    if (rec) return { relPath: rec.path, fileHash: rec.fileHash, track: rec.track, visualFiles: rec.visualFiles };
    try {
      const { relPath, fileHash } = await deps.writeDraft(g.draft.doc);
      const track = String(g.draft.doc.track);
      const visualFiles = g.draft.visual ? [await writeVisualSource(deps, track, g.draft.id, g.draft.visual)] : [];
      return { relPath, fileHash, track, visualFiles };
    } catch (e) {
      return { error: (e as Error).message };
    }
  });
  const records: DraftRecord[] = [];
  sorted.forEach((g, i) => {
    const file = files[i]!;
    if ('error' in file) {
      cellsFailed.push({ cell: g.cellIndex, error: `draft not written: ${file.error}` });
      return;
    }
    const chunk = Math.floor(written.length / cfg.judgeChunkSize);
    written.push({ id: g.draft.id, doc: g.draft.doc, ...(g.draft.visual ? { visual: g.draft.visual } : {}), path: file.relPath, fileHash: file.fileHash, vaultNearest: deps.vaultNearest(g.draft.doc) });
    const notes = g.notes ?? [];
    records.push({ id: g.draft.id, iter, cellIndex: g.cellIndex, chunk, path: file.relPath, fileHash: file.fileHash, track: file.track, visualFiles: file.visualFiles, ...(notes.length ? { notes } : {}) });
    if (notes.length) deps.log('model answer adjusted', { runId, iter, id: g.draft.id, notes });
  });
  // The pre-judge runs before chunking, so the drafts it drops leave the model's chunks.
  const { chunks, dropped, saved } = prejudgeChunks(written, cfg.judgeChunkSize, deps);
  const chunkOf = new Map(chunks.flatMap((c) => c.drafts.map((d) => [d.id, c.chunk] as const)));
  for (const r of records) r.chunk = chunkOf.get(r.id) ?? r.chunk;
  // Outside the per-file try: a Redis error here is no failure of a cell (its file is written) but
  // of this step, which is retried and writes the same bytes again.
  await store.putDrafts(runId, records);
  cellsFailed.sort((a, b) => a.cell - b.cell);
  await store.iterSet(runId, iter, { cellsFailed: JSON.stringify(cellsFailed), generated: written.length, prejudgeDropped: dropped, callsSaved: saved });
  const dir = iterDir(deps.vault, runId, iter);
  if (written.length > 0) await atomicWrite(join(dir, 'judge_inputs.txt'), written.map((d) => d.path).join('\n') + '\n');

  // Fewer drafts than planned need fewer judge calls: the surplus goes back to the run (the retry
  // headroom stays, at most one call per chunk).
  await store.releaseJudge(runId, iter, 2 * chunks.length);
  await store.set(runId, { phase: 'judge' });
  await deps.flows.addJudge(runId, iter, chunks, cfg.allowPythonVisuals);
  return { decision: 'judge', detail: { drafts: written.length, failed: cellsFailed.length, chunks: chunks.length, prejudgeDropped: dropped, callsSaved: saved } };
}

/**
 * Closes one judging round of an iteration. With `revise` on and rounds left, NEEDS_FIX drafts of
 * this round go to revision (and back to judging) first; otherwise the iteration's records are
 * written and the next plan (which checks the stop conditions) is added, or the run ends.
 */
export async function checkpointStep(runId: string, iter: number, round: number, cfg: RunConfig, deps: StepDeps): Promise<{ decision: string; detail?: Record<string, unknown> }> {
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
  const record = await writeIterationRecords(deps.vault, store, runId, iter);
  if (await isTerminal(deps, runId)) {
    await writeLoopSummary(deps.vault, store, runId);
    return { decision: 'run already finished' };
  }
  const after = (await store.get(runId))!;
  if (after.stopRequested) {
    await finishRun(deps, runId, STOP.user, 'stopped');
    return { decision: 'stop', detail: { reason: STOP.user } };
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

/** NEEDS_FIX drafts judged in `round` of this iteration, kept, and unchanged since judging. */
export async function revisionCandidates(runId: string, iter: number, round: number, deps: Pick<StepDeps, 'store' | 'vaultPath'>): Promise<Omit<RevisePayload, 'round'>[]> {
  const [verdicts, drafts] = await Promise.all([deps.store.verdicts(runId), deps.store.drafts(runId)]);
  const out: Omit<RevisePayload, 'round'>[] = [];
  for (const v of [...verdicts.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    // NEEDS_FIX drafts nobody reviewed yet, and any kept draft a person sent to revision.
    const wanted = v.review ? v.review.action === 'sent-to-revision' : v.verdict === 'NEEDS_FIX';
    if (v.iter !== iter || (v.round ?? 0) !== round || !wanted || v.applied !== 'kept') continue;
    const rec = drafts.get(v.id);
    let bytes: Buffer;
    try {
      bytes = await readFile(deps.vaultPath(v.path));
    } catch {
      continue;
    }
    if (sha256(bytes) !== v.fileHash) continue; // edited by hand since judging: never overwritten
    const { doc } = parseQuestionText(bytes.toString('utf8'), v.path);
    if (!doc) continue;
    let visual: RevisePayload['draft']['visual'];
    const src = rec?.visualFiles.find((f) => f.endsWith('.dot') || f.endsWith('.py'));
    if (src) {
      try {
        visual = { kind: src.endsWith('.dot') ? 'dot' : 'matplotlib', source: await readFile(deps.vaultPath(src), 'utf8') };
      } catch {
        visual = undefined;
      }
    }
    out.push({ runId, iter, draft: { id: v.id, doc, ...(visual ? { visual } : {}), path: v.path, fileHash: v.fileHash }, issues: v.issues, fix_suggestion: v.fix_suggestion });
  }
  return out;
}

/**
 * Writes the revised drafts — only where the file still has the hash that was judged — and adds
 * the judging of the revision round.
 */
export async function redispatchStep(
  runId: string,
  iter: number,
  round: number,
  cfg: RunConfig,
  revised: ReviseResult[],
  failures: { id: string; error: string }[],
  deps: StepDeps,
): Promise<{ decision: string; detail?: Record<string, unknown> }> {
  const { store } = deps;
  const [verdicts, drafts] = await Promise.all([store.verdicts(runId), store.drafts(runId)]);
  const written: JudgeDraft[] = [];
  const skipped: { id: string; reason: string }[] = failures.map((f) => ({ id: f.id, reason: `revision failed: ${f.error}` }));
  if (revised.length > 0) await deps.loadNearDup();
  for (const r of [...revised].sort((a, b) => a.id.localeCompare(b.id))) {
    const v = verdicts.get(r.id);
    const rec = drafts.get(r.id);
    if (!v || !rec) {
      skipped.push({ id: r.id, reason: 'no verdict or draft record' });
      continue;
    }
    let current: Buffer | null = null;
    try {
      current = await readFile(deps.vaultPath(v.path));
    } catch {
      current = null;
    }
    // The file must still be what was judged (or, when this step runs twice, what it wrote).
    if (current === null || (sha256(current) !== v.fileHash && sha256(current) !== rec.fileHash)) {
      skipped.push({ id: r.id, reason: current === null ? 'file gone' : 'file changed since it was judged; not overwritten' });
      continue;
    }
    const { relPath, fileHash } = await deps.writeDraft(r.draft.doc);
    if (r.draft.visual && r.draft.visual.kind !== 'svg') await writeVisualSource(deps, String(r.draft.doc.track), r.id, r.draft.visual);
    const chunk = Math.floor(written.length / cfg.judgeChunkSize);
    written.push({ id: r.id, doc: r.draft.doc, ...(r.draft.visual ? { visual: r.draft.visual } : {}), path: relPath, fileHash, vaultNearest: deps.vaultNearest(r.draft.doc) });
    await store.putDraft(runId, r.id, { ...rec, path: relPath, fileHash, chunk });
  }
  const prev = JSON.parse((await store.iterGet(runId, iter)).revisionsSkipped ?? '[]') as { id: string; reason: string }[];
  const merged = [...prev.filter((p) => !skipped.some((s) => s.id === p.id)), ...skipped];
  await store.iterSet(runId, iter, { revisionsSkipped: JSON.stringify(merged), [`revised_r${round}`]: written.length });
  const chunks: JudgeChunkPlan[] = [];
  for (let i = 0; i < written.length; i += cfg.judgeChunkSize) chunks.push({ chunk: chunks.length, drafts: written.slice(i, i + cfg.judgeChunkSize) });
  await store.releaseJudge(runId, iter, 2 * chunks.length);
  await store.set(runId, { phase: 'judge' });
  await deps.flows.addJudge(runId, iter, chunks, cfg.allowPythonVisuals, round);
  return { decision: 'judge revisions', detail: { revised: written.length, skipped: skipped.length, round } };
}

export const REVISION_DONE = 'revision complete';

/**
 * The one iteration of a revision run: the NEEDS_FIX drafts an earlier run left (their files
 * unchanged since judging) become this run's round-0 verdicts, and go to revision.
 */
async function planRevision(runId: string, iter: number, cfg: RunConfig, deps: StepDeps): Promise<{ decision: string; detail?: Record<string, unknown> }> {
  const { store } = deps;
  const source = cfg.reviseFrom!;
  if (iter > 0) {
    await finishRun(deps, runId, REVISION_DONE);
    return { decision: 'stop', detail: { reason: REVISION_DONE } };
  }
  const run = (await store.get(runId))!;
  if (run.stopRequested) {
    await finishRun(deps, runId, STOP.user, 'stopped');
    return { decision: 'stop', detail: { reason: STOP.user } };
  }
  if (!(await store.iterGet(runId, 0)).seeded) {
    const latest = new Map<string, JudgeSummary['details'][number]>();
    const sourceDir = join(deps.vault, '_validation_results', 'coverage_loop', source);
    for (let i = 0; existsSync(join(sourceDir, iterDirName(i))); i++) {
      const js = readRecord(JudgeSummarySchema, join(sourceDir, iterDirName(i), 'judge_summary.json'));
      for (const d of js?.details ?? []) latest.set(d.id, d);
    }
    const now = deps.now().toISOString();
    for (const d of latest.values()) {
      const wanted = d.review ? d.review.action === 'sent-to-revision' : d.verdict === 'NEEDS_FIX';
      if (!wanted || d.applied !== 'kept') continue;
      const track = String(d.path.split('/')[1] ?? '');
      const visualFiles = ['dot', 'py'].map((ext) => `visuals/${track}/${d.id}.${ext}`).filter((f) => existsSync(deps.vaultPath(f)));
      await store.putDraft(runId, d.id, { id: d.id, iter: 0, cellIndex: -1, chunk: 0, path: d.path, fileHash: d.file_hash, track, visualFiles });
      await store.putVerdict(runId, d.id, { ...d, fileHash: d.file_hash, iter: 0, chunk: 0, round: 0, history: d.history ?? [], late: false, appliedAt: d.appliedAt ?? now });
    }
    await store.iterSet(runId, 0, { seeded: '1', startedAt: now });
  }
  const candidates = await revisionCandidates(runId, 0, 0, deps);
  // What this revision run plans is its candidates, not every verdict it read.
  await store.iterSetOnce(runId, 0, 'planSize', String(candidates.length));
  mkdirSync(iterDir(deps.vault, runId, 0), { recursive: true });
  await writeJson(join(iterDir(deps.vault, runId, 0), 'plan.json'), candidates.map((c) => ({ id: c.draft.id, path: c.draft.path, issues: c.issues, fix_suggestion: c.fix_suggestion })));
  const remaining = freeCalls(run);
  const n = sizeIteration(candidates.length, remaining, cfg.genBatchSize, cfg.judgeChunkSize);
  if (candidates.length === 0) {
    await finishRun(deps, runId, `nothing to revise: run ${source} left no unchanged NEEDS_FIX drafts`);
    return { decision: 'stop' };
  }
  if (n === 0) return await (async () => (await finishRun(deps, runId, STOP.budget), { decision: 'stop', detail: { reason: STOP.budget } }))();
  await store.reserveJudge(runId, 0, 'r1', judgeReservation(n, remaining, cfg.genBatchSize, cfg.judgeChunkSize));
  await store.set(runId, { phase: 'revise' });
  await deps.flows.addRevise(runId, 0, 1, candidates.slice(0, n).map((c) => ({ ...c, round: 1 })));
  return { decision: 'revise', detail: { drafts: n, candidates: candidates.length } };
}

/**
 * Judge chunks after the pre-judge: first the drafts that need the model, in order, then the ones
 * it dropped for certain (their chunks are applied with no model call). Returns how many it
 * dropped and the judge calls that saved against chunking everything.
 */
export function prejudgeChunks(drafts: JudgeDraft[], chunkSize: number, deps: Pick<StepDeps, 'vaultNearest'>): { chunks: JudgeChunkPlan[]; dropped: number; saved: number } {
  const { dropped, toJudge } = prejudge(drafts, { nearest: (doc) => deps.vaultNearest(doc) });
  const strip = ({ report: _report, ...d }: (typeof toJudge)[number]): JudgeDraft => d;
  const chunks: JudgeChunkPlan[] = [];
  for (const group of [toJudge.map(strip), dropped.map(strip)]) {
    for (let i = 0; i < group.length; i += chunkSize) chunks.push({ chunk: chunks.length, drafts: group.slice(i, i + chunkSize) });
  }
  return { chunks, dropped: dropped.length, saved: callsSaved(drafts.length, toJudge.length, chunkSize) };
}

/** Maps with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Writes a draft's visual source to visuals/<track>/<id>.{dot,py,svg}; returns its vault-relative path. */
async function writeVisualSource(deps: Pick<StepDeps, 'vaultPath'>, track: string, id: string, visual: { kind: 'dot' | 'matplotlib' | 'svg'; source: string }): Promise<string> {
  const rel = ['visuals', track, `${id}.${visual.kind === 'matplotlib' ? 'py' : visual.kind}`];
  const abs = deps.vaultPath(...rel);
  mkdirSync(dirname(abs), { recursive: true });
  await atomicWrite(abs, visual.source);
  return rel.join('/');
}
