import type { Command } from 'commander';
import { intOption, withConnectionOptions } from '../options.js';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('dashboard')
      .description('serve the run overview, Bull Board (/queues), a JSON API and /metrics over HTTP')
      .option('--host <address>', 'bind address (default 127.0.0.1; any other address needs DASHBOARD_TOKEN or DASHBOARD_BASIC_AUTH)')
      .addOption(intOption('--port <n>', 'port (default 3000; 0 picks a free one)'))
      .option('--vault <dir>', 'find the embedded Redis a `run` on this vault started'),
  ).action(async (opts: Record<string, unknown>) => (await import('../actions/dashboard.js')).dashboard(opts));
}
