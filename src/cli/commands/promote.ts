import type { Command } from 'commander';
import type { PromoteFlags } from '../actions/promote.js';

export function register(program: Command): void {
  program
    .command('promote')
    .description('Publish the PASS (and accepted) drafts whose files are unchanged since they were judged: of every run not promoted yet, or of one run.')
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/ and _validation_results/coverage_loop/)')
    .option('--run <runId>', 'only this run folder under _validation_results/coverage_loop (default: every run not promoted yet, oldest first; a later verdict on the same draft wins)')
    .option('--dry-run', 'show what would be promoted; write nothing')
    .action(async (flags: PromoteFlags) => (await import('../actions/promote.js')).promote(flags));
}
