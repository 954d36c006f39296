import type { Command } from 'commander';
import { Option } from 'commander';
import type { ConnectionOptions } from 'bullmq';
import { createQueues, QUEUE_NAMES, type Queues } from '../../queues/index.js';
import { configFromOptions, connectRedis, withConnectionOptions } from '../common.js';

/** Re-enqueues every failed job of a queue (optionally of one run); returns the retried job ids. */
export async function retryFailed(queues: Queues, queue: keyof Queues, runId?: string): Promise<string[]> {
  const q = queues[queue];
  const retried: string[] = [];
  // Collect first: a retried job leaves the failed list, which would shift any paging.
  const jobs = await q.getFailed(0, -1);
  for (const job of jobs) {
    if (!job || (runId && (job.data as { runId?: string }).runId !== runId)) continue;
    await job.retry('failed');
    retried.push(String(job.id));
  }
  return retried;
}

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('retry')
      .description('re-enqueue failed jobs (judge chunks by default); a late judge result is applied and the run records are rewritten')
      .addOption(new Option('--queue <name>', 'queue whose failed jobs to retry').choices(QUEUE_NAMES).default('judge'))
      .option('--run <run>', 'only jobs of this run')
      .option('--vault <dir>', 'find the embedded Redis a `run` on this vault started'),
  ).action(async (opts: Record<string, unknown>) => {
    const cfg = configFromOptions(opts);
    const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
    const queues = createQueues({ connection: target.options as ConnectionOptions, prefix: cfg.prefix });
    try {
      const ids = await retryFailed(queues, opts.queue as keyof Queues, opts.run as string | undefined);
      process.stdout.write(`retried ${ids.length} failed ${String(opts.queue)} job(s)${opts.run ? ` of run ${String(opts.run)}` : ''}${ids.length ? `: ${ids.join(', ')}` : ''}\n`);
    } finally {
      await queues.close();
    }
  });
}
