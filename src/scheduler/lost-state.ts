/**
 * A Redis that lost a run's state: restarted empty (no persistence), flushed, or its keys evicted.
 * It answers, but no longer knows the run. The host says so (not "no answer"), marks the run's
 * records on disk `status: interrupted` with the reason and how to go on, and a `--resume` of such
 * a run says plainly why it cannot continue.
 *
 * Why no rebuild from the records: a run's closed iterations are on disk (iter_record.json,
 * judge_summary.json), but the iteration in progress kept its calls, reservations and verdicts only
 * in Redis. A run rebuilt from the records could not know what that iteration spent, so it could
 * exceed its budget; and its drafts' verdicts were never written down. What is kept: the vault
 * (every write is atomic), the closed iterations' records, and the open iteration's drafts on disk
 * (status: draft), listed in its interrupted.json.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { iterDir, LOOP_DIR, readJson, runDir, writeJson, type IterRecord } from './records.js';

/** The run's hash is gone from a Redis that answers. */
export class RunStateLostError extends Error {
  override readonly name = 'RunStateLostError';
  constructor(readonly runId: string) {
    super(`run ${runId} vanished from Redis`);
  }
}

export const INTERRUPTED = 'interrupted';

/** The reason recorded in run.json. */
export const lostStateReason = (redis: string): string => `Redis lost this run's state (restarted empty? flushed? keys evicted?): ${redis} answers but no longer knows the run`;

/** What continues the work of a run Redis lost: a new run (its own budget) on the same vault. */
export const continueAfterLoss = (vault: string): string => `vault-loop run --vault ${vault}`;

interface RunJson {
  status?: string;
  config?: { maxCalls?: number };
  [k: string]: unknown;
}

/** Closed iterations (iter_record.json) and the open one (a folder without it), from the records. */
function iterations(vault: string, runId: string): { closed: IterRecord[]; open: number | null } {
  const closed: IterRecord[] = [];
  let open: number | null = null;
  for (let i = 0; existsSync(iterDir(vault, runId, i)); i++) {
    const rec = readJson<IterRecord>(join(iterDir(vault, runId, i), 'iter_record.json'));
    if (rec) closed.push(rec);
    else open = i;
  }
  return { closed, open };
}

/**
 * Marks the run's records interrupted: run.json (status, reason, when, continue_with) and the open
 * iteration's interrupted.json (its drafts left unjudged on disk). Returns what the user is told.
 */
export async function markInterrupted(vault: string, runId: string, reason: string, now = new Date()): Promise<{ lines: string[] }> {
  const path = join(runDir(vault, runId), 'run.json');
  const run = readJson<RunJson>(path);
  const continueWith = continueAfterLoss(vault);
  if (run) await writeJson(path, { ...run, status: INTERRUPTED, stopped_reason: reason, interrupted_at: now.toISOString(), continue_with: continueWith });
  const { closed, open } = iterations(vault, runId);
  const lines = [`run ${runId}: ${reason}.`, `The vault is intact (every write is atomic); ${path} says ${INTERRUPTED}.`];
  if (open !== null) {
    const drafts = unjudgedDrafts(vault, runId, open);
    await writeJson(join(iterDir(vault, runId, open), 'interrupted.json'), { iter: open, status: INTERRUPTED, reason, interrupted_at: now.toISOString(), drafts_unjudged: drafts });
    if (drafts.length) lines.push(`${drafts.length} draft(s) of iteration ${open} stay in the vault unjudged (listed in ${join(iterDir(vault, runId, open), 'interrupted.json')}).`);
  }
  const used = closed.at(-1)?.calls_used_total;
  if (used !== undefined) lines.push(`Its ${closed.length} closed iteration(s) and their verdicts are recorded (${used} calls).`);
  lines.push(`It cannot be resumed: its open iteration's calls and verdicts were kept only in Redis, so a resumed run could exceed its budget.`, `continue with: ${continueWith}`);
  return { lines };
}

/** The paths listed in an iteration's judge_inputs.txt whose files are still there. */
function unjudgedDrafts(vault: string, runId: string, iter: number): string[] {
  const list = join(iterDir(vault, runId, iter), 'judge_inputs.txt');
  if (!existsSync(list)) return [];
  return readFileSync(list, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && existsSync(join(vault, l)));
}

/**
 * Why `--resume RUN` cannot go on when Redis does not know RUN: a run with records on this vault
 * (Redis lost it: its run.json is marked interrupted when it still says running), or no run at all.
 */
export async function unknownRunMessage(vault: string, runId: string, prefix: string): Promise<string> {
  const path = join(runDir(vault, runId), 'run.json');
  const run = existsSync(path) ? readJson<RunJson>(path) : null;
  if (!run) {
    const known = existsSync(join(vault, LOOP_DIR)) ? readdirSync(join(vault, LOOP_DIR)).length : 0;
    return `run ${runId} is not known to this Redis (prefix ${prefix}) and has no records in ${join(vault, LOOP_DIR)} (${known} run folder(s) there): no such run; \`vault-loop status\` lists the runs Redis knows`;
  }
  if (run.status === 'completed' || run.status === 'stopped' || run.status === 'failed') {
    return `run ${runId} ended ${run.status} (records in ${runDir(vault, runId)}), and this Redis (prefix ${prefix}) no longer knows it: there is nothing to resume; start a new run: ${continueAfterLoss(vault)}`;
  }
  const reason = typeof run.stopped_reason === 'string' && run.status === INTERRUPTED ? run.stopped_reason : lostStateReason(`this Redis (prefix ${prefix})`);
  if (run.status !== INTERRUPTED) await markInterrupted(vault, runId, reason);
  const max = run.config?.maxCalls;
  return (
    `run ${runId} cannot be resumed: this Redis (prefix ${prefix}) no longer knows it (it lost its data: restarted empty, flushed or evicted?), ` +
    `and its records in ${runDir(vault, runId)} cannot rebuild it safely: the calls and verdicts of its open iteration were kept only in Redis, ` +
    `so a rebuilt run could exceed its budget${max !== undefined ? ` of ${max} calls` : ''} and judge drafts twice. ` +
    `The vault is intact; the closed iterations' records stay. Continue with: ${continueAfterLoss(vault)}`
  );
}
