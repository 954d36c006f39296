import { resolve } from 'node:path';
import type { Command } from 'commander';
import { exportCorpus, loadReleaseSet } from '../../release/index.js';
import { withVaultLock } from '../../scheduler/lock.js';
import { requireVault, reportProblems } from './release-shared.js';

interface ExportFlags {
  vault: string;
  out: string;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('Write the site corpus of the published questions: corpus.json and corpus-summary.json.')
    .requiredOption('--vault <dir>', 'the vault folder (questions/, release-policy.yaml, optional chains.json and schema/topic_chapter_map.yaml)')
    .requiredOption('--out <dir>', 'folder to write corpus.json and corpus-summary.json into (created if missing)')
    .action(async (flags: ExportFlags) => {
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
    });
}
