import type { Command } from 'commander';
import type { ExportFlags } from '../actions/export.js';

export function register(program: Command): void {
  program
    .command('export')
    .description('Write the site corpus of the published questions: corpus.json and corpus-summary.json.')
    .requiredOption('--vault <dir>', 'the vault folder (questions/, release-policy.yaml, optional chains.json and schema/topic_chapter_map.yaml)')
    .requiredOption('--out <dir>', 'folder to write corpus.json and corpus-summary.json into (created if missing)')
    .action(async (flags: ExportFlags) => (await import('../actions/export.js')).exportAction(flags));
}
