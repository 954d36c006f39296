import { Option, type Command } from 'commander';
import { QUEUE_NAMES } from '../../queues/names.js';
import { withConnectionOptions } from '../options.js';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('retry')
      .description('re-enqueue failed jobs (judge chunks by default); a late judge result is applied and the run records are rewritten')
      .addOption(new Option('--queue <name>', 'queue whose failed jobs to retry').choices(QUEUE_NAMES).default('judge'))
      .option('--run <run>', 'only jobs of this run')
      .option('--vault <dir>', 'find the embedded Redis a `run` on this vault started')
      .option('--no-apply', 'only re-enqueue: leave judging and applying to running workers and the next `vault-loop run` on the vault'),
  ).action(async (opts: Record<string, unknown>) => (await import('../actions/retry.js')).retry(opts));
}
