import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('synth')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('synth: not built yet', 2);
    });
}
