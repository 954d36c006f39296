/**
 * The deterministic BullMQ job ids of an iteration's flows (a job added twice is one job), and
 * the ids read back from a child's job key.
 */
import { jobId } from '../queues/define.js';
import type { BatchStage } from '../queues/batch.js';

/** The flows' job ids (src/scheduler/flows.ts adds them). Round 0 is the first judging; later rounds (revisions) carry `r<round>` in their ids. */
const r = (round: number): string[] => (round > 0 ? [`r${round}`] : []);

export const ids = {
  plan: (runId: string, iter: number) => jobId(runId, `i${iter}`, 'plan'),
  dispatch: (runId: string, iter: number) => jobId(runId, `i${iter}`, 'dispatch'),
  redispatch: (runId: string, iter: number, round: number) => jobId(runId, `i${iter}`, `r${round}`, 'redispatch'),
  checkpoint: (runId: string, iter: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), 'checkpoint'),
  cell: (runId: string, iter: number, cell: number) => jobId(runId, `i${iter}`, `c${cell}`),
  revise: (runId: string, iter: number, round: number, draftId: string) => jobId(runId, `i${iter}`, `r${round}`, 'x', draftId),
  judge: (runId: string, iter: number, chunk: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), `k${chunk}`, 'judge'),
  apply: (runId: string, iter: number, chunk: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), `k${chunk}`, 'apply'),
  render: (runId: string, iter: number, draftId: string, round = 0) => jobId(runId, `i${iter}`, ...r(round), 'v', draftId),
  lateApply: (runId: string, iter: number, chunk: number, n: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), `k${chunk}`, 'late', n),
};

/** The cell index of a generate job key (`…-c<N>`), the draft id of a render job key (`…-v-<id>`). */
export const cellIndexOfKey = (key: string): number => Number(/-c(\d+)$/.exec(key)?.[1] ?? NaN);
export const draftIdOfKey = (key: string): string => /-v-([^:]+)$/.exec(key)?.[1] ?? '';
/** The draft id of a revise job key (`…-x-<id>`). */
export const revisedIdOfKey = (key: string): string => /-x-([^:]+)$/.exec(key)?.[1] ?? '';

/** The job id of a stage's collection round `seq` (one provider batch). */
export const batchJobId = (runId: string, iter: number, stage: BatchStage, seq: number): string => jobId(runId, `i${iter}`, stage, `b${seq}`);
