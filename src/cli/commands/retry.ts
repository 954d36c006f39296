import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('retry')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('retry: not built yet', 2);
    });
}
