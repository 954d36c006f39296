/**
 * BullMQ flows of one iteration. Every child has an explicit failure policy
 * (ignoreDependencyOnFailure): its parent always runs and reads the failures itself, so no
 * parent can wait forever. Job ids are deterministic; a flow whose parent exists is not re-added.
 */
import { FlowProducer, Job, type ConnectionOptions, type FlowJob } from 'bullmq';
import { applyQueue, controlQueue, generateQueue, judgeQueue, jobId, renderQueue, type Queues } from '../queues/index.js';
import { bullPrefix } from '../redis/index.js';
import type { Flows, GenCellPayload, JudgeChunkPlan } from './steps.js';

export const ids = {
  plan: (runId: string, iter: number) => jobId(runId, `i${iter}`, 'plan'),
  dispatch: (runId: string, iter: number) => jobId(runId, `i${iter}`, 'dispatch'),
  checkpoint: (runId: string, iter: number) => jobId(runId, `i${iter}`, 'checkpoint'),
  cell: (runId: string, iter: number, cell: number) => jobId(runId, `i${iter}`, `c${cell}`),
  judge: (runId: string, iter: number, chunk: number) => jobId(runId, `i${iter}`, `k${chunk}`, 'judge'),
  apply: (runId: string, iter: number, chunk: number) => jobId(runId, `i${iter}`, `k${chunk}`, 'apply'),
  render: (runId: string, iter: number, draftId: string) => jobId(runId, `i${iter}`, 'v', draftId),
  lateApply: (runId: string, iter: number, chunk: number, n: number) => jobId(runId, `i${iter}`, `k${chunk}`, 'late', n),
};

/** The cell index of a generate job key (`…-c<N>`), the draft id of a render job key (`…-v-<id>`). */
export const cellIndexOfKey = (key: string): number => Number(/-c(\d+)$/.exec(key)?.[1] ?? NaN);
export const draftIdOfKey = (key: string): string => /-v-([^:]+)$/.exec(key)?.[1] ?? '';

const child = { ignoreDependencyOnFailure: true } as const;

export class BullFlows implements Flows {
  readonly #producer: FlowProducer;
  readonly #queues: Queues;

  constructor(connection: ConnectionOptions, prefix: string, queues: Queues) {
    this.#producer = new FlowProducer({ connection, prefix: bullPrefix(prefix) });
    this.#producer.on('error', () => {});
    this.#queues = queues;
  }

  async #exists(queue: Queues[keyof Queues], id: string): Promise<boolean> {
    return (await Job.fromId(queue, id)) !== undefined;
  }

  async addGenerate(runId: string, iter: number, cells: GenCellPayload[]): Promise<void> {
    const parentId = ids.dispatch(runId, iter);
    if (await this.#exists(this.#queues.control, parentId)) return;
    await this.#producer.add({
      name: 'dispatch',
      queueName: controlQueue.name,
      data: { runId, iter, step: 'dispatch' },
      opts: { ...controlQueue.defaults, jobId: parentId },
      children: cells.map((c) => ({
        name: 'cell',
        queueName: generateQueue.name,
        data: generateQueue.payload.parse(c),
        opts: { ...generateQueue.defaults, ...child, jobId: ids.cell(runId, iter, c.cellIndex) },
      })),
    });
  }

  async addJudge(runId: string, iter: number, chunks: JudgeChunkPlan[], allowPython: boolean): Promise<void> {
    const parentId = ids.checkpoint(runId, iter);
    if (await this.#exists(this.#queues.control, parentId)) return;
    const children: FlowJob[] = chunks.map((c) => ({
      name: 'apply',
      queueName: applyQueue.name,
      data: applyQueue.payload.parse({
        runId,
        iter,
        chunk: c.chunk,
        drafts: c.drafts.map((d) => ({ id: d.id, path: d.path, fileHash: d.fileHash, track: String(d.doc.track) })),
      }),
      opts: { ...applyQueue.defaults, ...child, jobId: ids.apply(runId, iter, c.chunk) },
      children: [
        {
          name: 'judge',
          queueName: judgeQueue.name,
          data: judgeQueue.payload.parse({ runId, iter, chunk: c.chunk, drafts: c.drafts }),
          opts: { ...judgeQueue.defaults, ...child, jobId: ids.judge(runId, iter, c.chunk) },
          children: c.drafts
            .filter((d) => d.visual)
            .map((d) => ({
              name: 'render',
              queueName: renderQueue.name,
              data: renderQueue.payload.parse({ runId, iter, draftId: d.id, track: String(d.doc.track), visual: d.visual, allowPython }),
              opts: { ...renderQueue.defaults, ...child, jobId: ids.render(runId, iter, d.id) },
            })),
        },
      ],
    }));
    await this.#producer.add({
      name: 'checkpoint',
      queueName: controlQueue.name,
      data: { runId, iter, step: 'checkpoint' },
      opts: { ...controlQueue.defaults, jobId: parentId },
      children,
    });
  }

  async addPlan(runId: string, iter: number): Promise<void> {
    await this.#queues.control.add('plan', { runId, iter, step: 'plan' }, { jobId: ids.plan(runId, iter) });
  }

  async close(): Promise<void> {
    await this.#producer.close();
  }
}
