/**
 * The one place where the error family meets BullMQ: a rate limit delays the job (no attempt
 * spent), a budget, fatal provider, unsafe-path or invalid-revision error ends it for good, everything else is
 * retried with the queue's backoff.
 */
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';
import { prettifyError } from 'zod';
import { BatchPendingError, BudgetExhaustedError, LlmFatalError, LlmRateLimitedError, OtherVaultJobError, RevisionInvalidError, RunPausedError, RunStoppedError, UnsafePathError } from '../errors.js';

export { RunPausedError, RunStoppedError } from '../errors.js';

export async function translateError(e: unknown, job: Job, token: string | undefined): Promise<never> {
  if (e instanceof LlmRateLimitedError || e instanceof RunPausedError || e instanceof OtherVaultJobError || e instanceof BatchPendingError) {
    const delay = e instanceof RunPausedError || e instanceof OtherVaultJobError ? 1000 : Math.max(100, e.retryAfterMs);
    await job.moveToDelayed(Date.now() + delay, token);
    throw new DelayedError();
  }
  if (e instanceof BudgetExhaustedError || e instanceof LlmFatalError || e instanceof UnsafePathError || e instanceof RunStoppedError || e instanceof RevisionInvalidError) {
    throw new UnrecoverableError(`${e.name}: ${e.message}`);
  }
  throw e;
}

/** Validate at both ends: a bad payload is unrecoverable, with a readable reason. */
export function parsePayload<S extends z.ZodType>(schema: S, job: Job): z.infer<S> {
  const r = schema.safeParse(job.data);
  if (!r.success) throw new UnrecoverableError(`invalid ${job.queueName} payload for job ${job.id}:\n${prettifyError(r.error)}`);
  return r.data;
}
