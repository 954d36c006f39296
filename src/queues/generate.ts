/** generate: one plan cell; workers batch the cells they hold into one provider call. */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';
import { DraftSchema } from '../domain/draft.js';
import { GenerateCellSchema } from '../domain/plan-cell.js';
import { UsageSchema } from './schemas.js';

export const generateQueue = defineQueue({
  name: 'generate',
  payload: GenerateCellSchema,
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
