import { existsSync } from 'node:fs';
import { bullConnection, createRedis } from '../../redis/index.js';
import { RunStore, type RunState } from '../../scheduler/state.js';
import { configFromOptions, connectRedis } from '../common.js';
import { table, UserError } from '../output.js';

const duration = (s: RunState): string => {
  const end = s.finishedAt ? Date.parse(s.finishedAt) : Date.now();
  const ms = end - Date.parse(s.startedAt);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)}s` : '-';
};

export async function status(runId: string | undefined, opts: Record<string, unknown>): Promise<void> {
  const cfg = configFromOptions(opts);
  const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
  const redis = createRedis(target, 'client');
  const store = new RunStore(redis, cfg.prefix);
  try {
    if (!runId) {
      const runs = (await Promise.all((await store.list(50)).map((id) => store.get(id)))).filter((r): r is RunState => r !== null);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(runs.map(({ config: _c, ...r }) => r), null, 2)}\n`);
        return;
      }
      if (runs.length === 0) {
        process.stdout.write(`no runs under prefix ${cfg.prefix} at ${target.describe}\n`);
        return;
      }
      process.stdout.write(
        `${table(
          ['run', 'status', 'iter', 'calls', 'tokens in/out', 'cost', 'stop reason', 'started', 'duration'],
          runs.map((r) => [r.runId, r.status, r.iter, `${r.callsUsed}/${r.maxCalls}`, `${r.tokensIn}/${r.tokensOut}`, `$${r.costUsd.toFixed(4)}`, r.stopReason ?? '-', r.startedAt.slice(0, 19), duration(r)]),
        )}\n`,
      );
      return;
    }
    const run = await store.get(runId);
    if (!run) throw new UserError(`run ${runId} is not known to Redis at ${target.describe} (prefix ${cfg.prefix})`);
    // The one-run view alone needs BullMQ (failed judge chunks) and the records: loaded here, so
    // the list of runs starts as fast as a Redis client allows.
    const [{ createQueues }, { runDir }, { summaryText }] = await Promise.all([import('../../queues/index.js'), import('../../scheduler/records.js'), import('../summary.js')]);
    const queues = createQueues({ connection: bullConnection(target), prefix: cfg.prefix });
    const failedJudge = (await queues.judge.getFailed(0, -1)).filter((j) => j?.data.runId === runId).map((j) => String(j.id));
    await queues.close();
    if (opts.json) {
      const { config: _c, ...rest } = run;
      process.stdout.write(`${JSON.stringify({ ...rest, failedJudgeChunks: failedJudge }, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [
        `run ${runId}: ${run.status} (${run.phase}), iteration ${run.iter}`,
        `generator ${run.generator.provider}/${run.generator.model}, judge ${run.judge.provider}/${run.judge.model}`,
        `calls ${run.callsUsed}/${run.maxCalls} (${run.callsReserved} in flight), tokens in ${run.tokensIn} out ${run.tokensOut}, cost $${run.costUsd.toFixed(4)}`,
        `stop reason: ${run.stopReason ?? '-'}; started ${run.startedAt}; duration ${duration(run)}`,
        `failed judge chunks: ${failedJudge.length ? `${failedJudge.join(', ')} (vault-loop retry --queue judge --run ${runId})` : 'none'}`,
        '',
      ].join('\n'),
    );
    if (run.vault && existsSync(runDir(run.vault, runId))) process.stdout.write(`${summaryText(run.vault, runId)}\n`);
  } finally {
    redis.disconnect();
  }
}
