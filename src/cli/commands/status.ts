import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('status')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('status: not built yet', 2);
    });
}
