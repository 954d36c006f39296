/**
 * batch: one provider batch of one run, iteration and stage (`generate` or `judge`): collects the
 * requests the stage's jobs registered, reserves their calls, submits, polls with backoff (the job
 * delays itself between polls), and stores the answers for the waiting jobs. Stateless: Redis and
 * the provider only.
 */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';

export const BATCH_STAGES = ['generate', 'judge'] as const;
export type BatchStage = (typeof BATCH_STAGES)[number];

export const batchQueue = defineQueue({
  name: 'batch',
  payload: z.object({
    runId: z.string().min(1),
    iter: z.number().int().nonnegative(),
    stage: z.enum(BATCH_STAGES),
    /** The collection round of this stage: requests registered after round N was taken go to N+1. */
    seq: z.number().int().nonnegative(),
  }),
  result: z.object({
    items: z.number().int().nonnegative(),
    succeeded: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    providerIds: z.array(z.string()),
  }),
  // Provider errors while submitting or polling are retried at length: the batch is the expensive part.
  defaults: { attempts: 10, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
});
export type BatchPayload = z.infer<typeof batchQueue.payload>;
export type BatchResult = z.infer<typeof batchQueue.result>;
