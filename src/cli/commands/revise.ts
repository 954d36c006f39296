import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('revise')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('revise: not built yet', 2);
    });
}
