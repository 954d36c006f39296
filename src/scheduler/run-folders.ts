/**
 * The one reader of the run folders on disk (run.json, iter_NN/judge_summary.json) for the tools
 * that act on recorded runs (promote, revise). The latest run is the one with the latest `started_at`, never the newest mtime
 * (SEED-SPEC §11 bug 1: mtime picks the wrong directory when runs overlap or a step crashes).
 */
import { existsSync, readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { JudgeVerdictsSchema, RunJsonSchema, type JudgeVerdicts } from '../domain/records.js';
import { CorpusFileError } from '../errors.js';
import { LOOP_DIR } from './records.js';

/** The folder of the run folders, relative to the vault. */
export const RUNS_DIR = LOOP_DIR;
const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const ITER_RE = /^iter_(\d+)$/;

/** One verdict of a judge summary as promote and export read it. */
export type JudgeDetail = JudgeVerdicts['details'][number];

export interface RunInfo {
  runId: string;
  dir: string;
  startedAt: string;
  judgeModel?: string;
}

export interface RunVerdict extends JudgeDetail {
  /** The iteration whose judge summary gave this (latest) verdict. */
  iter: number;
  /** The judge's model for this item: the detail's own, else the summary's, else run.json's. */
  judgeModel: string;
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CorpusFileError(path, `not valid JSON: ${(e as Error).message}`);
  }
}

function zodProblem(path: string, error: z.ZodError): CorpusFileError {
  const first = error.issues[0]!;
  return new CorpusFileError(path, `at ${first.path.join('.') || '(top level)'}: ${first.message}`);
}

export function isRunId(s: string): boolean {
  return RUN_ID_RE.test(s);
}

export async function readRunInfo(vaultDir: string, runId: string): Promise<RunInfo> {
  if (!isRunId(runId)) throw new CorpusFileError(RUNS_DIR, `run id ${JSON.stringify(runId)} is not a run folder name`);
  const dir = join(vaultDir, RUNS_DIR, runId);
  const file = join(dir, 'run.json');
  let raw: unknown;
  try {
    raw = await readJson(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CorpusFileError(file, 'no such run (run.json missing)');
    throw e;
  }
  const r = RunJsonSchema.safeParse(raw);
  if (!r.success) throw zodProblem(file, r.error);
  return { runId, dir, startedAt: r.data.started_at, judgeModel: r.data.judge?.model };
}

/** Every run with a readable run.json, oldest first; unreadable ones come back as problems. */
export async function listRuns(vaultDir: string): Promise<{ runs: RunInfo[]; problems: string[] }> {
  let names: string[];
  try {
    names = (await readdir(join(vaultDir, RUNS_DIR), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], problems: [] };
    throw e;
  }
  const runs: RunInfo[] = [];
  const problems: string[] = [];
  for (const name of names.filter(isRunId)) {
    try {
      runs.push(await readRunInfo(vaultDir, name));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  // Ties on started_at (same second) fall back to the run id, whose -2/-3 suffixes order them.
  runs.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  return { runs, problems };
}

/** The iteration folders (iter_NN) of a run folder, in iteration order; none when the folder is missing. */
export function iterFolders(runDir: string): { name: string; n: number }[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ITER_RE.test(d.name))
    .map((d) => ({ name: d.name, n: Number(ITER_RE.exec(d.name)![1]) }))
    .sort((a, b) => a.n - b.n);
}

/**
 * The run's final verdict per draft id: iterations in order, a later judgement of the same id
 * replacing an earlier one (a re-judged draft counts by its latest verdict only).
 */
export async function readRunVerdicts(run: RunInfo): Promise<RunVerdict[]> {
  const iters = iterFolders(run.dir);
  const byId = new Map<string, RunVerdict>();
  for (const it of iters) {
    const file = join(run.dir, it.name, 'judge_summary.json');
    let raw: unknown;
    try {
      raw = await readJson(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const r = JudgeVerdictsSchema.safeParse(raw);
    if (!r.success) throw zodProblem(file, r.error);
    for (const d of r.data.details) {
      byId.delete(d.id);
      byId.set(d.id, { ...d, iter: it.n, judgeModel: d.model ?? r.data.model ?? run.judgeModel ?? 'unknown' });
    }
  }
  return [...byId.values()];
}
