import { createQueues, QUEUE_NAMES, STATELESS_QUEUES, type QueueName } from '../../queues/index.js';
import { bullConnection, createRedis } from '../../redis/index.js';
import { RunStore } from '../../state/run-state.js';
import { createLogger } from '../../util/log.js';
import { createRuntimeContext } from '../../host/runtime-context.js';
import { startWorkers } from '../../host/start-workers.js';
import { configFromOptions, connectRedis, onSignals, stopBoundMs, timingsFromOptions } from '../common.js';
import { UserError } from '../output.js';

export async function worker(opts: Record<string, unknown>): Promise<void> {
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
}
