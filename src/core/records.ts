/**
 * The run's record files as the run's state says they are (src/domain/records.ts): built here,
 * pure of any file system; the records port writes them (src/scheduler/records.ts on disk, the
 * in-memory port in src/core/memory.ts). Rewriting the same state gives the same records.
 */
import type { IterRecord, JudgeSummary, LoopSummary } from '../domain/records.js';
import type { UnjudgedRecord } from '../domain/verdict.js';
import { continueCommand, failedJudgeChunks } from './outcome.js';
import type { RunStorePort } from './ports.js';

const rate = (n: number, d: number): number => Number((n / Math.max(d, 1)).toFixed(4));

/**
 * What an accepted question cost: provider calls and dollars per PASS draft (what a maintainer
 * pays for). Null while there is no PASS draft.
 */
export interface PassCost {
  calls_per_pass: number | null;
  cost_per_pass_usd: number | null;
}

export function passCost(pass: number, calls: number, costUsd: number): PassCost {
  if (pass <= 0) return { calls_per_pass: null, cost_per_pass_usd: null };
  return { calls_per_pass: Number((calls / pass).toFixed(3)), cost_per_pass_usd: Number((costUsd / pass).toFixed(6)) };
}

/**
 * Calls the deterministic pre-judge saved, as its own records state them (`prejudge.calls_saved`
 * in iter_record.json); 0 where a record does not carry the field.
 */
