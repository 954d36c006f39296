import type { Command } from 'commander';
import type { PromoteFlags } from '../actions/promote.js';

export function register(program: Command): void {
  program
    .command('promote')
    .description('Publish the PASS drafts of one loop run whose files are unchanged since they were judged.')
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/ and _validation_results/coverage_loop/)')
    .option('--run <runId>', 'run folder name under _validation_results/coverage_loop (default: the run with the latest started_at)')
    .option('--dry-run', 'show what would be promoted; write nothing')
    .action(async (flags: PromoteFlags) => (await import('../actions/promote.js')).promote(flags));
}
