import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('promote')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('promote: not built yet', 2);
    });
}
