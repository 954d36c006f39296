/**
 * The run's records on disk, always rendered from the state in Redis so a rewrite (a late judge
 * result, a resumed host) gives the same files:
 *   <vault>/_validation_results/coverage_loop/<runId>/run.json, iter_NN/…, loop_summary.json
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { z } from 'zod';
import { atomicWrite } from '../corpus/writer.js';
import { IterRecordSchema, JudgeSummarySchema, LoopSummarySchema, type IterRecord, type LoopSummary } from '../domain/records.js';
import { buildIterationRecords, buildLoopSummary, prejudgeCallsSaved } from '../core/records.js';
export { passCost, prejudgeCallsSaved, type PassCost } from '../core/records.js';

export type { IterRecord, JudgeSummary, LoopSummary } from '../domain/records.js';
import type { RunStore } from '../state/run-state.js';

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
  const { summary, record, writeSummary, writeRecord: writeIter } = await buildIterationRecords(store, runId, iter);
  const dir = iterDir(vault, runId, iter);
  mkdirSync(dir, { recursive: true });
  if (writeSummary) await writeRecord(JudgeSummarySchema, join(dir, 'judge_summary.json'), summary);
  // The iteration's record exists once its checkpoint ran; a late apply rewrites it.
  if (writeIter) await writeRecord(IterRecordSchema, join(dir, 'iter_record.json'), record);
  return record;
}

/** Writes loop_summary.json from the iteration records that exist. */
export async function writeLoopSummary(vault: string, store: RunStore, runId: string, status?: string): Promise<LoopSummary> {
  const history: IterRecord[] = [];
  for (let i = 0; ; i++) {
    const dir = iterDir(vault, runId, i);
    if (!existsSync(dir)) break;
    const rec = readRecord(IterRecordSchema, join(dir, 'iter_record.json'));
    if (rec) history.push(rec);
  }
  const summary = await buildLoopSummary(store, vault, runId, history, status);
  await writeRecord(LoopSummarySchema, join(runDir(vault, runId), 'loop_summary.json'), summary);
  return summary;
}
