/**
 * Pruning a draft from the vault: the hash-guarded delete that the apply step (a DROP verdict)
 * and a person's review (reject) share. The YAML is deleted only while its bytes still hash to
 * what was judged; a pruned draft takes its visual files (visuals/<track>/<id>.{dot,py,svg}) with it.
 */
import { readFile, unlink } from 'node:fs/promises';
import { sha256 } from '../corpus/loader.js';
import { safeVaultPath } from '../corpus/writer.js';
import { nullIfMissing } from '../util/files.js';
import { visualPaths } from '../visuals/paths.js';

/** What pruning did: deleted, found nothing to delete, or left a file edited since it was judged. */
export type PruneOutcome = 'pruned' | 'already-gone' | 'skipped-changed';

export interface PrunedDraft {
  id: string;
  track: string;
  /** The YAML's path relative to the vault. */
  path: string;
  /** sha256 of the YAML's bytes when it was judged. */
  fileHash: string;
}

/** Deletes the draft's YAML and visual files unless the YAML changed since it was judged. Safe to run twice. */
export async function pruneDraft(vault: string, d: PrunedDraft): Promise<PruneOutcome> {
  const abs = safeVaultPath(vault, d.path);
  const bytes = await nullIfMissing(readFile(abs));
  if (bytes !== null && sha256(bytes) !== d.fileHash) return 'skipped-changed';
  if (bytes !== null) await unlink(abs);
  // Also when the YAML is already gone: a prune cut short between the two leaves no stray visuals.
  const v = visualPaths(vault, d.track, d.id);
  for (const f of [v.dot, v.py, v.svg]) await nullIfMissing(unlink(f));
  return bytes === null ? 'already-gone' : 'pruned';
}
