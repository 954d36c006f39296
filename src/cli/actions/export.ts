import { resolve } from 'node:path';
import { exportCorpus, loadReleaseSet } from '../../release/index.js';
import { withVaultLock } from '../../state/lock.js';
import { requireVault, reportProblems } from './release-shared.js';

export interface ExportFlags {
  vault: string;
  out: string;
}

export async function exportAction(flags: ExportFlags): Promise<void> {
  const vault = await requireVault(flags.vault);
  // Read under the vault's lock: a consistent snapshot, never one a run or promote is halfway through.
  const { set, r } = await withVaultLock(vault, 'export', async () => {
    const set = await loadReleaseSet(vault);
    return { set, r: await exportCorpus(set, resolve(flags.out)) };
  });
  reportProblems(set.problems);
  process.stdout.write(
    `wrote ${r.corpusPath} and ${r.summaryPath}: ${r.count} published questions (chains from ${set.chainsSource})\n`,
  );
}
