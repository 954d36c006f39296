/** revise: one NEEDS_FIX draft with the judge's issues and fix suggestion → the revised draft. */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';
import { DraftSchema, UsageSchema } from './schemas.js';

export const ReviseTargetSchema = DraftSchema.extend({
  path: z.string().min(1),
  /** sha256 of the file as judged: the revision replaces the file only if it still has it. */
  fileHash: z.string().regex(/^[0-9a-f]{64}$/),
});

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
