/** apply: the verdicts of one chunk → records, and DROP files pruned when their hash still matches. */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';
import { VerdictRecordSchema } from '../domain/verdict.js';

export const ApplyDraftSchema = z.object({ id: z.string(), path: z.string(), fileHash: z.string(), track: z.string() });

export const applyQueue = defineQueue({
  name: 'apply',
  payload: z.object({
    runId: z.string().min(1),
    iter: z.number().int().nonnegative(),
    chunk: z.number().int().nonnegative(),
    /** Revision round (0: the first judging of these drafts). */
    round: z.number().int().nonnegative().default(0),
    drafts: z.array(ApplyDraftSchema),
    /** Present on a late apply: the verdicts of a judge chunk retried after its parent finished. */
    late: z
      .object({
        judgeJobId: z.string(),
        verdicts: z.array(VerdictRecordSchema),
        model: z.string(),
        svgs: z.array(z.object({ draftId: z.string(), svg: z.string() })).default([]),
      })
      .optional(),
  }),
  result: z.object({
    chunk: z.number().int().nonnegative(),
    judged: z.boolean(),
    pruned: z.array(z.string()),
    kept: z.array(z.string()),
    skippedChanged: z.array(z.string()),
    unjudged: z.array(z.string()),
  }),
  defaults: { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
});
export type ApplyPayload = z.infer<typeof applyQueue.payload>;
export type ApplyResult = z.infer<typeof applyQueue.result>;
