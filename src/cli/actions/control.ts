import { RunNotFoundError } from '../../errors.js';
import { createRedis } from '../../redis/index.js';
import { RunStore } from '../../state/run-state.js';
import { controlRun as applyControl, type RunControlAction } from '../../services/run-control.js';
import { configFromOptions, connectRedis } from '../common.js';
import { UserError } from '../output.js';

export async function controlRun(action: RunControlAction, runId: string, opts: Record<string, unknown>): Promise<string> {
  const cfg = configFromOptions(opts);
  const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
  const redis = createRedis(target, 'client');
  try {
    const after = await applyControl(new RunStore(redis, cfg.prefix), runId, action).catch((e: unknown) => {
      if (e instanceof RunNotFoundError) throw new UserError(`run ${runId} is not known to Redis at ${target.describe} (prefix ${cfg.prefix}); see \`vault-loop status\``);
      throw e;
    });
    return `run ${runId}: ${after.status}`;
  } finally {
    redis.disconnect();
    await target.embedded?.stop();
  }
}
