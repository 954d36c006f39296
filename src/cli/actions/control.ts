import { createRedis } from '../../redis/index.js';
import { RunStore, TERMINAL_STATUSES } from '../../scheduler/state.js';
import { configFromOptions, connectRedis } from '../common.js';
import { UserError } from '../output.js';
import type { Action } from '../commands/control.js';

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
