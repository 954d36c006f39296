/** revise: one NEEDS_FIX draft with the judge's issues and fix suggestion → the revised draft. */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';
import { DraftSchema, ReviseTargetSchema } from '../domain/draft.js';
import { UsageSchema } from './schemas.js';


export const reviseQueue = defineQueue({
  name: 'revise',
  payload: z.object({
    runId: z.string().min(1),
    iter: z.number().int().nonnegative(),
    /** The revision round this job produces (1 for the first revision). */
    round: z.number().int().positive(),
    draft: ReviseTargetSchema,
    issues: z.array(z.string()),
    fix_suggestion: z.string(),
  }),
  result: z.object({
    id: z.string(),
    draft: DraftSchema,
    model: z.string(),
    usage: UsageSchema,
    cached: z.boolean(),
  }),
  defaults: { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
});
export type RevisePayload = z.infer<typeof reviseQueue.payload>;
export type ReviseResult = z.infer<typeof reviseQueue.result>;
