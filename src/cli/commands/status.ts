import type { Command } from 'commander';
import { withConnectionOptions } from '../options.js';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('status [run]')
      .description('show runs (status, iteration, calls used / budget, tokens, cost, cost per PASS draft, stop reason), or one run in detail')
      .option('--json', 'print JSON')
      .option('--vault <dir>', "find the embedded Redis a `run` on this vault started, and list the vault's unjudged drafts"),
  ).action(async (runId: string | undefined, opts: Record<string, unknown>) => (await import('../actions/status.js')).status(runId, opts));
}
