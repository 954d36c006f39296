import type { Command } from 'commander';
import { createRedis } from '../../redis/index.js';
import { RunStore, TERMINAL_STATUSES } from '../../scheduler/state.js';
import { configFromOptions, connectRedis, withConnectionOptions } from '../common.js';
import { UserError } from '../output.js';

type Action = 'stop' | 'pause' | 'resume';

const DESCRIPTIONS: Record<Action, string> = {
  stop: 'stop a run: its pending jobs end, the current step finishes, loop_summary.json says "stopped by user"',
  pause: 'pause a run: its jobs wait (no attempts spent) until `vault-loop resume RUN`',
  resume: 'resume a paused run (to continue a run whose host died, use `vault-loop run --vault DIR --resume RUN`)',
};

export async function controlRun(action: Action, runId: string, opts: Record<string, unknown>): Promise<string> {
  const cfg = configFromOptions(opts);
  const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
  const redis = createRedis(target, 'client');
  try {
    const store = new RunStore(redis, cfg.prefix);
    const run = await store.get(runId);
    if (!run) throw new UserError(`run ${runId} is not known to Redis at ${target.describe} (prefix ${cfg.prefix}); see \`vault-loop status\``);
    if (TERMINAL_STATUSES.includes(run.status)) throw new UserError(`run ${runId} has already ended (${run.status}: ${run.stopReason ?? '-'})`);
    if (action === 'stop') await store.requestStop(runId);
    else if (action === 'pause') {
      if (run.status !== 'running') throw new UserError(`run ${runId} is ${run.status}, not running`);
      await store.pause(runId);
    } else {
      if (run.status !== 'paused') throw new UserError(`run ${runId} is ${run.status}, not paused`);
      await store.resume(runId);
    }
    const after = await store.get(runId);
    return `run ${runId}: ${after?.status}`;
  } finally {
    redis.disconnect();
    await target.embedded?.stop();
  }
}

export function register(program: Command): void {
  for (const action of ['stop', 'pause', 'resume'] as const) {
    withConnectionOptions(
      program
        .command(`${action} <run>`)
        .description(DESCRIPTIONS[action])
        .option('--vault <dir>', 'find the embedded Redis a `run` on this vault started'),
    ).action(async (runId: string, opts: Record<string, unknown>) => {
      process.stdout.write(`${await controlRun(action, runId, opts)}\n`);
    });
  }
}
