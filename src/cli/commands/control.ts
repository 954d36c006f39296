import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('control')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('control: not built yet', 2);
    });
}
