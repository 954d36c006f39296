import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('render')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('render: not built yet', 2);
    });
}
