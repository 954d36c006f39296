import type { Command } from 'commander';
import { createQueues, QUEUE_NAMES, STATELESS_QUEUES, type QueueName } from '../../queues/index.js';
import { bullConnection, createRedis } from '../../redis/index.js';
import { RunStore } from '../../scheduler/state.js';
import { createLogger } from '../../util/log.js';
import { createRuntimeContext } from '../../workers/context.js';
import { startWorkers } from '../../workers/runtime.js';
import { configFromOptions, connectRedis, intOption, lockDurationOption, onSignals, stopBoundMs, timingsFromOptions, withConnectionOptions } from '../common.js';
import { UserError } from '../output.js';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('worker')
      .description('run stateless workers (generate, judge, render) against a shared Redis; start as many as you like, anywhere')
      .option('--queues <list>', `comma-separated queues to consume (of ${STATELESS_QUEUES.join(', ')})`, STATELESS_QUEUES.join(','))
      .addOption(intOption('--concurrency <n>', 'jobs per queue at once (generate: parallel provider calls) (default 4)'))
      .addOption(intOption('--gen-batch-size <n>', 'largest generation batch held at once (default 30)'))
      .addOption(intOption('--batch-window <ms>', 'how long to wait to fill a generation batch (default 200)'))
      .option('--vault <dir>', 'find the embedded Redis a `run` on this vault started')
      .addOption(lockDurationOption()),
  ).action(async (opts: Record<string, unknown>) => {
    const names = String(opts.queues)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const n of names) {
      if (!(QUEUE_NAMES as string[]).includes(n)) throw new UserError(`--queues: unknown queue "${n}" (known: ${QUEUE_NAMES.join(', ')})`);
      if (!(STATELESS_QUEUES as string[]).includes(n)) throw new UserError(`--queues: "${n}" runs only on the corpus host (vault-loop run); stateless queues: ${STATELESS_QUEUES.join(', ')}`);
    }
    const cfg = configFromOptions(opts, { workers: opts.concurrency });
    const timings = timingsFromOptions(opts);
    const log = createLogger(cfg.logLevel);
    const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
    const redis = createRedis(target, 'client', (e) => log.warn({ err: e.message }, 'redis error'));
    const queues = createQueues({ connection: bullConnection(target), prefix: cfg.prefix });
    const store = new RunStore(redis, cfg.prefix);
    const ctx = createRuntimeContext({ cfg, target, redis, store, queues, log, ...(timings ? { timings } : {}) });
    const running = startWorkers(ctx, names as QueueName[]);
    process.stderr.write(`vault-loop worker: consuming ${names.join(', ')} at ${target.describe} (prefix ${cfg.prefix}), concurrency ${cfg.workers}; Ctrl-C to stop\n`);
    await new Promise<void>((resolveDone) => {
      const off = onSignals(
        (sig) => {
          process.stderr.write(`vault-loop worker: ${sig}: finishing active jobs (Ctrl-C again to force)\n`);
          void running
            .close()
            .then(() => queues.close())
            .finally(() => {
              off();
              redis.disconnect();
              resolveDone();
            });
        },
        () => {
          void running.close(true).finally(() => process.exit(130));
        },
        stopBoundMs(cfg),
      );
    });
  });
}
