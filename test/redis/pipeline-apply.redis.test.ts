/**
 * What a run does to the vault: DROP files pruned (with their visuals), PASS and NEEDS_FIX kept,
 * hand-edited drafts never deleted, every job safe to run twice, late judge retries applied, and
 * no path outside the vault whatever the provider returns.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scanMaxIds } from '../../src/corpus/ids.js';
import type { Track } from '../../src/corpus/taxonomy.js';
import { QUEUE_NAMES } from '../../src/queues/index.js';
import { retryFailed } from '../../src/services/retry-jobs.js';
import { silentLogger } from '../../src/util/log.js';
import { loadVault } from '../../src/corpus/loader.js';
import { failingJudge } from '../helpers/provider-runs.js';
import { repeatEachJob } from '../helpers/repeat-each-job.js';
import { fileRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { freshVault, openHost, readRecords, runCli, runToEnd, testConfig, vaultSnapshot, inProcessWorkers } from '../helpers/pipeline.js';

const redis = fileRedis('apply');

describe('apply', () => {
  it('with defects on: every DROP file (and its visual) is gone, every PASS and NEEDS_FIX draft remains', async () => {
    const vault = await freshVault(60, 2);
    const maxBefore = await scanMaxIds(vault);
    const cfg = testConfig(redis, vault, { offlineDefectRate: 0.6, offlineDefectKinds: ['wrong-arithmetic', 'form', 'near-copy', 'form'], maxIters: 2, maxDropRate: 1, maxCalls: 100, genCallsPerIter: 4, visualEachIter: true });
    const { runId, host } = await runToEnd(redis, cfg);
    const verdicts = [...(await host.store.verdicts(runId)).values()];
    const drafts = await host.store.drafts(runId);
    const unjudged = await host.store.unjudged(runId);
    await host.close();
    const byVerdict = (v: string) => verdicts.filter((x) => x.verdict === v);
    expect(byVerdict('DROP').length).toBeGreaterThan(0);
    expect(byVerdict('PASS').length).toBeGreaterThan(0);
    expect(byVerdict('NEEDS_FIX').length).toBeGreaterThan(0);
    for (const v of byVerdict('DROP')) {
      expect(v.applied).toBe('pruned');
      expect(existsSync(join(vault, v.path)), v.path).toBe(false);
      for (const f of drafts.get(v.id)!.visualFiles) expect(existsSync(join(vault, f)), f).toBe(false);
    }
    for (const v of [...byVerdict('PASS'), ...byVerdict('NEEDS_FIX')]) {
      expect(v.applied).toBe('kept');
      expect(existsSync(join(vault, v.path)), v.path).toBe(true);
    }
    // Visual drafts were written with their source, and the kept ones still have it.
    const withVisual = [...drafts.values()].filter((d) => d.visualFiles.length > 0);
    expect(withVisual.length).toBeGreaterThan(0);
    // Every draft has exactly one verdict or is recorded unjudged.
    for (const id of drafts.keys()) expect(Number(verdicts.some((v) => v.id === id)) + Number(unjudged.has(id))).toBe(1);
    // The judge summaries on disk agree with Redis.
    const rec = readRecords(vault, runId);
    // Each iteration folder holds its analysis, plan, the files handed to the judge, and the records.
    expect(rec.iters.length).toBeGreaterThan(0);
    for (const it of rec.iters) {
      for (const f of ['report.json', 'report.md', 'plan.json', 'judge_inputs.txt', 'judge_summary.json', 'iter_record.json']) expect(existsSync(join(it.dir, f)), `${it.dir}/${f}`).toBe(true);
      const inputs = readFileSync(join(it.dir, 'judge_inputs.txt'), 'utf8').trim().split('\n');
      expect(inputs.sort()).toEqual([...drafts.values()].filter((d) => d.iter === it.record!.iter).map((d) => d.path).sort());
      expect(it.record!.wall_ms).toBeGreaterThan(0);
    }
    expect(rec.summary.calls_reserved).toBe(0);
    expect(rec.summary.calls_used_total).toBe(rec.iters.reduce((n, it) => n + it.record!.calls_used_iter, 0));
    const onDisk = rec.iters.flatMap((i) => i.judge?.details ?? []);
    expect(onDisk.map((d) => `${d.id}:${d.verdict}`).sort()).toEqual(verdicts.map((v) => `${v.id}:${v.verdict}`).sort());
    // New ids continue each track's numbering: the first draft of a track is its highest id + 1, then on without gaps.
    const byTrack = new Map<string, number[]>();
    for (const d of drafts.values()) byTrack.set(d.track, [...(byTrack.get(d.track) ?? []), Number(/-(\d+)$/.exec(d.id)![1])]);
    expect(byTrack.size).toBeGreaterThan(0);
    for (const [track, ns] of byTrack) {
      const sorted = ns.sort((x, y) => x - y);
      expect(sorted[0], track).toBe(maxBefore[track as Track] + 1);
      expect(sorted, track).toEqual(sorted.map((_, i) => sorted[0]! + i));
    }
    // The whole vault still loads, and no draft id was used twice.
    const { files } = await loadVault(vault);
    const ids = files.map((f) => f.doc?.id).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a draft edited by hand after it was judged is not deleted, even when judged DROP', async () => {
    const vault = await freshVault(60, 3);
    const cfg = testConfig(redis, vault, { offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic'], maxIters: 1, maxDropRate: 1, maxCalls: 100 });
    // The host only: generation runs first, judging only once the drafts were edited.
    const host = await openHost(redis, cfg, false);
    const stopGen = inProcessWorkers(redis, cfg, ['generate']);
    const runId = await host.startRun(cfg);
    await waitFor(async () => (await host.store.get(runId))!.phase === 'judge', 'drafts to be written');
    await stopGen();
    const drafts = [...(await host.store.drafts(runId)).values()];
    expect(drafts.length).toBeGreaterThan(0);
    const edited = drafts.filter((_, i) => i % 2 === 0);
    for (const d of edited) appendFileSync(join(vault, d.path), '# edited by a maintainer\n');
    const stopJudge = inProcessWorkers(redis, cfg, ['judge', 'render']);
    const state = await host.waitForRun(runId, undefined, undefined, 100);
    await stopJudge();
    const verdicts = await host.store.verdicts(runId);
    await host.close();
    expect(state.status).toBe('completed');
    let droppedEdited = 0;
    for (const d of drafts) {
      const v = verdicts.get(d.id);
      if (!v || v.verdict !== 'DROP') continue;
      if (edited.includes(d)) {
        droppedEdited++;
        expect(v.applied).toBe('skipped-changed');
        expect(readFileSync(join(vault, d.path), 'utf8')).toContain('# edited by a maintainer');
      } else {
        expect(v.applied).toBe('pruned');
        expect(existsSync(join(vault, d.path))).toBe(false);
      }
    }
    expect(droppedEdited).toBeGreaterThan(0);
    expect(readRecords(vault, runId).iters[0]!.record!.skipped_changed).toBe(droppedEdited);
  });

  describe('every job run twice leaves the same files and returns the same result', () => {
    const seen = new Map<string, { runs: number; sameResult: number; sameFiles: number }>();
    beforeAll(async () => {
      const vault = await freshVault(60, 4);
      const cfg = testConfig(redis, vault, { offlineDefectRate: 0.5, maxIters: 2, maxDropRate: 1, maxCalls: 100, genBatchSize: 1, genCallsPerIter: 6, workers: 1, visualEachIter: true, revise: true });
      const host = await (await import('../../src/host/corpus-host.js')).CorpusHost.open({
        cfg,
        vault,
        target: { options: redis.options, describe: redis.url },
        log: silentLogger,
        inProcessWorkers: true,
        hooks: {
          aroundJob: repeatEachJob({
            snapshot: () => vaultSnapshot(vault),
            report: (queue, sameResult, sameFiles, detail) => {
              if (!sameResult || !sameFiles) console.error('not idempotent', queue, { sameResult, sameFiles }, detail.job, detail.first.slice(0, 300), detail.second.slice(0, 300));
              const s = seen.get(queue) ?? { runs: 0, sameResult: 0, sameFiles: 0 };
              s.runs++;
              s.sameResult += Number(sameResult);
              s.sameFiles += Number(sameFiles);
              seen.set(queue, s);
            },
          }),
        },
      });
      const runId = await host.startRun(cfg);
      const state = await host.waitForRun(runId, undefined, undefined, 100);
      await host.close();
      expect(state.status).toBe('completed');
    });
    // The batch queue runs only for batch-mode runs on openai or anthropic (test/redis/batch-mode.redis.test.ts).
    it.each(QUEUE_NAMES.filter((q) => q !== 'batch'))('%s', (queue) => {
      const s = seen.get(queue);
      expect(s, `no ${queue} job ran`).toBeDefined();
      expect(s!.runs).toBeGreaterThan(0);
      expect(s!.sameFiles).toBe(s!.runs);
      expect(s!.sameResult).toBe(s!.runs);
    });
  });

  it('a judge chunk that failed is retried after the run ended, and the records then include its verdicts', async () => {
    const vault = await freshVault(60, 5);
    // Every judge request fails (503) until the script is cleared, so the chunks fail for good.
    const { server, judge } = await failingJudge(5);
    const cfg = testConfig(redis, vault, { maxIters: 1, maxCalls: 100, ...judge });
    const { runId, state, host } = await runToEnd(redis, cfg);
    // Every chunk of the iteration failed for good: the run ends failed and says so.
    expect(state.status).toBe('failed');
    expect(state.stopReason).toMatch(/^judge failed for \d+ chunks?$/);
    const before = readRecords(vault, runId);
    const unjudgedBefore = before.iters[0]!.record!.unjudged;
    expect(unjudgedBefore).toBeGreaterThan(0);
    expect(before.summary.history[0]!.unjudged).toBe(unjudgedBefore);
    server.clearScript();
    const retried = await retryFailed(host.queues, 'judge', runId);
    expect(retried.length).toBeGreaterThan(0);
    await waitFor(async () => (await host.store.unjudged(runId)).size === 0, 'the late verdicts to be applied');
    await waitFor(async () => readRecords(vault, runId).summary.history[0]!.unjudged === 0, 'the records to be rewritten');
    const after = readRecords(vault, runId);
    await host.close();
    await server.close();
    expect(after.iters[0]!.record!.unjudged).toBe(0);
    expect(after.iters[0]!.record!.late_applied).toBe(unjudgedBefore);
    expect(after.iters[0]!.judge!.n_judged).toBe(after.iters[0]!.record!.generated);
    expect(after.iters[0]!.judge!.details.filter((d) => d.late)).toHaveLength(unjudgedBefore);
    expect(after.summary.history[0]!.late_applied).toBe(unjudgedBefore);
    // DROPs of the late verdicts were pruned too.
    for (const d of after.iters[0]!.judge!.details.filter((x) => x.verdict === 'DROP')) expect(existsSync(join(vault, d.path))).toBe(false);
  });

  it('`vault-loop retry` after the run process is gone judges and applies the chunks itself, and the records include them', async () => {
    const vault = await freshVault(60, 6);
    const { server, judge } = await failingJudge(6);
    const cfg = testConfig(redis, vault, { maxIters: 1, maxCalls: 100, ...judge });
    const { runId, state, host } = await runToEnd(redis, cfg);
    // The run's process ends: nothing holds the vault or applies anything any more.
    await host.close();
    try {
      // Every chunk of the iteration failed for good: the run ends failed and says so.
      expect(state.status).toBe('failed');
      expect(state.stopReason).toMatch(/^judge failed for \d+ chunks?$/);
      const unjudgedBefore = readRecords(vault, runId).iters[0]!.record!.unjudged;
      expect(unjudgedBefore).toBeGreaterThan(0);
      server.clearScript();
      const judgeCalls = server.requests.length;
      const r = await runCli(['retry', '--queue', 'judge', '--run', runId, '--redis', redis.url, '--prefix', redis.prefix], { OPENAI_API_KEY: 'sk-test' });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(new RegExp(`retried \\d+ failed judge job\\(s\\) of run ${runId}`));
      expect(r.out).toMatch(/judging \d+ chunk\(s\) and applying \d+ late result\(s\) on .* \(no vault-loop run holds it\)/);
      expect(r.out).toContain(`applied: the records of run ${runId} are rewritten`);
      expect(server.requests.length).toBeGreaterThan(judgeCalls);
      // When the command returns, the records on disk already include every late verdict.
      const after = readRecords(vault, runId);
      expect(after.iters[0]!.record!.unjudged).toBe(0);
      expect(after.iters[0]!.record!.late_applied).toBe(unjudgedBefore);
      expect(after.summary.history[0]!.late_applied).toBe(unjudgedBefore);
      for (const d of after.iters[0]!.judge!.details.filter((x) => x.verdict === 'DROP')) expect(existsSync(join(vault, d.path))).toBe(false);
      // Nothing is left to retry, and the vault is free again.
      const again = await runCli(['retry', '--queue', 'judge', '--run', runId, '--redis', redis.url, '--prefix', redis.prefix]);
      expect(again.out).toContain('retried 0 failed judge job(s)');
    } finally {
      await server.close();
    }
  }, 180_000);
});
