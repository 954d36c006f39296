import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('dashboard: not built yet', 2);
    });
}
