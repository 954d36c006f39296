import { Option, type Command } from 'commander';
import { addRunOptions } from './run.js';

export function register(program: Command): void {
  const cmd = program
    .command('judge')
    .description('judge the drafts earlier runs left unjudged (a crash, a stop, a judge chunk that failed for good), and nothing else: a judging run with its own records')
    .requiredOption('--vault <dir>', 'the vault folder')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bars', 'plain', 'none']).default('auto'))
    .option('--json', 'print the final summary as JSON on stdout');
  addRunOptions(cmd).action(async (opts: Record<string, unknown>) => (await import('../actions/judge.js')).judge(opts));
}
