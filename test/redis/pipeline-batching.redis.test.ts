/**
 * Generation batching across generate jobs (the cells a worker holds packed into few calls), and a
 * job that cannot reserve a call ending with a clear budget reason. One call per batch
 * (test/unit/core-batches.test.ts, and the batcher in pipeline-units.test.ts), --visual-each-iter
 * and variantSalt are checked without Redis (test/unit/core-runs.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import type { CompletionRequest } from '../../src/llm/types.js';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { STOP } from '../../src/scheduler/steps.js';
import { silentLogger } from '../../src/util/log.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, readRecords, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('batching');

async function runCounting(cfg: Config): Promise<{ runId: string; generateCalls: number; host: CorpusHost }> {
  let generateCalls = 0;
  const host = await CorpusHost.open({
    cfg,
    vault: cfg.vault!,
    target: { options: redis.options, describe: redis.url },
    log: silentLogger,
    inProcessWorkers: true,
    hooks: { onProviderCall: (req: CompletionRequest) => void (req.purpose === 'generate' && generateCalls++) },
  });
  const runId = await host.startRun(cfg);
  await host.waitForRun(runId, undefined, undefined, 100);
  return { runId, generateCalls, host };
}

describe('generation batching', () => {
  it('genBatchSize 5 packs the cells a worker holds into few calls', async () => {
    const vault = await freshVault(300, 72);
    const { runId, generateCalls, host } = await runCounting(testConfig(redis, vault, { maxIters: 1, genBatchSize: 5, genCallsPerIter: 4, maxCalls: 100, batchWindowMs: 500 }));
    await host.close();
    const rec = readRecords(vault, runId).iters[0]!.record!;
    expect(rec.generated).toBe(20);
    expect(generateCalls).toBeGreaterThanOrEqual(4);
    expect(generateCalls).toBeLessThan(20);
  });
});

describe('budget', () => {
  it('a job that cannot reserve a call ends with a clear budget reason, and the run stops with "budget exhausted"', async () => {
    const vault = await freshVault(300, 73);
    const cfg = testConfig(redis, vault, { maxIters: 3, genBatchSize: 1, genCallsPerIter: 8, workers: 1, maxCalls: 20, offlineLatencyMs: 300 });
    const host = await CorpusHost.open({ cfg, vault, target: { options: redis.options, describe: redis.url }, log: silentLogger, inProcessWorkers: true });
    const runId = await host.startRun(cfg);
    // Once generation is under way, another process spends the rest of the budget.
    await host.waitForRun(
      runId,
      async (s) => {
        if (s.phase === 'generate' && s.callsUsed + s.callsReserved > 0 && s.callsUsed < s.maxCalls) await host.store.set(runId, { callsUsed: s.maxCalls });
      },
      undefined,
      20,
    );
    const state = (await host.store.get(runId))!;
    const failed = (await host.queues.generate.getFailed(0, -1)).filter((j) => j?.data.runId === runId);
    await host.close();
    expect(state.stopReason).toBe(STOP.budget);
    expect(failed.length).toBeGreaterThan(0);
    for (const j of failed) {
      expect(j.failedReason).toMatch(/^BudgetExhaustedError: budget exhausted: \d+ of 20 provider calls used or reserved$/);
      expect(j.attemptsMade).toBe(1); // unrecoverable: not retried
    }
    const rec = readRecords(vault, runId);
    expect(rec.iters[0]!.record!.cells_failed.length).toBe(failed.length);
    expect(rec.iters[0]!.record!.cells_failed.every((c) => /budget exhausted/.test(c.error))).toBe(true);
    expect(rec.summary.stopped_reason).toBe(STOP.budget);
  });
});
