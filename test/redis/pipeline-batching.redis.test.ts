/**
 * Generation batching (one provider call per genBatchSize cells), a job that cannot reserve a
 * call ending with a clear budget reason, --visual-each-iter on even iterations only, and runs
 * made reproducible by variantSalt.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  it('genBatchSize 1 gives one provider call per cell', async () => {
    const vault = await freshVault(300, 71);
    const { runId, generateCalls, host } = await runCounting(testConfig(redis, vault, { maxIters: 1, genBatchSize: 1, genCallsPerIter: 8, maxCalls: 100 }));
    await host.close();
    const rec = readRecords(vault, runId).iters[0]!.record!;
    expect(rec.plan_size).toBe(8);
    expect(rec.generated).toBe(8);
    expect(generateCalls).toBe(8);
  });

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

describe('--visual-each-iter', () => {
  it('asks for visuals on iterations 0, 2, 4 … only', async () => {
    const vault = await freshVault(300, 74);
    const { runId, host } = await runCounting(testConfig(redis, vault, { maxIters: 3, maxCalls: 100, visualEachIter: true, genBatchSize: 5, genCallsPerIter: 2 }));
    await host.close();
    const rec = readRecords(vault, runId);
    expect(rec.iters.slice(0, 3).map((i) => i.record!.visual)).toEqual([true, false, true]);
    const withVisual = (i: number) => (rec.iters[i]!.plan as { with_visual: boolean }[]).filter((c) => c.with_visual).length;
    expect(withVisual(0)).toBeGreaterThan(0);
    expect(withVisual(1)).toBe(0);
    expect(withVisual(2)).toBeGreaterThan(0);
  });
});

describe('variantSalt', () => {
  const drafts = async (vault: string, flags: Record<string, unknown>): Promise<{ texts: string[]; variants: string[] }> => {
    const prompts: string[] = [];
    const host = await CorpusHost.open({
      cfg: testConfig(redis, vault),
      vault,
      target: { options: redis.options, describe: redis.url },
      log: silentLogger,
      inProcessWorkers: true,
      hooks: { onProviderCall: (req: CompletionRequest) => void (req.purpose === 'generate' && prompts.push(req.prompt)) },
    });
    try {
      const cfg = testConfig(redis, vault, { maxIters: 1, maxCalls: 20, cacheTtlSeconds: 0, offlineDefectRate: 0.5, ...flags });
      const runId = await host.startRun(cfg);
      await host.waitForRun(runId, undefined, undefined, 100);
      // Every draft's path, and the text of those the judge kept (less the run's own tag and date).
      const own = (text: string) => text.replaceAll(`run-${runId}`, 'run-<id>').replace(/^created_at: .*$/m, '');
      const texts = [...(await host.store.drafts(runId)).values()].map((d) => (existsSync(join(vault, d.path)) ? own(readFileSync(join(vault, d.path), 'utf8')) : `(dropped) ${d.path}`)).sort();
      const variants = prompts.flatMap((p) => [...p.matchAll(/"variant": "([^"]+)"/g)].map((m) => m[1]!)).sort();
      return { texts, variants };
    } finally {
      await host.close();
    }
  };

  it('the same vault, seed and salt give the same prompts and drafts; without a salt each run differs', async () => {
    const a = await drafts(await freshVault(300, 75), { variantSalt: 'repro' });
    const b = await drafts(await freshVault(300, 75), { variantSalt: 'repro' });
    expect(a.texts.length).toBeGreaterThan(0);
    expect(a.variants.length).toBe(a.texts.length);
    expect(a.variants.every((v) => v.startsWith('repro-0-'))).toBe(true);
    expect(b).toEqual(a);
    const c = await drafts(await freshVault(300, 75), { variantSalt: undefined });
    expect(c.variants.every((v) => /^\d{8}_\d{6}(-\d+)?-0-/.test(v))).toBe(true);
    expect(c.texts).not.toEqual(a.texts);
  });
});
