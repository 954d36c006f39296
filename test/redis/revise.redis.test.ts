/**
 * NEEDS_FIX is not a dead end: `--revise` revises NEEDS_FIX drafts from the judge's suggestions,
 * judges them again, and never overwrites a draft edited by hand. Every other entry point (the CLI,
 * the review page, budgets, no network): test/heavy/revise-entry-points.test.ts.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/util/log.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import type { CompletionRequest } from '../../src/llm/types.js';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, inProcessWorkers, openHost, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('revise');

// Half the drafts get a form defect (→ NEEDS_FIX), a few a wrong sum (→ DROP): enough of each whatever the run id.
const flags = { offlineDefectRate: 0.6, offlineDefectKinds: ['form', 'form', 'form', 'wrong-arithmetic'], maxIters: 2, maxDropRate: 1, maxCalls: 200, genBatchSize: 6, genCallsPerIter: 2, judgeChunkSize: 6 };

describe('revise', () => {
  it('a run with --revise ends with fewer NEEDS_FIX drafts than the same run without it; revisions are judged again, batched, and counted', async () => {
    // The same vault, salt and seed: both runs generate the same drafts (no cache, so every call is real).
    const same = { ...flags, maxIters: 1, variantSalt: 'revise-vs-plain', cacheTtlSeconds: 0, batchWindowMs: 2000 };
    const plain = await runToEnd(redis, testConfig(redis, await freshVault(300, 51), same));
    const plainVerdicts = [...(await plain.host.store.verdicts(plain.runId)).values()];
    await plain.host.close();
    const plainNeedsFix = plainVerdicts.filter((v) => v.verdict === 'NEEDS_FIX').length;
    expect(plainNeedsFix).toBeGreaterThan(1);
    // Without --revise nothing is revised.
    expect(plainVerdicts.every((v) => v.round === 0 && v.history.length === 0)).toBe(true);

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
    expect(revised.length).toBe(plainNeedsFix);
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
    // Before revising, the same NEEDS_FIX count as the run without --revise; after, fewer.
    expect(it0.record!.revisions.verdicts_before.NEEDS_FIX).toBe(plainNeedsFix);
    expect(it0.record!.applied.kept_needs_fix).toBeLessThan(plainNeedsFix);
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

  it('a draft edited by hand after judging is never overwritten by a revision', async () => {
    const vault = await freshVault(300, 52);
    const cfg = testConfig(redis, vault, { ...flags, offlineDefectRate: 1, maxIters: 1, revise: true });
    const host = await openHost(redis, cfg, false);
    const stopFirst = inProcessWorkers(redis, cfg, ['generate', 'judge', 'render']);
    const runId = await host.startRun(cfg);
    // Revision is planned but no revise worker runs yet: edit some of the NEEDS_FIX drafts now.
    for (let i = 0; ; i++) {
      const s = (await host.store.get(runId))!;
      if (s.phase === 'revise') break;
      if (s.status !== 'running' || i > 600) throw new Error(`no revision planned: ${s.status} ${s.phase}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const needsFix = [...(await host.store.verdicts(runId)).values()].filter((v) => v.verdict === 'NEEDS_FIX');
    expect(needsFix.length).toBeGreaterThan(1);
    const edited = needsFix.filter((_, i) => i % 2 === 0);
    for (const v of edited) appendFileSync(join(vault, v.path), '# fixed by hand\n');
    const stopRevise = inProcessWorkers(redis, cfg, ['revise']);
    const state = await host.waitForRun(runId, undefined, undefined, 100);
    const verdicts = await host.store.verdicts(runId);
    await stopRevise();
    await stopFirst();
    await host.close();
    expect(state.status).toBe('completed');
    for (const v of edited) {
      expect(readFileSync(join(vault, v.path), 'utf8')).toContain('# fixed by hand');
      expect(verdicts.get(v.id)!.round).toBe(0);
    }
    const rec = readRecords(vault, runId);
    const skipped = rec.iters[0]!.record!.revisions.skipped.map((s) => s.id).sort();
    expect(skipped).toEqual(edited.map((v) => v.id).sort());
    expect(rec.iters[0]!.record!.revisions.skipped[0]!.reason).toMatch(/changed since it was judged/);
    // The others were revised and judged again.
    expect([...verdicts.values()].filter((v) => v.round === 1).length).toBe(needsFix.length - edited.length);
  });
});
