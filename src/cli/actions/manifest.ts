import { join, resolve } from 'node:path';
import { withVaultLock } from '../../state/lock.js';
import { buildManifest, loadReleaseSet, MANIFEST_FILE, readManifest, staleFields, writeManifest } from '../../release/index.js';
import { UserError } from '../output.js';
import { requireVault, reportProblems } from './release-shared.js';

export interface ManifestFlags {
  vault: string;
  out?: string;
  check?: boolean;
  releaseId?: string;
}

export async function manifest(flags: ManifestFlags): Promise<void> {
  const vault = await requireVault(flags.vault);
  const out = flags.out ? resolve(flags.out) : join(vault, MANIFEST_FILE);
  const set = await loadReleaseSet(vault);
  reportProblems(set.problems);
  const fresh = buildManifest(set, { releaseId: flags.releaseId });
  if (flags.check) {
    let stored: unknown;
    try {
      stored = await readManifest(out);
    } catch (e) {
      throw new UserError(`${out}: not valid JSON (${(e as Error).message}); expected a vault manifest`);
    }
    if (stored === null) {
      process.stdout.write(`stale: ${out} does not exist\n`);
      process.exitCode = 1;
      return;
    }
    const diff = staleFields(stored, fresh, { compareReleaseId: flags.releaseId !== undefined });
    if (diff.length > 0) {
      process.stdout.write(`stale: ${out} differs in ${diff.join(', ')}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`fresh: ${out} (${fresh.questionCount} questions, release ${fresh.releaseHash.slice(0, 12)})\n`);
    return;
  }
  await withVaultLock(vault, 'manifest', () => writeManifest(out, fresh));
  process.stdout.write(
    `wrote ${out}: ${fresh.questionCount} questions, ${fresh.chainCount} chains, release ${fresh.releaseHash}\n`,
  );
}
