/** The hash-guarded delete of a draft on disk (src/core/prune.ts), for a person's review (reject). */
import { pruneDraft as prune, type PrunedDraft, type PruneOutcome } from '../core/prune.js';
import { diskVaultFiles } from './vault-files.js';

export type { PrunedDraft, PruneOutcome } from '../core/prune.js';

export async function pruneDraft(vault: string, d: PrunedDraft): Promise<PruneOutcome> {
  return await prune(diskVaultFiles(vault), d);
}
