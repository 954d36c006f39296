import type { Command } from 'commander';
import { intOption, withConnectionOptions } from '../options.js';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('demo')
      .description('the whole loop on a fresh synthetic vault with the offline provider (no API key, Redis found or started locally)')
      .option('--out <dir>', 'where to write the synthetic vault (default: a new temp folder)')
      .addOption(intOption('--questions <n>', 'questions in the synthetic vault').default(3000))
      .addOption(intOption('--max-iters <n>', 'iterations at most').default(3))
      .addOption(intOption('--max-calls <n>', 'provider calls at most').default(40))
      .addOption(intOption('--seed <n>', 'seed of the vault and the offline provider').default(7))
      .addOption(intOption('--offline-latency <ms>', 'simulated latency per provider call').default(150)),
  ).action(async (opts: Record<string, unknown>) => (await import('../actions/demo.js')).demo(opts));
}
