/** generate: one plan cell; workers batch the cells they hold into one provider call. */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';
import { DraftSchema, PlanCellSchema, UsageSchema } from './schemas.js';

export const generateQueue = defineQueue({
  name: 'generate',
  payload: z.object({
    runId: z.string().min(1),
    iter: z.number().int().nonnegative(),
    cellIndex: z.number().int().nonnegative(),
    cell: PlanCellSchema,
    /** Unique per run, iteration and cell, so repeated cells give different drafts. */
    variant: z.string().min(1),
    /** The draft's id, minted by the plan step in plan order. */
    draftId: z.string().regex(/^[a-z]+-\d+$/),
  }),
  result: z.object({
    cellIndex: z.number().int().nonnegative(),
    draft: DraftSchema,
    model: z.string(),
    usage: UsageSchema,
    cached: z.boolean(),
    repaired: z.boolean(),
    /** What was normalized or ignored in the model's item (area remapped, an id or path it sent…). */
    notes: z.array(z.string()).default([]),
  }),
  defaults: { attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
});
export type GeneratePayload = z.infer<typeof generateQueue.payload>;
export type GenerateResult = z.infer<typeof generateQueue.result>;
