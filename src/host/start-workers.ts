/**
 * Starts the workers of the queues a process serves (the only place, with src/scheduler/flows.ts,
 * that creates BullMQ workers): one factory per queue, `src/workers/<queue>.worker.ts`.
 */
import type { Worker } from 'bullmq';
import type { QueueName } from '../queues/index.js';
import type { RuntimeContext } from '../workers/runtime.js';
import { applyWorker } from '../workers/apply.worker.js';
import { batchWorker } from '../workers/batch.worker.js';
import { controlWorker } from '../workers/control.worker.js';
import { generateWorker } from '../workers/generate.worker.js';
import { judgeWorker } from '../workers/judge.worker.js';
import { renderWorker } from '../workers/render.worker.js';
import { reviseWorker } from '../workers/revise.worker.js';

export const WORKER_FACTORIES: Record<QueueName, (ctx: RuntimeContext) => Worker> = {
  control: controlWorker,
  generate: generateWorker,
  render: renderWorker,
  judge: judgeWorker,
  apply: applyWorker,
  revise: reviseWorker,
  batch: batchWorker,
};

export interface RunningWorkers {
  workers: Worker[];
  close(force?: boolean): Promise<void>;
}

export function startWorkers(ctx: RuntimeContext, names: QueueName[]): RunningWorkers {
  const workers = names.map((n) => {
    if ((n === 'control' || n === 'apply') && !ctx.corpus) throw new Error(`the ${n} queue runs only on the corpus host (vault-loop run)`);
    const w = WORKER_FACTORIES[n]!(ctx);
    w.on('error', (e) => ctx.log.warn({ queue: n, err: e.message }, 'worker error'));
    w.on('failed', (job, e) => ctx.log.info({ queue: n, jobId: job?.id, err: e.message, attempts: job?.attemptsMade }, 'job failed'));
    return w;
  });
  return {
    workers,
    close: async (force = false) => void (await Promise.all(workers.map((w) => w.close(force)))),
  };
}
