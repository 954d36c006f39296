/**
 * NEEDS_FIX is not a dead end: `--revise` revises NEEDS_FIX drafts from the judge's suggestions,
 * judges them again. A draft edited by hand is never overwritten: test/unit/core-runs.test.ts.
 * Every other entry point (the CLI, the review page, budgets, no network):
 * test/heavy/revise-entry-points.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/util/log.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import type { CompletionRequest } from '../../src/llm/types.js';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, readRecords, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('revise');

// Half the drafts get a form defect (→ NEEDS_FIX), a few a wrong sum (→ DROP): enough of each whatever the run id.
const flags = { offlineDefectRate: 0.6, offlineDefectKinds: ['form', 'form', 'form', 'wrong-arithmetic'], maxIters: 2, maxDropRate: 1, maxCalls: 200, genBatchSize: 6, genCallsPerIter: 2, judgeChunkSize: 6 };

describe('revise', () => {
  it('a run with --revise ends with fewer NEEDS_FIX drafts than it judged; revisions are judged again, batched, and counted', async () => {
    // No cache, so every call is real. The same run without --revise: test/unit/core-runs.test.ts.
    const same = { ...flags, maxIters: 1, variantSalt: 'revise-vs-plain', cacheTtlSeconds: 0, batchWindowMs: 2000 };
    const vault = await freshVault(300, 51);
    const calls: CompletionRequest[] = [];
    const host = await CorpusHost.open({
      cfg: testConfig(redis, vault, same),
      vault,
      target: { options: redis.options, describe: redis.url },
      log: silentLogger,
      inProcessWorkers: true,
      hooks: { onProviderCall: (req: CompletionRequest) => void calls.push(req) },
    });
    const runId = await host.startRun(testConfig(redis, vault, { ...same, revise: true }));
    const state = await host.waitForRun(runId, undefined, undefined, 100);
    const verdicts = [...(await host.store.verdicts(runId)).values()];
    await host.close();
    expect(state.status).toBe('completed');
    const revised = verdicts.filter((v) => v.round === 1);
    expect(revised.length).toBeGreaterThan(1);
    for (const v of revised) {
      // Both verdicts are on record: NEEDS_FIX before, the new one after.
      expect(v.history).toHaveLength(1);
      expect(v.history[0]!.verdict).toBe('NEEDS_FIX');
      expect(v.history[0]!.fileHash).not.toBe(v.fileHash);
      if (v.verdict === 'DROP') expect(existsSync(join(vault, v.path))).toBe(false);
      else expect(readFileSync(join(vault, v.path), 'utf8')).toMatch(/revised-1/);
    }
    const rec = readRecords(vault, runId);
    const it0 = rec.iters[0]!;
    // Every NEEDS_FIX draft of the first judging was revised; fewer are NEEDS_FIX after.
    expect(it0.record!.revisions.verdicts_before.NEEDS_FIX).toBe(revised.length);
    expect(it0.record!.applied.kept_needs_fix).toBeLessThan(revised.length);
    // The iteration's judge summary shows each revised draft's earlier verdict.
    for (const d of it0.judge!.details.filter((x) => x.round === 1)) expect(d.history[0]!.verdict).toBe('NEEDS_FIX');
    // Revision calls are batched like generation (up to genBatchSize drafts a call), and every call,
    // revisions included, is what the run's budget counted.
    const revise = calls.filter((c) => c.purpose === 'revise').map((c) => (readPromptBlock(c.prompt, 'revisions') as unknown[]).length);
    expect(revise.reduce((n, k) => n + k, 0)).toBe(revised.length);
    expect(Math.max(...revise)).toBeLessThanOrEqual(flags.genBatchSize);
    expect(revise.length).toBeLessThan(revised.length);
    expect(state.callsUsed).toBe(calls.length);
    expect(rec.summary.calls_used_total).toBe(calls.length);
  });
});
