/**
 * Batch mode (--batch) at the edge of the budget, a whole run per provider protocol against fake
 * batch APIs that speak the real protocols: a budget that ends the run mid-way, batches sized to
 * it, failed items falling back to live calls, answers repaired, and never one call over. (Batch
 * mode end to end, its fallbacks and idempotent submission: test/redis/batch-mode.redis.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { STOP } from '../../src/scheduler/steps.js';
import { FakeBatchServer } from '../helpers/fake-llm/index.js';
import { expectRunApplied } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, offlineAnswerer, openHost, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('batch-budget');

const KEY = { openai: 'openaiApiKey', anthropic: 'anthropicApiKey' } as const;

describe('batch mode at the edge of the budget', () => {
  it.each(['openai', 'anthropic'] as const)('%s: a budget that ends the run mid-way, batches sized to it, failed items falling back live, answers repaired: never one call over', async (protocol) => {
    const MAX = 9;
    const vault = await freshVault(300, 33);
    const server = await FakeBatchServer.start({ protocol, apiKey: `key-${protocol}`, answer: await offlineAnswerer(33, 0.4) });
    // Generation: one item errors (its cells go live); judging: the batch expires half its items (live again).
    server.plan({ fates: { 0: 'errored' } }, { end: protocol === 'openai' ? 'expired' : 'completed', fates: protocol === 'anthropic' ? { 0: 'expired' } : {} });
    const cfg = testConfig(redis, vault, {
      provider: protocol,
      model: protocol === 'openai' ? 'gpt-4.1-mini' : 'claude-haiku-4-5',
      baseUrl: server.baseUrl,
      [KEY[protocol]]: `key-${protocol}`,
      batchMode: true,
      batchPollMs: 150,
      maxIters: 3,
      maxDropRate: 1,
      maxCalls: MAX,
      genCallsPerIter: 4,
    });
    const host = await openHost(redis, cfg);
    try {
      const runId = await host.startRun(cfg);
      // The ledger, at every look: calls made, reserved and set aside for judging never above the limit.
      let peak = 0;
      const state = await host.waitForRun(runId, (s) => void (peak = Math.max(peak, s.callsUsed + s.callsReserved + s.judgePool)), undefined, 20);
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);
      expect(peak).toBeLessThanOrEqual(MAX);
      // What the provider answered (batch items and live calls) is what the run counted, within the limit.
      const billed = server.answered.length + server.live.length;
      expect(state.callsUsed).toBe(billed);
      expect(billed).toBeLessThanOrEqual(MAX);
      expect(state.callsReserved).toBe(0);
      // The budget, not the plan, ended the run (fewer than two calls left), and some of it went live.
      expect([state.stopReason, state.callsUsed >= MAX - 1], JSON.stringify({ used: state.callsUsed, batches: server.batches.map((b) => b.items.length), live: server.live.length })).toEqual([STOP.budget, true]);
      expect(server.live.length).toBeGreaterThan(0);
      const { verdicts, unjudged, drafts } = await expectRunApplied(host, vault, runId);
      for (const id of drafts.keys()) expect(Number(verdicts.has(id)) + Number(unjudged.has(id))).toBe(1);
    } finally {
      await host.close();
      await server.close();
    }
  });
});
