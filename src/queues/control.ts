/** control: one step of one iteration of one run (plan, dispatch, checkpoint); consumed by the corpus host. */
import { z } from 'zod';
import { defineQueue } from './define.js';

export const CONTROL_STEPS = ['plan', 'dispatch', 'checkpoint', 'redispatch'] as const;
export type ControlStep = (typeof CONTROL_STEPS)[number];

export const controlQueue = defineQueue({
  name: 'control',
  payload: z.object({
    runId: z.string().min(1),
    iter: z.number().int().nonnegative(),
    step: z.enum(CONTROL_STEPS),
    /** Revision round of a checkpoint or redispatch (0: the first judging). */
    round: z.number().int().nonnegative().default(0),
  }),
  result: z.object({ decision: z.string(), detail: z.record(z.string(), z.unknown()).optional() }),
  // Control jobs are few (three per iteration) and their ids guard against double steps: keep them.
  defaults: { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { count: 5000 }, removeOnFail: { count: 5000 } },
});
export type ControlPayload = z.infer<typeof controlQueue.payload>;
export type ControlResult = z.infer<typeof controlQueue.result>;
