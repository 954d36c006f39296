/**
 * The end-of-run summary fits the terminal: a real run (two iterations, generation through
 * provider batches, a judge chunk that failed for good in the last iteration, a price so that cost
 * is not zero) rendered at 60, 80 and 120 columns has no line wider than the width, and keeps its
 * facts: every iteration's row and numbers, the stop reason, the cost, the failed chunk and the
 * command that continues the run (still a command a shell runs when it is continued over lines).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { summaryText } from '../../src/cli/summary.js';
import { FakeBatchServer, FakeLlmServer } from '../helpers/fake-llm/index.js';
import { isJudge } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, joinedCommands, offlineAnswerer, readRecords, runToEnd, testConfig, type RunRecords } from '../helpers/pipeline.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await useTestRedis('summarywidth');
});
afterAll(async () => {
  await redis.cleanup();
});

describe('the run summary at the terminal width', () => {
  let vault: string;
  let runId: string;
  let rec: RunRecords;
  let batches: number;

  beforeAll(async () => {
    vault = await freshVault(60, 71);
    const generator = await FakeBatchServer.start({ protocol: 'anthropic', apiKey: 'sk-ant-width', answer: await offlineAnswerer(71) });
    // The third judge chunk asked about (an iteration after the first) fails on every attempt.
    const chunks: string[] = [];
    const judge = await FakeLlmServer.start({
      protocol: 'gemini',
      apiKey: 'g-width',
      answer: await offlineAnswerer(71),
      react: (req) => {
        if (!isJudge(req)) return null;
        const key = (readPromptBlock(req.prompt!, 'drafts') as { id: string }[]).map((d) => d.id).join(',');
        if (!chunks.includes(key)) chunks.push(key);
        return chunks.indexOf(key) === 2 ? { type: 'error', status: 500, message: 'internal error' } : null;
      },
    });
    const cfg = testConfig(redis, vault, {
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      baseUrl: generator.baseUrl,
      anthropicApiKey: 'sk-ant-width',
      batchMode: true,
      batchPollMs: 150,
      judgeProvider: 'gemini',
      judgeModel: 'gemini-2.5-flash',
      judgeBaseUrl: judge.baseUrl,
      geminiApiKey: 'g-width',
      maxIters: 2,
      maxCalls: 60,
      maxDropRate: 1,
    });
    const done = await runToEnd(redis, cfg);
    await done.host.close();
    runId = done.runId;
    rec = readRecords(vault, runId);
    batches = generator.batches.length;
    expect(generator.violations).toEqual([]);
    expect(judge.violations).toEqual([]);
    await generator.close();
    await judge.close();
  }, 120_000);

  it('is a run worth summarizing: several iterations, batches, cost and a failed judge chunk', () => {
    expect(rec.summary.iterations).toBeGreaterThanOrEqual(2);
    expect(batches).toBeGreaterThan(0);
    expect(rec.summary.cost_usd).toBeGreaterThan(0);
    expect(rec.summary.failed_judge_chunks.length).toBe(1);
    expect(rec.summary.continue_with).toBe(`vault-loop retry --vault ${vault} --run ${runId}`);
  });

  it.each([60, 80, 120])('at %i columns no line is wider and the facts stay', (width) => {
    const text = summaryText(vault, runId, width);
    const long = text.split('\n').filter((l) => l.length > width);
    expect(long, text).toEqual([]);
    const s = rec.summary;
    const flat = joinedCommands(text);
    // Wrapped prose read as one line.
    const prose = flat.replace(/\n\s*/g, ' ');
    expect(prose).toContain(`run ${runId}: ${s.status}, stopped: ${s.stopped_reason}`);
    expect(prose).toContain(`cost $${s.cost_usd.toFixed(4)}`);
    expect(flat).toContain('failed judge chunks (1):');
    expect(flat).toContain(`continue with: ${s.continue_with}`);
    expect(flat).toMatch(new RegExp(`records[^:\\n]*:\\s+\\S*_validation_results/coverage_loop/${runId}`));
    // Every iteration has its rows (one per table when the columns are stacked), with its numbers.
    const lines = text.split('\n');
    for (const h of s.history) {
      const rows = lines.filter((l) => new RegExp(`^${h.iter} `).test(l));
      expect(rows.length, `rows of iter ${h.iter}`).toBeGreaterThan(0);
      const cells = rows.flatMap((r) => r.trim().split(/\s+/).slice(1));
      expect(cells).toContain(h.top_cell!.join('/'));
      for (const n of [h.plan_size, h.generated, h.applied.kept_pass, h.applied.kept_needs_fix, h.applied.dropped, h.unjudged, h.calls_used_iter]) expect(cells).toContain(String(n));
      if (h.cost_per_pass_usd !== null) expect(cells).toContain(`$${h.cost_per_pass_usd.toFixed(4)}`);
    }
    // Short headers are explained.
    if (!lines[0]!.includes('NEEDS_FIX')) expect(text).toMatch(/NF = NEEDS_FIX/);
  });

  it('uses the full headers when they fit', () => {
    const text = summaryText(vault, runId, 1000);
    expect(text.split('\n')[0]).toMatch(/^iter +top cell +priority +planned +drafts +PASS +NEEDS_FIX +pruned +unjudged +failed +calls +calls\/PASS +\$\/PASS +pre-judge saved +wall$/);
  });
});
