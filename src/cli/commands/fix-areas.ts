import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('fix-areas')
    .description(
      'Rewrite malformed competency_area values (topic names, zone names, "<track> / <topic>", capitalised forms) to one of the 13 areas and move each file to questions/<track>/<area>/; exit 1 if any value cannot be mapped.',
    )
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/)')
    .option('--dry-run', 'print what would change; write and move nothing')
    .action(async (opts: { vault: string; dryRun?: boolean }) => (await import('../actions/fix-areas.js')).fixAreasAction(opts));
}
