import { resolve } from 'node:path';
import { exportCorpus, loadReleaseSet } from '../../release/index.js';
import { requireVault, reportProblems } from './release-shared.js';

export interface ExportFlags {
  vault: string;
  out: string;
}

export async function exportAction(flags: ExportFlags): Promise<void> {
  const vault = await requireVault(flags.vault);
  const set = await loadReleaseSet(vault);
  reportProblems(set.problems);
  const r = await exportCorpus(set, resolve(flags.out));
  process.stdout.write(
    `wrote ${r.corpusPath} and ${r.summaryPath}: ${r.count} published questions (chains from ${set.chainsSource})\n`,
  );
}
