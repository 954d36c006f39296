/** apply (corpus host): one chunk's verdicts recorded, DROP drafts pruned on disk; the logic is src/core/prune.ts. */
import type { ApplyPayload, ApplyResult } from '../queues/apply.js';
import type { VerdictRecord } from '../domain/verdict.js';
import { applyChunk as apply } from '../core/prune.js';
import { diskVaultFiles } from '../scheduler/vault-files.js';
import type { RunStore } from '../state/run-state.js';

export interface ApplyDeps {
  vault: string;
  store: RunStore;
  now(): Date;
}

export async function applyChunk(payload: ApplyPayload, verdicts: VerdictRecord[] | null, judgeError: string | null, deps: ApplyDeps, svgs: { draftId: string; svg: string }[] = []): Promise<ApplyResult> {
  return await apply(payload, verdicts, judgeError, { store: deps.store, files: diskVaultFiles(deps.vault), now: deps.now }, svgs);
}
