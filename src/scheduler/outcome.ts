/**
 * What a run's end says about it: the rules are in src/core/outcome.ts; here, the one step that
 * needs Redis itself.
 */
import { failedJudgeChunks } from '../core/outcome.js';
import type { RunStore } from '../state/run-state.js';

/**
 * After a late apply: a run that ended failed only because judge chunks failed, and whose chunks
 * are all judged now, is completed with the reason it stopped for in the first place.
 */
export async function settleAfterLateApply(store: RunStore, runId: string): Promise<void> {
  const run = await store.get(runId);
  if (!run || run.status !== 'failed' || !run.stopReason?.startsWith('judge failed for')) return;
  if ((await failedJudgeChunks(store, runId)).length > 0) return;
  const base = (await store.redis.hget(store.keys.run(runId), 'baseStopReason')) || run.stopReason;
  if (base.startsWith('judge failed for')) return; // the iteration's judge failing stopped it: still a failure of that iteration's plan
  await store.set(runId, { stopReason: base });
  await store.setStatus(runId, 'completed');
}
