/**
 * A person's review of judged drafts (the dashboard's review page): accept keeps a draft for
 * promotion, reject deletes it (only if its file is still what was judged), send-to-revision
 * marks it for the next `vault-loop revise`. Every action is recorded in the run's verdict
 * record and the iteration's records on disk are rewritten.
 */
import { readFile, unlink } from 'node:fs/promises';
import { sha256 } from '../corpus/loader.js';
import { safeVaultPath } from '../corpus/writer.js';
import { visualFilesOf } from '../workers/apply.processor.js';
import { writeIterationRecords, writeLoopSummary } from '../scheduler/records.js';
import { TERMINAL_STATUSES, type AppliedVerdict, type RunStore } from '../scheduler/state.js';

export const REVIEW_ACTIONS = ['accept', 'reject', 'revise'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export class ReviewError extends Error {
  override readonly name = 'ReviewError';
  constructor(message: string, readonly status: 400 | 404 | 409) {
    super(message);
  }
}

export async function reviewDraft(store: RunStore, runId: string, draftId: string, action: ReviewAction, by: string, note?: string): Promise<AppliedVerdict> {
  const run = await store.get(runId);
  if (!run) throw new ReviewError(`run ${runId} not found`, 404);
  const v = (await store.verdicts(runId)).get(draftId);
  if (!v) throw new ReviewError(`draft ${draftId} has no verdict in run ${runId}`, 404);
  if (v.applied === 'pruned' || v.applied === 'already-gone' || v.review?.action === 'rejected') throw new ReviewError(`draft ${draftId} was already deleted`, 409);
  const at = new Date().toISOString();
  let updated: AppliedVerdict;
  if (action === 'reject') {
    const abs = safeVaultPath(run.vault, v.path);
    let bytes: Buffer | null = null;
    try {
      bytes = await readFile(abs);
    } catch {
      bytes = null;
    }
    if (bytes !== null && sha256(bytes) !== v.fileHash) throw new ReviewError(`draft ${draftId} was edited since it was judged; not deleted`, 409);
    if (bytes !== null) await unlink(abs);
    const rec = (await store.drafts(runId)).get(draftId);
    for (const f of visualFilesOf(run.vault, rec?.track ?? String(v.path.split('/')[1]), draftId)) await unlink(f).catch(() => {});
    updated = { ...v, applied: 'pruned', review: { action: 'rejected', by, at, ...(note ? { note } : {}) } };
  } else {
    updated = { ...v, review: { action: action === 'accept' ? 'accepted' : 'sent-to-revision', by, at, ...(note ? { note } : {}) } };
  }
  await store.putVerdict(runId, draftId, updated);
  await writeIterationRecords(run.vault, store, runId, v.iter);
  if (TERMINAL_STATUSES.includes(run.status)) await writeLoopSummary(run.vault, store, runId);
  return updated;
}
