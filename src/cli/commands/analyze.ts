import type { Command } from 'commander';
import { Option } from 'commander';
import { AREAS } from '../../corpus/taxonomy.js';
import type { AnalyzeFlags } from '../actions/analyze.js';

export function register(program: Command): void {
  program
    .command('analyze')
    .description("Find the vault's thinnest cells and write report.json + report.md with a recommended generation plan.")
    .requiredOption('--vault <dir>', 'vault folder (holds questions/)')
    .addOption(
      new Option('--strategy <name>', 'reference = the original analyzer number for number; balanced = fixed weaknesses (default)')
        .choices(['reference', 'balanced'])
        .default('balanced'),
    )
    .option('--total <n>', 'number of plan cells to recommend', '60')
    .option('--visual', 'prefer visual-archetype topics and mark cells with_visual')
    .option('--published-only', 'count only status: published questions (default: every status)')
    .option('--include-areas <a,b,c>', `force cells for these competency areas (${AREAS.join(', ')})`)
    .option('--out <dir>', 'write report.json and report.md here (default: <vault>/_validation_results/coverage_gaps/<UTC timestamp>/)')
    .option('--off-affinity <skip|factor>', 'balanced: skip zone × level pairs outside the zone affinity, or down-weight them by a factor in (0, 1]', 'skip')
    .option('--no-index', 'do not read or write the analysis index in <vault>/.vault-loop/')
    .action(async (flags: AnalyzeFlags) => (await import('../actions/analyze.js')).analyze(flags));
}
