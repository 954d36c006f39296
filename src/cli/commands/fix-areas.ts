import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('fix-areas')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('fix-areas: not built yet', 2);
    });
}
