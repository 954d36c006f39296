/**
 * `retry --queue judge --run RUN` takes only that run's failed chunks and leaves every other run's
 * alone; without `--run` it takes the failed chunks of every run.
 */
import { describe, expect, it } from 'vitest';
import { retryFailedJobs } from '../../src/services/retry-jobs.js';
import { freshVault, runToEnd, testConfig } from '../helpers/pipeline.js';
import { failingJudge } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';

const redis = fileRedis('retry-scope');

describe('retry scope', () => {
  it('--run retries only that run; no --run retries every run', async () => {
    // Every judge request fails: both runs end with failed judge chunks.
    const { server, judge } = await failingJudge(71, { failures: 400 });
    const runs: string[] = [];
    try {
      for (const seed of [71, 72]) {
        const vault = await freshVault(300, seed);
        const cfg = testConfig(redis, vault, { maxIters: 1, maxCalls: 40, ...judge });
        const { runId, state, host } = await runToEnd(redis, cfg);
        expect(state.status).toBe('failed');
        expect(state.stopReason).toMatch(/^judge failed for \d+ chunks?/);
        runs.push(runId);
        if (seed === 72) {
          const failedOf = async (run: string) => (await host.queues.judge.getFailed(0, -1)).filter((j) => (j.data as { runId: string }).runId === run).map((j) => String(j.id)).sort();
          const [a, b] = runs as [string, string];
          const failedA = await failedOf(a);
          const failedB = await failedOf(b);
          expect(failedA.length).toBeGreaterThan(0);
          expect(failedB.length).toBeGreaterThan(0);
          // The judge still fails, so retried chunks fail again and come back to the failed list:
          // what matters is which jobs each command took.
          const onlyA = await retryFailedJobs(host.queues, 'judge', a);
          expect(onlyA.map((j) => j.id).sort()).toEqual(failedA);
          expect(onlyA.every((j) => j.runId === a)).toBe(true);
          expect(await failedOf(b)).toEqual(failedB);
          const all = await retryFailedJobs(host.queues, 'judge');
          expect(all.map((j) => j.runId)).toContain(b);
          expect(all.filter((j) => j.runId === b).map((j) => j.id).sort()).toEqual(failedB);
        }
        await host.close();
      }
    } finally {
      await server.close();
    }
  }, 180_000);
});
