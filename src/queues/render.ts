/** render: one visual source of one draft → SVG text or a render error. */
import { z } from 'zod';
import { defineQueue, KEEP_COMPLETED, KEEP_FAILED } from './define.js';
import { VisualSourceSchema } from '../domain/draft.js';

export const renderQueue = defineQueue({
  name: 'render',
  payload: z.object({
    runId: z.string().min(1),
    iter: z.number().int().nonnegative(),
    draftId: z.string().min(1),
    track: z.string().min(1),
    visual: VisualSourceSchema,
    allowPython: z.boolean(),
  }),
  result: z.object({
    draftId: z.string(),
    ok: z.boolean(),
    svg: z.string().optional(),
    error: z.string().optional(),
    warnings: z.array(z.string()),
  }),
  defaults: { attempts: 2, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED },
});
export type RenderPayload = z.infer<typeof renderQueue.payload>;
export type RenderResult = z.infer<typeof renderQueue.result>;
