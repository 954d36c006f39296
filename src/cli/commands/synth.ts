import type { Command } from 'commander';
import { UserError } from '../output.js';

function count(v: string): number {
  if (!/^\d+$/.test(v)) throw new UserError(`synth: --questions expects a whole number ≥ 0; found "${v}"`);
  return Number.parseInt(v, 10);
}

export function register(program: Command): void {
  program
    .command('synth')
    .description('Write a synthetic vault shaped like the real one (track shares, all levels and zones, applicable topics, mixed statuses, checkable napkin math); the same seed gives the same bytes.')
    .requiredOption('--out <dir>', 'folder to write the vault into (its questions/ must be empty or absent)')
    .requiredOption('--questions <n>', 'number of questions to write', count)
    .option('--seed <s>', 'seed for every random choice (any string or number)', '0')
    .action(async (opts: { out: string; questions: number; seed: string }) => (await import('../actions/synth.js')).synth(opts));
}
