/** The render queue's worker: one visual source to SVG (or a render error the judge sees). */
import { Worker, type Job } from 'bullmq';
import { renderQueue } from '../queues/index.js';
import type { RenderResult } from '../queues/render.js';
import { parsePayload } from './errors.js';
import { workerOpts, wrap, type RuntimeContext } from './runtime.js';

export function renderWorker(ctx: RuntimeContext): Worker {
  const processor = wrap<unknown, RenderResult>(ctx, 'render', async (job) => {
    const p = parsePayload(renderQueue.payload, job as Job);
    return await ctx.render(p);
  });
  return new Worker(renderQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}
