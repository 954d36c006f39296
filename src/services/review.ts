/**
 * A person's review of judged drafts (the dashboard's review page): accept keeps a draft for
 * promotion, reject deletes it (only if its file is still what was judged), send-to-revision
 * marks it for the next `vault-loop revise`. Every action is recorded in the run's verdict
 * record and the iteration's records on disk are rewritten.
 */
import { NotFoundError, RunNotFoundError, StateConflictError } from '../errors.js';
import { pruneDraft } from '../scheduler/prune.js';
import { writeIterationRecords, writeLoopSummary } from '../scheduler/records.js';
import { TERMINAL_STATUSES, type AppliedVerdict, type RunStore } from '../state/run-state.js';

export const REVIEW_ACTIONS = ['accept', 'reject', 'revise'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export async function reviewDraft(store: RunStore, runId: string, draftId: string, action: ReviewAction, by: string, note?: string): Promise<AppliedVerdict> {
  const run = await store.get(runId);
  if (!run) throw new RunNotFoundError(`run ${runId} not found`);
  const v = (await store.verdicts(runId)).get(draftId);
  if (!v) throw new NotFoundError(`draft ${draftId} has no verdict in run ${runId}`);
  if (v.applied === 'pruned' || v.applied === 'already-gone' || v.review?.action === 'rejected') throw new StateConflictError(`draft ${draftId} was already deleted`);
  const at = new Date().toISOString();
  let updated: AppliedVerdict;
  if (action === 'reject') {
    const rec = (await store.drafts(runId)).get(draftId);
    const track = rec?.track ?? String(v.path.split('/')[1]);
    if ((await pruneDraft(run.vault, { id: draftId, track, path: v.path, fileHash: v.fileHash })) === 'skipped-changed') {
      throw new StateConflictError(`draft ${draftId} was edited since it was judged; not deleted`);
    }
    updated = { ...v, applied: 'pruned', review: { action: 'rejected', by, at, ...(note ? { note } : {}) } };
  } else {
    updated = { ...v, review: { action: action === 'accept' ? 'accepted' : 'sent-to-revision', by, at, ...(note ? { note } : {}) } };
  }
  await store.putVerdict(runId, draftId, updated);
  await writeIterationRecords(run.vault, store, runId, v.iter);
  if (TERMINAL_STATUSES.includes(run.status)) await writeLoopSummary(run.vault, store, runId);
  return updated;
}
