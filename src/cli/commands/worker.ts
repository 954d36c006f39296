import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('worker')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('worker: not built yet', 2);
    });
}
