/**
 * The late-apply decision of a judge chunk. A judge chunk retried after the apply job that waited
 * for it already ran (its judge had failed for good) is not applied by that parent again: its
 * verdicts go to a standalone apply. Pure: the judge worker reads the parent's state, asks here,
 * and only enqueues what the outcome says.
 */
import { applyQueue, type ApplyPayload } from '../queues/apply.js';
import type { JudgePayload, JudgeResult } from '../queues/judge.js';
import type { ParentState } from './ports.js';

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
