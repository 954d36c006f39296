/**
 * The run's records on disk, always rendered from the state in Redis so a rewrite (a late judge
 * result, a resumed host) gives the same files:
 *   <vault>/_validation_results/coverage_loop/<runId>/run.json, iter_NN/…, loop_summary.json
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { z } from 'zod';
import { atomicWrite } from '../corpus/writer.js';
import { IterRecordSchema, JudgeSummarySchema, LoopSummarySchema, type IterRecord, type JudgeSummary, type LoopSummary } from '../domain/records.js';
import { continueCommand, failedJudgeChunks } from './outcome.js';

export type { IterRecord, JudgeSummary, LoopSummary } from '../domain/records.js';
import type { RunStore, UnjudgedRecord } from '../state/run-state.js';

export const LOOP_DIR = join('_validation_results', 'coverage_loop');

export const runDir = (vault: string, runId: string): string => join(vault, LOOP_DIR, runId);
export const iterDirName = (iter: number): string => `iter_${String(iter).padStart(2, '0')}`;
export const iterDir = (vault: string, runId: string, iter: number): string => join(runDir(vault, runId), iterDirName(iter));

export async function writeJson(path: string, value: unknown): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await atomicWrite(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** A record file written through its schema (src/domain/records.ts): what does not fit is an error, not a file. */
export async function writeRecord<S extends z.ZodType>(schema: S, path: string, value: z.output<S>): Promise<void> {
  const r = schema.safeParse(value);
  if (!r.success) throw recordProblem(path, r.error, 'not written');
  // The value as built (its key order), not zod's copy: rewriting the same state gives the same bytes.
  await writeJson(path, value);
}

/** A record file read through its schema; null when absent. A file that does not fit names its field. */
export function readRecord<S extends z.ZodType>(schema: S, path: string): z.output<S> | null {
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw recordProblem(path, r.error, 'not read');
  return r.data;
}

function recordProblem(path: string, error: z.ZodError, what: string): Error {
  const first = error.issues[0]!;
  return new Error(`${path}: at ${first.path.join('.') || '(top level)'}: ${first.message} (${what})`);
}

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

/** The run's pre-judge savings, summed over its iteration records on disk. */
export function runPrejudgeCallsSaved(vault: string, runId: string): number {
  let n = 0;
  for (let i = 0; existsSync(iterDir(vault, runId, i)); i++) {
    const rec = readRecord(IterRecordSchema, join(iterDir(vault, runId, i), 'iter_record.json'));
    if (rec) n += prejudgeCallsSaved(rec);
  }
  return n;
}

/** Builds (and writes) judge_summary.json and iter_record.json of one iteration from Redis. */
export async function writeIterationRecords(vault: string, store: RunStore, runId: string, iter: number): Promise<IterRecord> {
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
  const dir = iterDir(vault, runId, iter);
  mkdirSync(dir, { recursive: true });
  if (generated > 0) await writeRecord(JudgeSummarySchema, join(dir, 'judge_summary.json'), summary);

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
  // The iteration's record exists once its checkpoint ran; a late apply rewrites it.
  if (ih.closed === '1') await writeRecord(IterRecordSchema, join(dir, 'iter_record.json'), record);
  return record;
}

/** Writes loop_summary.json from the iteration records that exist. */
export async function writeLoopSummary(vault: string, store: RunStore, runId: string, status?: string): Promise<LoopSummary> {
  const run = await store.get(runId);
  if (!run) throw new Error(`run ${runId} not found in Redis`);
  const history: IterRecord[] = [];
  for (let i = 0; ; i++) {
    const dir = iterDir(vault, runId, i);
    if (!existsSync(dir)) break;
    const rec = readRecord(IterRecordSchema, join(dir, 'iter_record.json'));
    if (rec) history.push(rec);
  }
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
  await writeRecord(LoopSummarySchema, join(runDir(vault, runId), 'loop_summary.json'), summary);
  return summary;
}
