/**
 * Batch mode (--batch) in whole runs against fake batch APIs that speak the real protocols: the
 * cells and judge chunks of an iteration go out as provider batches, their answers come back
 * through the live parse / repair / validate / apply path, failed and expired items fall back to
 * live calls, the budget reserves batches before they are sent and is never exceeded, and a
 * submission cut off before its id was recorded is found at the provider instead of sent twice.
 * Whole runs that a budget ends mid-way: test/heavy/batch-budget-edge.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costOf, priceTable } from '../../src/llm/cost.js';
import type { TokenUsage } from '../../src/llm/types.js';
import { anthropicUsage, openAiUsage } from '../../src/llm/wire.js';
import { OpenAiBatchClient } from '../../src/llm/batch/openai.js';
import { AnthropicBatchClient } from '../../src/llm/batch/anthropic.js';
import type { BatchClient } from '../../src/llm/batch/types.js';
import { BatchStore } from '../../src/scheduler/batches.js';
import { RunStore } from '../../src/state/run-state.js';
import { processBatch, type BatchDeps } from '../../src/workers/batch.processor.js';
import { BatchPendingError } from '../../src/errors.js';
import { FakeBatchServer, type BatchProtocol } from '../helpers/fake-llm/index.js';
import { expectRunApplied, isGenerate, isJudge } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, offlineAnswerer, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('batchmode');

const KEY = { openai: 'openaiApiKey', anthropic: 'anthropicApiKey' } as const;

async function batchRun(protocol: BatchProtocol, seed: number, plan: (s: FakeBatchServer) => void = () => {}, flags: Record<string, unknown> = {}, defectRate = 0) {
  const vault = await freshVault(60, seed);
  const server = await FakeBatchServer.start({ protocol, apiKey: `key-${protocol}`, answer: await offlineAnswerer(seed, defectRate) });
  plan(server);
  const cfg = testConfig(redis, vault, {
    provider: protocol,
    model: 'gpt-4.1-mini',
    ...(protocol === 'anthropic' ? { model: 'claude-haiku-4-5' } : {}),
    baseUrl: server.baseUrl,
    [KEY[protocol]]: `key-${protocol}`,
    batchMode: true,
    batchPollMs: 150,
    maxIters: 1,
    maxDropRate: 1,
    maxCalls: 40,
    ...flags,
  });
  const { runId, state, host } = await runToEnd(redis, cfg);
  return { vault, server, cfg, runId, state, host };
}

describe('batch mode end to end', () => {
  /** One iteration as one generate batch and one judge batch, with no live call; its answers applied like live ones. */
  async function expectBatchedIteration(protocol: BatchProtocol, { vault, server, cfg, runId, state, host }: Awaited<ReturnType<typeof batchRun>>) {
    expect(state.status, state.stopReason ?? '').toBe('completed');
    expect(server.violations).toEqual([]);
    // One batch per stage; no live call at all.
    expect(server.batches.length).toBe(2);
    expect(server.live).toEqual([]);
    expect(server.answered.filter(isGenerate).length).toBe(server.batches[0]!.items.length);
    const judged = server.answered.filter((r) => isJudge(r));
    expect(judged.length).toBeGreaterThan(0);
    // Generation groups of genBatchSize cells, each one batch item.
    expect(server.batches[0]!.items.length).toBe(Math.ceil(Number((await host.store.iterGet(runId, 0)).planSize) / cfg.genBatchSize));
    const { verdicts } = await expectRunApplied(host, vault, runId);
    expect(verdicts.size).toBeGreaterThan(0);
    // Budget: every batch item counted once, nothing left reserved; cost at batch prices.
    const run = (await host.store.get(runId))!;
    expect(run.callsReserved).toBe(0);
    expect(run.callsUsed).toBe(server.answered.length);
    expect(run.callsUsed).toBeLessThanOrEqual(cfg.maxCalls);
    const table = priceTable();
    const batchCost = usages(protocol, server).reduce((sum, u) => sum + costOf(cfg.model!, u, table, 'batch'), 0);
    expect(run.costUsd).toBeCloseTo(batchCost, 9);
    expect(run.costUsd).toBeLessThan(usages(protocol, server).reduce((sum, u) => sum + costOf(cfg.model!, u, table, 'live'), 0));
    // The run's batches are recorded as ended, with their item counts.
    const recs = await new BatchStore(redis.client, host.store.keys).list(runId);
    expect(recs.map((r) => [r.stage, r.status, r.succeeded])).toEqual([
      ['generate', 'ended', server.batches[0]!.items.length],
      ['judge', 'ended', server.batches[1]!.items.length],
    ]);
  }

  it('openai: the iteration goes out as one generate batch and one judge batch; answers are applied like live ones', async () => {
    const done = await batchRun('openai', 31);
    try {
      await expectBatchedIteration('openai', done);
    } finally {
      await done.host.close();
      await done.server.close();
    }
  });

  describe('anthropic', () => {
    // One run read by both cases. claude-sonnet-4 caches a prefix from 1024 tokens on (claude-haiku-4-5
    // only from 4096: nothing would be cached).
    let done: Awaited<ReturnType<typeof batchRun>>;
    beforeAll(async () => {
      done = await batchRun('anthropic', 34, () => {}, { model: 'claude-sonnet-4' });
    });
    afterAll(async () => {
      await done?.host.close();
      await done?.server.close();
    });

    it('the iteration goes out as one generate batch and one judge batch; answers are applied like live ones', async () => {
      await expectBatchedIteration('anthropic', done);
      // The stable prompt head is marked for the prompt cache on every request.
      for (const b of done.server.batches) for (const it of b.items) expect(JSON.stringify(it.body)).toContain('"cache_control":{"type":"ephemeral"}');
    });

    it('every request after the first of its kind reads the marked stable head from the prompt cache; the run counts and prices those tokens', async () => {
      const { server, cfg, runId, state, host } = done;
      expect(state.status, state.stopReason ?? '').toBe('completed');
      const us = usages('anthropic', server);
      // One cache write per kind of head (generate, judge), a read on every other request.
      const reads = us.filter((u) => (u.cachedInputTokens ?? 0) > 0).length;
      const writes = us.filter((u) => (u.cacheWriteTokens ?? 0) > 0).length;
      expect([writes, reads]).toEqual([2, us.length - 2]);
      const cached = us.reduce((n, u) => n + (u.cachedInputTokens ?? 0), 0);
      expect(cached).toBeGreaterThan(1024 * reads);
      const run = (await host.store.get(runId))!;
      expect(run.tokensCached).toBe(cached);
      // Cached tokens at the cached batch rate: cheaper than the same tokens uncached.
      const table = priceTable();
      expect(run.costUsd).toBeCloseTo(us.reduce((sum, u) => sum + costOf(cfg.model!, u, table, 'batch'), 0), 9);
      const uncached = us.reduce((sum, u) => sum + costOf(cfg.model!, { inputTokens: u.inputTokens, outputTokens: u.outputTokens }, table, 'batch'), 0);
      expect(run.costUsd).toBeLessThan(uncached);
    });
  });

  it('openai: failed items and an expired judge batch fall back to live calls within the budget', async () => {
    const { vault, server, cfg, runId, state, host } = await batchRun('openai', 32, (s) => s.plan({ fates: { 0: 'errored' } }, { end: 'expired' }));
    try {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);
      const [gen, judge] = server.batches;
      expect(gen).toBeDefined();
      expect(judge).toBeDefined();
      // The errored generate item and every expired judge item were asked again, live.
      const expired = Math.floor(judge!.items.length / 2);
      expect(server.live.filter(isGenerate).length).toBeGreaterThanOrEqual(1);
      expect(server.live.filter(isJudge).length).toBe(expired);
      const { verdicts, unjudged, drafts } = await expectRunApplied(host, vault, runId);
      for (const id of drafts.keys()) expect(Number(verdicts.has(id)) + Number(unjudged.has(id))).toBe(1);
      expect(unjudged.size).toBe(0);
      const run = (await host.store.get(runId))!;
      expect(run.callsReserved).toBe(0);
      // Failed and expired batch items are not billed; live fallbacks are.
      expect(run.callsUsed).toBe(server.answered.length + server.live.length);
      expect(run.callsUsed).toBeLessThanOrEqual(cfg.maxCalls);
    } finally {
      await host.close();
      await server.close();
    }
  });
});