export function prejudgeCallsSaved(rec: { prejudge?: { calls_saved?: unknown } }): number {
  const v = rec.prejudge?.calls_saved;
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * judge_summary.json and iter_record.json of one iteration, from the run's state. `writeSummary`:
 * the iteration wrote drafts; `writeRecord`: its checkpoint ran (a late apply rewrites both).
 */
export async function buildIterationRecords(
  store: Pick<RunStorePort, 'iterGet' | 'verdicts' | 'unjudged' | 'drafts' | 'get'>,
  runId: string,
  iter: number,
): Promise<{ summary: JudgeSummary; record: IterRecord; writeSummary: boolean; writeRecord: boolean }> {
  const [ih, allVerdicts, allUnjudged, allDrafts] = await Promise.all([store.iterGet(runId, iter), store.verdicts(runId), store.unjudged(runId), store.drafts(runId)]);
  const earlier = await Promise.all(Array.from({ length: iter }, (_, k) => store.iterGet(runId, k)));
  const verdicts = [...allVerdicts.values()].filter((v) => v.iter === iter).sort((a, b) => a.id.localeCompare(b.id));
  const unjudged: UnjudgedRecord[] = [...allUnjudged.values()].filter((u) => u.iter === iter).sort((a, b) => a.id.localeCompare(b.id));
  const iterDrafts = [...allDrafts.values()].filter((d) => d.iter === iter).sort((a, b) => a.id.localeCompare(b.id));
  const generated = iterDrafts.length;
  const count = (v: string) => verdicts.filter((x) => x.verdict === v).length;
  const judgedModels = [...new Set(verdicts.filter((v) => v.source === 'model').map((v) => v.model))];
  const summary: JudgeSummary = {
    // Nothing judged (every chunk failed): the model that was asked, never an empty name.
    model: judgedModels.join(', ') || (verdicts.length ? 'prejudge' : `${(await store.get(runId))?.judge.model ?? 'unknown'} (nothing judged)`),
    n_items: verdicts.length + unjudged.length,
    n_judged: verdicts.length,
    verdicts: { PASS: count('PASS'), NEEDS_FIX: count('NEEDS_FIX'), DROP: count('DROP') },
    drop_rate: rate(count('DROP'), verdicts.length),
    pass_rate: rate(count('PASS'), verdicts.length),
    details: verdicts.map(({ fileHash, ...rest }) => ({ ...rest, file_hash: fileHash })),
    unjudged: unjudged.map((u) => ({ id: u.id, path: u.path, reason: u.reason })),
    // Derived from the state, not the clock, so rewriting the same state gives the same file.
    generated_at: [ih.finishedAt ?? '', ...verdicts.map((v) => v.appliedAt)].sort().at(-1) || new Date().toISOString(),
  };
  const topCell = ih.topCell ? (JSON.parse(ih.topCell) as [string, string, string]) : null;
  const startedAt = ih.startedAt ?? null;
  const finishedAt = ih.finishedAt ?? null;
  const record: IterRecord = {
    iter,
    kind: ih.kind === 'catch-up' ? 'catch-up' : 'generate',
    top_cell: topCell,
    top_priority: ih.topPriority !== undefined ? Number(ih.topPriority) : null,
    generated,
    // Calls through this iteration (its own and every earlier one's, late retries included): the
    // run's total when the iteration closed, and still true when a late apply rewrites the record.
    calls_used_total: earlier.reduce((n, h) => n + Number(h.callsUsed ?? 0), Number(ih.callsUsed ?? 0)),
    drop_rate: summary.drop_rate,
    pass_rate: summary.pass_rate,
    applied: {
      dropped: verdicts.filter((v) => v.applied === 'pruned').length,
      kept_pass: verdicts.filter((v) => v.verdict === 'PASS').length,
      kept_needs_fix: verdicts.filter((v) => v.verdict === 'NEEDS_FIX').length,
    },
    plan_size: Number(ih.planSize ?? 0),
    cells_failed: ih.cellsFailed ? (JSON.parse(ih.cellsFailed) as IterRecord['cells_failed']) : [],
    unjudged: unjudged.length,
    skipped_changed: verdicts.filter((v) => v.applied === 'skipped-changed').length,
    calls_used_iter: Number(ih.callsUsed ?? 0),
    tokens: { input: Number(ih.tokensIn ?? 0), output: Number(ih.tokensOut ?? 0), cached: Number(ih.tokensCached ?? 0) },
    cost_usd: Number(Number(ih.costUsd ?? 0).toFixed(6)),
    visual: ih.visual === '1',
    started_at: startedAt,
    finished_at: finishedAt,
    wall_ms: startedAt && finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : null,
    late_applied: verdicts.filter((v) => v.late).length,
    generation_notes: iterDrafts.filter((d) => d.notes?.length).map((d) => ({ id: d.id, notes: d.notes! })),
    revisions: {
      revised: verdicts.filter((v) => (v.round ?? 0) > 0).length,
      skipped: ih.revisionsSkipped ? (JSON.parse(ih.revisionsSkipped) as { id: string; reason: string }[]) : [],
      verdicts_before: {
        PASS: verdicts.filter((v) => (v.history?.[0]?.verdict ?? v.verdict) === 'PASS').length,
        NEEDS_FIX: verdicts.filter((v) => (v.history?.[0]?.verdict ?? v.verdict) === 'NEEDS_FIX').length,
        DROP: verdicts.filter((v) => (v.history?.[0]?.verdict ?? v.verdict) === 'DROP').length,
      },
    },
    ...passCost(count('PASS'), Number(ih.callsUsed ?? 0), Number(ih.costUsd ?? 0)),
    prejudge: { dropped: Number(ih.prejudgeDropped ?? 0), calls_saved: Number(ih.callsSaved ?? 0) },
  };
  return { summary, record, writeSummary: generated > 0, writeRecord: ih.closed === '1' };
}

/** loop_summary.json from the run's state and the iteration records that exist (`history`). */
export async function buildLoopSummary(store: Pick<RunStorePort, 'get' | 'unjudged'>, vault: string, runId: string, history: IterRecord[], status?: string): Promise<LoopSummary> {
  const run = await store.get(runId);
  if (!run) throw new Error(`run ${runId} not found in Redis`);
  const failed = await failedJudgeChunks(store, runId);
  const summary: LoopSummary = {
    run_id: runId,
    status: status ?? run.status,
    iterations: history.length,
    calls_used_total: run.callsUsed,
    calls_reserved: run.callsReserved,
    calls_saved_total: history.reduce((n, h) => n + prejudgeCallsSaved(h), 0),
    max_calls: run.maxCalls,
    tokens: { input: run.tokensIn, output: run.tokensOut, cached: run.tokensCached ?? 0 },
    cost_usd: Number(run.costUsd.toFixed(6)),
    passes: history.reduce((n, h) => n + h.applied.kept_pass, 0),
    ...passCost(history.reduce((n, h) => n + h.applied.kept_pass, 0), run.callsUsed, run.costUsd),
    history,
    stopped_reason: run.stopReason,
    failed_judge_chunks: failed,
    continue_with: (status ?? run.status) === 'failed' || failed.length > 0 ? continueCommand(vault, runId, run.stopReason, failed.length) : null,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    wall_ms: run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : null,
    generated_at: [run.finishedAt ?? '', ...history.map((h) => h.finished_at ?? '')].sort().at(-1) || new Date().toISOString(),
  };
  return summary;
}
