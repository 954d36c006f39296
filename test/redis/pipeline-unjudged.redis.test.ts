/**
 * A chunk whose judge failed for good leaves its drafts, marked unjudged: one judge chunk's
 * provider calls all fail (HTTP 500 through a real proxy in front of the fake OpenAI server, so
 * the job spends every attempt), the other chunks are judged. After the run the failed chunk's
 * drafts are on disk byte for byte as written, no verdict exists for them, and the records list
 * them as unjudged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/corpus/loader.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { judgeQueue } from '../../src/queues/index.js';
import { ids } from '../../src/state/job-ids.js';
import { readJson, runDir, type LoopSummary } from '../../src/scheduler/records.js';
import { STOP } from '../../src/scheduler/steps.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { failingProxy } from '../helpers/failing-proxy.js';
import { isJudge } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { afterRun, freshVault, offlineAnswerer, readRecords, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('unjudged');

describe('a judge chunk that failed for good', () => {
  it('leaves its drafts on disk unchanged, marked unjudged in judge_summary.json, iter_record.json and loop_summary.json, with no verdict invented; the other chunks are judged', async () => {
    const vault = await freshVault(300, 61);
    const upstream = await FakeLlmServer.start({ protocol: 'openai', apiKey: 'sk-unjudged', answer: await offlineAnswerer(61) });
    // The first judge request names the victim chunk; every request about those drafts gets a 500.
    let victim: Set<string> | undefined;
    const proxy = await failingProxy(upstream, (prompt) => {
      if (!isJudge({ prompt })) return null;
      const drafts = (readPromptBlock(prompt, 'drafts') as { id: string }[]).map((d) => d.id);
      victim ??= new Set(drafts);
      return drafts.some((id) => victim!.has(id)) ? 500 : null;
    });
    const cfg = testConfig(redis, vault, {
      maxIters: 1,
      maxCalls: 100,
      maxDropRate: 1,
      genBatchSize: 5,
      genCallsPerIter: 3,
      judgeChunkSize: 5,
      judgeProvider: 'openai',
      judgeModel: 'judge-model',
      judgeBaseUrl: proxy.baseUrl,
      openaiApiKey: 'sk-unjudged',
    });
    await afterRun(redis, cfg, [proxy, upstream], async ({ runId, state, host }) => {
      // A chunk failed for good: the run does not pass for completed, and says why.
      expect(state.status).toBe('failed');
      expect(state.stopReason).toBe(`judge failed for 1 chunk; ${STOP.maxIters}`);
      expect(victim, 'a judge request was made').toBeDefined();
      const drafts = await host.store.drafts(runId);
      const verdicts = await host.store.verdicts(runId);
      const unjudged = await host.store.unjudged(runId);
      expect(drafts.size).toBe(15);
      const victims = [...drafts.values()].filter((d) => victim!.has(d.id));
      expect(victims.length).toBe(victim!.size);
      expect(victims.length).toBeGreaterThan(0);
      const chunk = victims[0]!.chunk;
      expect(victims.every((d) => d.chunk === chunk), 'the victims are one chunk').toBe(true);
      expect(victims.length).toBe([...drafts.values()].filter((d) => d.chunk === chunk).length);

      // The judge job failed for good: every attempt spent, each one a refused provider call.
      const judgeJob = await host.queues.judge.getJob(ids.judge(runId, 0, chunk));
      expect(await judgeJob!.getState()).toBe('failed');
      expect(judgeJob!.attemptsMade).toBe(judgeQueue.defaults.attempts);
      expect(judgeJob!.failedReason).toMatch(/500/);
      expect(proxy.requests.filter((r) => r.failedWith === 500).length).toBeGreaterThanOrEqual(judgeQueue.defaults.attempts!);
      // Its apply job still ran and recorded the chunk as not judged.
      const applyJob = await host.queues.apply.getJob(ids.apply(runId, 0, chunk));
      expect(await applyJob!.getState()).toBe('completed');
      expect(applyJob!.returnvalue).toMatchObject({ chunk, judged: false, pruned: [], kept: [] });
      expect([...(applyJob!.returnvalue as { unjudged: string[] }).unjudged].sort()).toEqual([...victim!].sort());

      // The drafts are still there, byte for byte what was written, and no verdict was invented.
      for (const d of victims) {
        const abs = join(vault, d.path);
        expect(existsSync(abs), d.path).toBe(true);
        expect(sha256(readFileSync(abs)), d.path).toBe(d.fileHash);
        expect(verdicts.has(d.id), `verdict for ${d.id}`).toBe(false);
        expect(unjudged.get(d.id)).toMatchObject({ id: d.id, iter: 0, chunk, path: d.path });
        expect(unjudged.get(d.id)!.reason).toMatch(/^judge failed: .*500/);
      }
      // Every other draft has its verdict and is not unjudged.
      const others = [...drafts.values()].filter((d) => !victim!.has(d.id));
      expect(others.length).toBe(15 - victims.length);
      for (const d of others) {
        expect(verdicts.has(d.id), `verdict for ${d.id}`).toBe(true);
        expect(unjudged.has(d.id)).toBe(false);
      }

      // The records say the same.
      const rec = readRecords(vault, runId);
      const it0 = rec.iters[0]!;
      const js = it0.judge!;
      expect(js.unjudged.map((u) => u.id).sort()).toEqual(victims.map((d) => d.id).sort());
      for (const u of js.unjudged) {
        expect(u.path).toBe(drafts.get(u.id)!.path);
        expect(u.reason).toMatch(/^judge failed: .*500/);
      }
      expect(js.details.some((x) => victim!.has(x.id)), 'no verdict for a victim in judge_summary.json').toBe(false);
      expect(js.details.map((x) => x.id).sort()).toEqual(others.map((d) => d.id).sort());
      expect(js.n_items).toBe(15);
      expect(js.n_judged).toBe(others.length);
      expect(js.verdicts.PASS + js.verdicts.NEEDS_FIX + js.verdicts.DROP).toBe(others.length);
      expect(it0.record!.unjudged).toBe(victims.length);
      expect(it0.record!.generated).toBe(15);
      expect(it0.record!.applied.dropped + it0.record!.applied.kept_pass + it0.record!.applied.kept_needs_fix).toBe(others.length);
      const inputs = readFileSync(join(it0.dir, 'judge_inputs.txt'), 'utf8');
      for (const d of victims) expect(inputs).toContain(d.path);
      const summary = readJson<LoopSummary>(join(runDir(vault, runId), 'loop_summary.json'))!;
      expect(summary.history[0]!.unjudged).toBe(victims.length);
      expect(summary.stopped_reason).toBe(`judge failed for 1 chunk; ${STOP.maxIters}`);
      expect(summary.failed_judge_chunks).toEqual([{ iter: 0, chunk: expect.any(Number), drafts: victims.map((d) => d.id).sort(), reason: expect.stringContaining('500') }]);
      expect(summary.continue_with).toBe(`vault-loop retry --vault ${vault} --run ${runId}`);
      expect(upstream.violations).toEqual([]);
    });
  });
});