/** Runs the batch job as its worker would (again after each pending poll) until the batch ended. */
async function processUntilEnded(p: Parameters<typeof processBatch>[0], deps: BatchDeps, onPending: () => Promise<void> = async () => {}) {
  for (let i = 0; i < 10; i++) {
    try {
      return await processBatch(p, deps);
    } catch (e) {
      if (!(e instanceof BatchPendingError)) throw e;
      await onPending();
    }
  }
  throw new Error('the batch did not end within 10 polls');
}

/** What each answered batch item's usage block reads as (the providers' own readers). */
function usages(protocol: BatchProtocol, server: FakeBatchServer): TokenUsage[] {
  return server.answeredUsage.map((u) => (protocol === 'openai' ? openAiUsage(u as never) : anthropicUsage(u as never)));
}

describe('batch submission is idempotent and budgeted', () => {
  it('a submission cut off before its id was recorded is found at the provider, not sent twice', async () => {
    for (const protocol of ['openai', 'anthropic'] as const) {
      const server = await FakeBatchServer.start({ protocol, apiKey: 'k', answer: () => '[]' });
      const store = new RunStore(redis.client, redis.prefix);
      const batches = new BatchStore(redis.client, store.keys);
      const runId = `recon-${protocol}`;
      await store.create({ runId, vault: '/v', maxCalls: 10, config: {}, generator: { provider: protocol, model: 'm' }, judge: { provider: protocol, model: 'm' } });
      const settings = { apiKey: 'k', model: 'gpt-4.1-mini', baseUrl: server.baseUrl };
      const real: BatchClient = protocol === 'openai' ? new OpenAiBatchClient(settings) : new AnthropicBatchClient(settings);
      // The first worker "dies" right after the provider accepted the batch: its id is never written.
      let crash = true;
      const dying: BatchClient = {
        provider: real.provider,
        model: real.model,
        limits: real.limits,
        itemBytes: (i) => real.itemBytes(i),
        submit: async (items, key) => {
          const id = await real.submit(items, key);
          if (crash) throw new Error('process killed after submit');
          return id;
        },
        findByKey: (k, since, count, taken) => real.findByKey(k, since, count, taken),
        status: (id) => real.status(id),
        results: (id, reqs) => real.results(id, reqs),
        cancel: (id) => real.cancel(id),
      };
      const deps: BatchDeps = { store, batches, client: async () => dying, costOf: async () => 0, pollMs: async () => 100, now: () => Date.now(), log: () => {} };
      for (let i = 0; i < 3; i++) await batches.register(runId, 0, 'generate', `h${i}`, { purpose: 'generate', prompt: `p${i}`, jsonSchema: { name: 'a', schema: { type: 'array' } } });
      const p = { runId, iter: 0, stage: 'generate' as const, seq: 0 };
      await expect(processBatch(p, deps)).rejects.toThrow('process killed after submit');
      crash = false;
      // The retry reconciles, then polls until the fake batch ends.
      for (let i = 0; i < 10; i++) {
        try {
          await processBatch(p, deps);
          break;
        } catch (e) {
          if (!(e instanceof BatchPendingError)) throw e;
        }
      }
      expect(server.batches.length, protocol).toBe(1);
      const rec = (await batches.get(runId, 'i0-generate-b0'))!;
      expect(rec.status).toBe('ended');
      expect(rec.parts.map((x) => x.providerId)).toEqual([server.batches[0]!.id]);
      // Reserved once (3 of 10), settled once per item.
      const run = (await store.get(runId))!;
      expect(run.callsReserved).toBe(0);
      expect(run.callsUsed).toBe(3);
      expect(server.violations).toEqual([]);
      await server.close();
    }
  });

  it('openai: an input file uploaded by a submission that never heard back is reused, not uploaded again', async () => {
    const server = await FakeBatchServer.start({ protocol: 'openai', apiKey: 'k', answer: () => '[]' });
    server.withholdNext('upload');
    const store = new RunStore(redis.client, redis.prefix);
    const batches = new BatchStore(redis.client, store.keys);
    const runId = 'reupload';
    await store.create({ runId, vault: '/v', maxCalls: 10, config: {}, generator: { provider: 'openai', model: 'm' }, judge: { provider: 'openai', model: 'm' } });
    // The upload's answer never comes: the call times out as a killed process's would never return.
    const client = new OpenAiBatchClient({ apiKey: 'k', model: 'gpt-4.1-mini', baseUrl: server.baseUrl, timeoutMs: 1_000 });
    const deps: BatchDeps = { store, batches, client: async () => client, costOf: async () => 0, pollMs: async () => 100, now: () => Date.now(), log: () => {} };
    for (let i = 0; i < 3; i++) await batches.register(runId, 0, 'generate', `u${i}`, { purpose: 'generate', prompt: `p${i}`, jsonSchema: { name: 'a', schema: { type: 'array' } } });
    const p = { runId, iter: 0, stage: 'generate' as const, seq: 0 };
    await expect(processBatch(p, deps)).rejects.toThrow();
    expect([server.uploads.length, server.batches.length]).toEqual([1, 0]);
    expect(await processUntilEnded(p, deps)).toMatchObject({ items: 3, succeeded: 3, failed: 0 });
    // One upload, one batch over it.
    expect(server.uploads.length).toBe(1);
    expect(server.batches.map((b) => b.inputFileId)).toEqual([server.uploads[0]!.id]);
    expect(server.violations).toEqual([]);
    await server.close();
  });

  it('a batch reserves only what the budget holds, once; the rest fails before it is sent', async () => {
    const server = await FakeBatchServer.start({ protocol: 'openai', apiKey: 'k', answer: () => '[]' });
    const store = new RunStore(redis.client, redis.prefix);
    const batches = new BatchStore(redis.client, store.keys);
    const runId = 'budget-batch';
    await store.create({ runId, vault: '/v', maxCalls: 4, config: {}, generator: { provider: 'openai', model: 'm' }, judge: { provider: 'openai', model: 'm' } });
    await store.reserveCall(runId); // one call already in flight elsewhere
    const client = new OpenAiBatchClient({ apiKey: 'k', model: 'gpt-4.1-mini', baseUrl: server.baseUrl });
    const deps: BatchDeps = { store, batches, client: async () => client, costOf: async () => 0.001, pollMs: async () => 100, now: () => Date.now(), log: () => {} };
    for (let i = 0; i < 6; i++) await batches.register(runId, 0, 'judge', `j${i}`, { purpose: 'judge', prompt: `q${i}`, jsonSchema: { name: 'a', schema: { type: 'array' } } });
    const p = { runId, iter: 0, stage: 'judge' as const, seq: 0 };
    const result = await processUntilEnded(p, deps, async () => {
      const run = (await store.get(runId))!;
      expect(run.callsUsed + run.callsReserved).toBeLessThanOrEqual(4);
    });
    expect(result).toMatchObject({ items: 6, succeeded: 3, failed: 3 });
    expect(server.batches[0]!.items.length).toBe(3);
    for (const h of ['j3', 'j4', 'j5']) expect(await batches.outcome(runId, h)).toMatchObject({ ok: false, error: 'budget exhausted before the batch was sent' });
    const run = (await store.get(runId))!;
    expect(run.callsUsed).toBe(3);
    expect(run.callsReserved).toBe(1);
    expect(run.costUsd).toBeCloseTo(0.003, 9);
    await server.close();
  });
});
