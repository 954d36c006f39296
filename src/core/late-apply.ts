/**
 * The late-apply decision of a judge chunk. A judge chunk retried after the apply job that waited
 * for it already ran (its judge had failed for good) is not applied by that parent again: its
 * verdicts go to a standalone apply. The decision is pure: the judge worker reads the parent's
 * state, asks here, and only enqueues what the outcome says. The standalone apply itself
 * (applyLate) records the verdicts and rewrites the run's records, one rewrite of a run at a time.
 */
import { applyQueue, type ApplyPayload, type ApplyResult } from '../queues/apply.js';
import type { JudgePayload, JudgeResult } from '../queues/judge.js';
import type { ParentState, RecordsPort } from './ports.js';

/** Parent states in which the parent will never run again (or is gone). */
const PARENT_DONE: readonly ParentState[] = ['completed', 'failed', 'unknown'];

export type JudgeOutcome =
  /** The parent apply job is still waiting: it applies this result. */
  | { kind: 'result'; result: JudgeResult }
  /** The parent already ran: enqueue `apply` (once per judge attempt) and return the result marked late. */
  | { kind: 'late-apply'; result: JudgeResult; apply: ApplyPayload; attempt: number };

/**
 * `parent`: the state of the job's parent apply (null: the job has no parent); `job`: the judge
 * job's id and its attempts so far (a late apply's job id is unique per attempt).
 */
export function judgeOutcome(p: JudgePayload, result: JudgeResult, parent: ParentState | null, job: { id: string; attemptsStarted: number }): JudgeOutcome {
  if (parent === null || !PARENT_DONE.includes(parent)) return { kind: 'result', result };
  const apply = applyQueue.payload.parse({
    runId: p.runId,
    iter: p.iter,
    chunk: p.chunk,
    round: p.round,
    drafts: p.drafts.map((d) => ({ id: d.id, path: d.path, fileHash: d.fileHash, track: String(d.doc.track) })),
    late: { judgeJobId: job.id, verdicts: result.verdicts, model: result.model, svgs: result.svgs },
  });
  return { kind: 'late-apply', result: { ...result, late: true }, apply, attempt: job.attemptsStarted };
}

export interface LateApplyDeps {
  /** Records the chunk's verdicts and prunes its DROP drafts (src/core/prune.ts). */
  apply(p: ApplyPayload): Promise<ApplyResult>;
  records: Pick<RecordsPort, 'writeIterationRecords' | 'writeLoopSummary'>;
  /** Completes a run that failed only because judge chunks failed, once they are all judged. */
  settle(runId: string): Promise<void>;
  /** Whether the run has ended (its loop summary is rewritten too). */
  ended(runId: string): Promise<boolean>;
}

/** The record rewrite of each run still going or queued in this process (its last step). */
const rewrites = new Map<string, Promise<void>>();

/** Runs `fn` after every earlier call for the same key has finished. */
async function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (rewrites.get(key) ?? Promise.resolve()).then(fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  rewrites.set(key, tail);
  try {
    return await run;
  } finally {
    if (rewrites.get(key) === tail) rewrites.delete(key);
  }
}

/**
 * A standalone late apply: the chunk's verdicts recorded, then the iteration's records (and the
 * loop summary of an ended run) rebuilt from the state and written. The rebuild reads the state
 * and writes the files later; two late applies of a run rebuilding at once could let the one that
 * read first write last, leaving files without the other's verdicts. So a run's rewrites go one at
 * a time, each after its own apply: the last one reads every verdict applied before it. Only the
 * host that holds the vault runs applies, so one process serializing them is enough.
 */
export async function applyLate(p: ApplyPayload, deps: LateApplyDeps): Promise<ApplyResult> {
  const result = await deps.apply(p);
  await oneAtATime(p.runId, async () => {
    await deps.records.writeIterationRecords(p.runId, p.iter);
    await deps.settle(p.runId);
    if (await deps.ended(p.runId)) await deps.records.writeLoopSummary(p.runId);
  });
  return result;
}
