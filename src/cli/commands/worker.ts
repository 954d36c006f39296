import type { Command } from 'commander';
import { STATELESS_QUEUES } from '../../queues/names.js';
import { intOption, lockDurationOption, withConnectionOptions } from '../options.js';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('worker')
      .description(`run stateless workers (${STATELESS_QUEUES.join(', ')}) against a shared Redis; start as many as you like, anywhere`)
      .option('--queues <list>', `comma-separated queues to consume (of ${STATELESS_QUEUES.join(', ')})`, STATELESS_QUEUES.join(','))
      .addOption(intOption('--concurrency <n>', 'jobs per queue at once (generate: parallel provider calls) (default 4)'))
      .addOption(intOption('--gen-batch-size <n>', 'largest generation batch held at once (default 30)'))
      .addOption(intOption('--batch-window <ms>', 'how long to wait to fill a generation batch (default 200)'))
      .option('--vault <dir>', 'find the embedded Redis a `run` on this vault started')
      .addOption(lockDurationOption()),
  ).action(async (opts: Record<string, unknown>) => (await import('../actions/worker.js')).worker(opts));
}
