import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('validate')
    .description('Load every questions/**/*.yaml of a vault and check it against the question schema v1.0 and the file-layout rules; exit 1 on any error.')
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/)')
    .option('--json', 'print one JSON object {files, errors, warnings, errorFiles, problems} instead of text')
    .option('--errors-only', 'leave warnings (e.g. level outside the zone affinity) out of the listing; the summary still counts them')
    .action(async (opts: { vault: string; json?: boolean; errorsOnly?: boolean }) => (await import('../actions/validate.js')).validate(opts));
}
