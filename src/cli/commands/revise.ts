import { Option, type Command } from 'commander';
import { addRunOptions } from './run.js';

export function register(program: Command): void {
  const cmd = program
    .command('revise')
    .description("revise the NEEDS_FIX drafts a past run left, from the judge's fix suggestions, and judge them again (a revision run with its own records)")
    .requiredOption('--vault <dir>', 'the vault folder')
    .option('--run <run>', 'the run whose NEEDS_FIX drafts to revise (default: the latest run that is not itself a revision)')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bars', 'plain', 'none']).default('auto'))
    .option('--json', 'print the final summary as JSON on stdout');
  addRunOptions(cmd).action(async (opts: Record<string, unknown>) => (await import('../actions/revise.js')).revise(opts));
}
