/** The queue catalog: the dashboard, the CLI and the tests iterate it and keep no list of their own. */
import type { Queue } from 'bullmq';
import { applyQueue } from './apply.js';
import { batchQueue } from './batch.js';
import { controlQueue } from './control.js';
import type { QueueContext } from './define.js';
import { generateQueue } from './generate.js';
import { judgeQueue } from './judge.js';
import { QUEUE_NAMES } from './names.js';
import { renderQueue } from './render.js';
import { reviseQueue } from './revise.js';

export * from './apply.js';
export * from './batch.js';
export * from './control.js';
export * from './define.js';
export * from './generate.js';
export * from './judge.js';
export * from './names.js';
export * from './render.js';
export * from './revise.js';
export * from './schemas.js';

export const QUEUE_CATALOG = [controlQueue, generateQueue, renderQueue, judgeQueue, applyQueue, reviseQueue, batchQueue] as const;
// names.ts keeps the names light for the CLI's help; the catalog must list exactly those, in order.
if (QUEUE_CATALOG.map((q) => q.name).join() !== QUEUE_NAMES.join()) throw new Error(`queue catalog ${QUEUE_CATALOG.map((q) => q.name).join()} differs from QUEUE_NAMES ${QUEUE_NAMES.join()}`);

export interface Queues {
  control: ReturnType<typeof controlQueue.create>;
  generate: ReturnType<typeof generateQueue.create>;
  render: ReturnType<typeof renderQueue.create>;
  judge: ReturnType<typeof judgeQueue.create>;
  apply: ReturnType<typeof applyQueue.create>;
  revise: ReturnType<typeof reviseQueue.create>;
  batch: ReturnType<typeof batchQueue.create>;
}

export function createQueues(ctx: QueueContext): Queues & { all: Queue[]; close(): Promise<void> } {
  const q: Queues = {
    control: controlQueue.create(ctx),
    generate: generateQueue.create(ctx),
    render: renderQueue.create(ctx),
    judge: judgeQueue.create(ctx),
    apply: applyQueue.create(ctx),
    revise: reviseQueue.create(ctx),
    batch: batchQueue.create(ctx),
  };
  const all = [q.control, q.generate, q.render, q.judge, q.apply, q.revise, q.batch] as Queue[];
  return { ...q, all, close: async () => void (await Promise.all(all.map((x) => x.close()))) };
}
