/**
 * The dispatch step: writes the drafts the generate jobs returned (a draft already recorded is
 * never written again), pre-judges them, cuts the judge chunks and adds the judge flow.
 */
import { callsSaved, prejudge } from '../checks/prejudge.js';
import type { Draft, DraftRecord, JudgeDraft } from '../domain/draft.js';
import type { RunConfig } from '../domain/run-config.js';
import type { GenerateResult } from '../queues/generate.js';
import { isTerminal, mapLimit, writeVisualSource, type StepDeps, type StepResult } from './control.js';
import type { JudgeChunkPlan } from './ports.js';

/** What the child jobs of a stage gave back: the results that parsed, and the failed children's errors. */
export interface ChildOutcomes<R, K> {
  results: R[];
  failures: (K & { error: string })[];
}

/** Writes the drafts the generate jobs returned and adds the judge flow. */
export async function dispatchStep(runId: string, iter: number, cfg: RunConfig, children: ChildOutcomes<GenerateResult, { cellIndex: number }>, deps: StepDeps): Promise<StepResult> {
  const { store } = deps;
  const { results: generated, failures } = children;
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
    written.push(forJudge(deps, g.draft.id, g.draft, file.relPath, file.fileHash));
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
  if (written.length > 0) await deps.records.writeIterText(runId, iter, 'judge_inputs.txt', written.map((d) => d.path).join('\n') + '\n');

  await startJudging(deps, runId, iter, 0, cfg, chunks);
  return { decision: 'judge', detail: { drafts: written.length, failed: cellsFailed.length, chunks: chunks.length, prejudgeDropped: dropped, callsSaved: saved } };
}

/** A written draft as the judge gets it: where it was written, and its nearest vault question. */
export function forJudge(deps: Pick<StepDeps, 'vaultNearest'>, id: string, draft: Draft, path: string, fileHash: string): JudgeDraft {
  return { id, doc: draft.doc, ...(draft.visual ? { visual: draft.visual } : {}), path, fileHash, vaultNearest: deps.vaultNearest(draft.doc) };
}

/**
 * Hands the chunks of `round` to the judge. Fewer drafts than planned need fewer judge calls: the
 * surplus goes back to the run (the retry headroom stays, at most one call per chunk).
 */
export async function startJudging(deps: StepDeps, runId: string, iter: number, round: number, cfg: RunConfig, chunks: JudgeChunkPlan[]): Promise<void> {
  await deps.store.releaseJudge(runId, iter, 2 * chunks.length);
  await deps.store.set(runId, { phase: 'judge' });
  await deps.flows.addJudge(runId, iter, chunks, cfg.allowPythonVisuals, round);
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
