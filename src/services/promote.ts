/**
 * `vault-loop promote`: the PASS drafts of ONE run (`runId`), or of every run not promoted yet,
 * become published. The runs and their latest verdicts come from the run folders on disk
 * (src/scheduler/run-folders.ts); the hash-guarded rewrite of each draft is src/release/promote.ts.
 */
import { join } from 'node:path';
import { CorpusFileError } from '../errors.js';
import { markPromoted, promotedAt, promoteVerdicts, type PromoteRow } from '../release/promote.js';
import { listRuns, readRunInfo, readRunVerdicts, RUNS_DIR, type RunInfo, type RunVerdict } from '../scheduler/run-folders.js';

export interface PromoteOptions {
  runId?: string;
  dryRun?: boolean;
  now?: Date;
}

export interface PromoteReport {
  /** The last run read (the only one with `--run`). */
  run: RunInfo;
  /** Every run whose verdicts were read, oldest first (a later run's verdict on a draft wins). */
  runs: RunInfo[];
  /** Runs left out without `--run`: promoted before (their promoted.json says when). */
  skippedRuns: { runId: string; reason: string }[];
  dryRun: boolean;
  rows: PromoteRow[];
  /** Verdicts other than PASS in the run (not promoted), by verdict. */
  notPass: Record<string, number>;
}

/**
 * Promotes the PASS (and accepted) drafts of one run (`runId`), or of every run not promoted yet,
 * oldest first; when several runs judged the same draft (a revision run re-judging a loop run's
 * NEEDS_FIX), the latest verdict counts.
 */
export async function promoteRun(vaultDir: string, opts: PromoteOptions = {}): Promise<PromoteReport> {
  const runs: RunInfo[] = [];
  const skippedRuns: PromoteReport['skippedRuns'] = [];
  if (opts.runId !== undefined) {
    runs.push(await readRunInfo(vaultDir, opts.runId));
  } else {
    const { runs: all, problems } = await listRuns(vaultDir);
    if (all.length === 0) {
      throw new CorpusFileError(join(vaultDir, RUNS_DIR), `no run with a readable run.json${problems.length ? ` (${problems[0]})` : ''}`);
    }
    for (const r of all) {
      const at = await promotedAt(r.dir);
      if (at) skippedRuns.push({ runId: r.runId, reason: `already promoted (${at}); promote it again with --run ${r.runId}` });
      else runs.push(r);
    }
  }
  const byId = new Map<string, RunVerdict>();
  for (const r of runs) for (const v of await readRunVerdicts(r)) byId.set(v.id, v);
  const now = opts.now ?? new Date();
  const dryRun = opts.dryRun ?? false;
  const { rows, notPass } = await promoteVerdicts(vaultDir, [...byId.values()], { today: now.toISOString().slice(0, 10), dryRun });
  if (!dryRun) {
    // The first promotion is what the marker records: running again changes no file.
    const promoted = rows.filter((x) => x.result === 'promoted').length;
    for (const r of runs) await markPromoted(r.dir, now.toISOString(), promoted);
  }
  const last = runs.at(-1) ?? (await readRunInfo(vaultDir, skippedRuns.at(-1)!.runId));
  return { run: last, runs, skippedRuns, dryRun, rows, notPass };
}
