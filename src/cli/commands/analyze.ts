import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('analyze')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('analyze: not built yet', 2);
    });
}
