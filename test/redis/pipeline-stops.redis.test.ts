/**
 * A whole run with the offline provider against a real Redis ends for its true reason, with
 * records on disk that say so. Each stop condition, and which one names the stop when several
 * hold, is checked without Redis: test/unit/core-saturation.test.ts (decideStop) and
 * test/unit/core-runs.test.ts (whole runs in memory).
 */
import { describe, expect, it } from 'vitest';
import { STOP } from '../../src/scheduler/steps.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('stops');

describe('stop conditions', () => {
  it('max iterations: stops after maxIters iterations, each recorded', async () => {
    const vault = await freshVault(300);
    const cfg = testConfig(redis, vault, { maxIters: 2, maxCalls: 100 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    expect(state.status).toBe('completed');
    expect(state.stopReason).toBe(STOP.maxIters);
    const rec = readRecords(vault, runId);
    expect(rec.summary.stopped_reason).toBe(STOP.maxIters);
    expect(rec.summary.iterations).toBe(2);
    expect(rec.iters.filter((i) => i.record).map((i) => i.record!.iter)).toEqual([0, 1]);
    for (const it of rec.iters.filter((i) => i.record)) {
      expect(it.record!.generated).toBeGreaterThan(0);
      expect(it.judge!.n_judged + it.judge!.unjudged.length).toBe(it.record!.generated);
    }
    expect(rec.summary.calls_used_total).toBeLessThanOrEqual(100);
    expect(rec.summary.history).toHaveLength(2);
  });
});
