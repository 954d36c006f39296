/** Retrying failed jobs: shared by `vault-loop retry` and the dashboard's retry button. */
import { NotFoundError, StateConflictError } from '../errors.js';
import type { Queues } from '../queues/index.js';

export interface RetriedJob {
  id: string;
  runId: string | undefined;
}

/** Re-enqueues every failed job of a queue (optionally of one run); returns the retried jobs. */
export async function retryFailedJobs(queues: Queues, queue: keyof Queues, runId?: string): Promise<RetriedJob[]> {
  const q = queues[queue];
  const retried: RetriedJob[] = [];
  // Collect first: a retried job leaves the failed list, which would shift any paging.
  const jobs = await q.getFailed(0, -1);
  for (const job of jobs) {
    const jobRun = (job?.data as { runId?: string } | undefined)?.runId;
    if (!job || (runId && jobRun !== runId)) continue;
    await job.retry('failed');
    retried.push({ id: String(job.id), runId: jobRun });
  }
  return retried;
}

/** Re-enqueues every failed job of a queue (optionally of one run); returns the retried job ids. */
export async function retryFailed(queues: Queues, queue: keyof Queues, runId?: string): Promise<string[]> {
  return (await retryFailedJobs(queues, queue, runId)).map((j) => j.id);
}

/** Retries one failed judge chunk of a run (the dashboard's per-chunk button). */
export async function retryJudgeJob(queues: Queues, runId: string, jobId: string): Promise<void> {
  const job = await queues.judge.getJob(jobId);
  if (!job || job.data.runId !== runId) throw new NotFoundError(`judge job ${jobId} of run ${runId} not found`);
  const state = await job.getState();
  if (state !== 'failed') throw new StateConflictError(`judge job ${jobId} is ${state}, not failed`);
  await job.retry('failed');
}
