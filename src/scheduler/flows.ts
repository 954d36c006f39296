/**
 * BullMQ flows of one iteration. Every child has an explicit failure policy
 * (ignoreDependencyOnFailure): its parent always runs and reads the failures itself, so no
 * parent can wait forever. Job ids are deterministic; a flow whose parent exists is not re-added.
 */
import { FlowProducer, Job, type ConnectionOptions, type FlowJob } from 'bullmq';
import { applyQueue, controlQueue, generateQueue, judgeQueue, renderQueue, reviseQueue, type Queues, type RevisePayload } from '../queues/index.js';
import { bullPrefix } from '../redis/index.js';
import type { GenerateCell } from '../domain/plan-cell.js';
import type { Flows, JudgeChunkPlan } from './steps.js';
import { ids } from '../state/job-ids.js';

const child = { ignoreDependencyOnFailure: true } as const;

const PENDING_STATES: ReadonlySet<string> = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused']);

/**
 * True while the first judging of a chunk still waits to run, runs, or waits for its verdicts to
 * be applied (a judged chunk has no verdicts recorded until its apply job ran).
 */
export async function judgeChunkPending(queues: Pick<Queues, 'judge' | 'apply'>, runId: string, iter: number, chunk: number): Promise<boolean> {
  for (const job of [await Job.fromId(queues.apply, ids.apply(runId, iter, chunk)), await Job.fromId(queues.judge, ids.judge(runId, iter, chunk))]) {
    if (job && PENDING_STATES.has(await job.getState())) return true;
  }
  return false;
}

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

  async addGenerate(runId: string, iter: number, cells: GenerateCell[]): Promise<void> {
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

  async addJudge(runId: string, iter: number, chunks: JudgeChunkPlan[], allowPython: boolean, round = 0): Promise<void> {
    const parentId = ids.checkpoint(runId, iter, round);
    if (await this.#exists(this.#queues.control, parentId)) return;
    const children: FlowJob[] = chunks.map((c) => ({
      name: 'apply',
      queueName: applyQueue.name,
      data: applyQueue.payload.parse({
        runId,
        iter,
        chunk: c.chunk,
        round,
        drafts: c.drafts.map((d) => ({ id: d.id, path: d.path, fileHash: d.fileHash, track: String(d.doc.track) })),
      }),
      opts: { ...applyQueue.defaults, ...child, jobId: ids.apply(runId, iter, c.chunk, round) },
      children: [
        {
          name: 'judge',
          queueName: judgeQueue.name,
          data: judgeQueue.payload.parse({ runId, iter, chunk: c.chunk, round, drafts: c.drafts }),
          opts: { ...judgeQueue.defaults, ...child, jobId: ids.judge(runId, iter, c.chunk, round) },
          children: c.drafts
            .filter((d) => d.visual)
            .map((d) => ({
              name: 'render',
              queueName: renderQueue.name,
              data: renderQueue.payload.parse({ runId, iter, draftId: d.id, track: String(d.doc.track), visual: d.visual, allowPython }),
              opts: { ...renderQueue.defaults, ...child, jobId: ids.render(runId, iter, d.id, round) },
            })),
        },
      ],
    }));
    await this.#producer.add({
      name: 'checkpoint',
      queueName: controlQueue.name,
      data: { runId, iter, step: 'checkpoint', round },
      opts: { ...controlQueue.defaults, jobId: parentId },
      children,
    });
  }

  async addRevise(runId: string, iter: number, round: number, items: RevisePayload[]): Promise<void> {
    const parentId = ids.redispatch(runId, iter, round);
    if (await this.#exists(this.#queues.control, parentId)) return;
    await this.#producer.add({
      name: 'redispatch',
      queueName: controlQueue.name,
      data: { runId, iter, step: 'redispatch', round },
      opts: { ...controlQueue.defaults, jobId: parentId },
      children: items.map((it) => ({
        name: 'revise',
        queueName: reviseQueue.name,
        data: reviseQueue.payload.parse(it),
        opts: { ...reviseQueue.defaults, ...child, jobId: ids.revise(runId, iter, round, it.draft.id) },
      })),
    });
  }

  /** See judgeChunkPending. */
  async judgePending(runId: string, iter: number, chunk: number): Promise<boolean> {
    return await judgeChunkPending(this.#queues, runId, iter, chunk);
  }

  async addPlan(runId: string, iter: number): Promise<void> {
    await this.#queues.control.add('plan', { runId, iter, step: 'plan' }, { jobId: ids.plan(runId, iter) });
  }

  async close(): Promise<void> {
    await this.#producer.close();
  }
}
