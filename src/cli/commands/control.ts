import type { Command } from 'commander';
import type { RunControlAction as Action } from '../../services/run-control.js';
import { withConnectionOptions } from '../options.js';

const DESCRIPTIONS: Record<Action, string> = {
  stop: 'stop a run: its pending jobs end, the current step finishes, loop_summary.json says "stopped by user"',
  pause: 'pause a run: its jobs wait (no attempts spent) until `vault-loop resume RUN`',
  resume: 'resume a paused run (to continue a run whose host died, use `vault-loop run --vault DIR --resume RUN`)',
};

export function register(program: Command): void {
  for (const action of ['stop', 'pause', 'resume'] as const) {
    withConnectionOptions(
      program
        .command(`${action} <run>`)
        .description(DESCRIPTIONS[action])
        .option('--vault <dir>', 'find the embedded Redis a `run` on this vault started'),
    ).action(async (runId: string, opts: Record<string, unknown>) => {
      const { controlRun } = await import('../actions/control.js');
      process.stdout.write(`${await controlRun(action, runId, opts)}\n`);
    });
  }
}
