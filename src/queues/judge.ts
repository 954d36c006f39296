/** judge: one chunk of drafts; one provider call (after the deterministic pre-judge). */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';
import { JudgeDraftSchema } from '../domain/draft.js';
import { VerdictRecordSchema } from '../domain/verdict.js';
import { UsageSchema } from './schemas.js';


export const judgeQueue = defineQueue({
  name: 'judge',
  payload: z.object({
    runId: z.string().min(1),
    iter: z.number().int().nonnegative(),
    chunk: z.number().int().nonnegative(),
    /** Revision round (0: the first judging of these drafts). */
    round: z.number().int().nonnegative().default(0),
    drafts: z.array(JudgeDraftSchema).min(1),
  }),
  result: z.object({
    chunk: z.number().int().nonnegative(),
    verdicts: z.array(VerdictRecordSchema),
    unjudged: z.array(z.object({ id: z.string(), reason: z.string() })),
    model: z.string(),
    usage: UsageSchema,
    calls: z.number().int().nonnegative(),
    cached: z.boolean(),
    /** Rendered SVGs of this chunk's visuals (written next to kept drafts by apply). */
    svgs: z.array(z.object({ draftId: z.string(), svg: z.string() })).default([]),
    /** True when this result was applied by a standalone (late) apply job. */
    late: z.boolean().optional(),
  }),
  // Failed judge chunks are kept so they can be retried from Bull Board or `vault-loop retry`.
  defaults: { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
});
export type JudgePayload = z.infer<typeof judgeQueue.payload>;
export type JudgeResult = z.infer<typeof judgeQueue.result>;
