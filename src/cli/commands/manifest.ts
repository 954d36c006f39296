import type { Command } from 'commander';
import { UserError } from '../output.js';

export function register(program: Command): void {
  program
    .command('manifest')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UserError('manifest: not built yet', 2);
    });
}
