/**
 * The budget sweep shared by test/redis/budget-judge-reserve.redis.test.ts and
 * test/heavy/budget-judge-reserve-sweep.test.ts. Judge what you buy: the plan step sets aside, in Redis, the judge calls of its drafts before any
 * generate call, and generation with its repair calls spends only the rest. Over budgets of 2 to
 * 10 calls, with a model whose every generate answer needs a repair call and with one that needs
 * none, a run never leaves a draft unjudged and never makes more provider calls than its budget
 * (counted at the fake provider, which sees every request of both roles).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { FakeLlmServer } from './fake-llm/index.js';
import { afterRun, freshVault, offlineAnswerer, readRecords, testConfig } from './pipeline.js';
import { isGenerate, isJudge, isRepair } from './provider-runs.js';
import { useTestRedis, type TestRedis } from './redis.js';

const KEY = 'sk-budget';

/**
 * Registers the sweep in the calling test file: one whole run per budget in `budgets`, with and
 * without repair calls. `npm test` runs two budgets; the heavy suite runs the rest.
 */
export function budgetSweep(name: string, budgets: readonly number[]): void {
  let redis: TestRedis;
  let server: FakeLlmServer;

  beforeAll(async () => {
    redis = await useTestRedis(name);
    const offline = await offlineAnswerer(7);
    server = await FakeLlmServer.start({
      protocol: 'openai',
      apiKey: KEY,
      answer: async (req) => {
        if (isRepair(req)) {
          // The repair: each item the errors name, its scenario lines joined into one text.
          const block = readPromptBlock(req.prompt ?? '', 'repair') as { answer: { cell_index: number; item: Record<string, unknown> }[] };
          return JSON.stringify(block.answer.map((a) => ({ ...a.item, cell_index: a.cell_index, scenario: (a.item.scenario as string[]).join(' ') })));
        }
        const text = await offline(req);
        // "needs repair" runs: every generated item sends its scenario as a list of lines, which the
        // schema rejects and the repair call joins into one text.
        if (req.prompt?.includes('force-repair') && isGenerate(req) && !isRepair(req)) {
          const items = JSON.parse(text) as Record<string, unknown>[];
          return JSON.stringify(items.map((it) => ({ ...it, scenario: [it.scenario] })));
        }
        return text;
      },
    });
  });
  afterAll(async () => {
    await server?.close();
    await redis.cleanup();
  });

  const cases = budgets.flatMap((maxCalls) => [
    { maxCalls, repair: false },
    { maxCalls, repair: true },
  ]);

  describe(`a budget of ${budgets.join(', ')} calls`, () => {
    it.each(cases)('maxCalls $maxCalls, repair calls needed: $repair — no unjudged draft, no call past the budget', async ({ maxCalls, repair }) => {
      const vault = await freshVault(300, 19);
      const before = server.requests.length;
      const cfg = testConfig(redis, vault, {
        provider: 'openai',
        model: 'gen-model',
        baseUrl: server.baseUrl,
        judgeProvider: 'openai',
        judgeModel: 'judge-model',
        judgeBaseUrl: server.baseUrl,
        openaiApiKey: KEY,
        cacheTtlSeconds: 0,
        maxCalls,
        maxIters: 10,
        maxDropRate: 1,
        gapThreshold: 0,
        genBatchSize: 3,
        // Batches fill before the window ends even on a loaded machine (a split batch is one more
        // generate call, which the budget pays like any other but which these counts do not expect).
        batchWindowMs: 1000,
        genCallsPerIter: 2,
        judgeChunkSize: 2,
        // The salt travels in every cell's variant, so the fake model knows which runs need repairs.
        variantSalt: `${repair ? 'force-repair' : 'clean'}-${maxCalls}`,
      });
      await afterRun(redis, cfg, [], async ({ runId, state, host }) => {
        const seen = server.requests.slice(before);
        expect(server.violations).toEqual([]);
        // Every call of this run reached the fake server: no more than the budget, and Redis agrees.
        expect(seen.length).toBeLessThanOrEqual(maxCalls);
        expect(state.callsUsed).toBe(seen.length);
        expect(state.callsReserved).toBe(0);
        expect(state.judgePool).toBe(0);
        expect(state.status).toBe('completed');

        const drafts = await host.store.drafts(runId);
        const verdicts = await host.store.verdicts(runId);
        const unjudged = await host.store.unjudged(runId);
        expect(unjudged.size).toBe(0);
        expect([...drafts.keys()].filter((id) => !verdicts.has(id))).toEqual([]);
        const rec = readRecords(vault, runId);
        expect(rec.summary.history.reduce((n, h) => n + h.unjudged, 0)).toBe(0);
        expect(rec.summary.calls_used_total).toBeLessThanOrEqual(maxCalls);

        // The run did what its budget allowed: some draft was generated and judged from 2 calls on with
        // a clean model, and from 3 calls on (a generate call, its repair, a judge call) with one
        // whose every answer needs a repair; a repaired draft is the only kind written then.
        const judged = seen.filter((r) => isJudge(r));
        const repairs = seen.filter((r) => isRepair(r)).length;
        if (maxCalls >= (repair ? 3 : 2)) {
          expect(drafts.size).toBeGreaterThan(0);
          expect(judged.length).toBeGreaterThan(0);
        }
        if (repair) expect(repairs > 0).toBe(drafts.size > 0);
        else expect(repairs).toBe(0);
        // Every draft the judge saw is a draft of this run, and every draft of this run was shown.
        const shown = new Set(judged.flatMap((r) => (readPromptBlock(r.prompt!, 'drafts') as { id: string }[]).map((d) => d.id)));
        for (const id of drafts.keys()) if (verdicts.get(id)!.source === 'model') expect(shown.has(id), id).toBe(true);
      });
    });
  });
}
