/**
 * Late retries from Bull Board: a run ends with judge chunks that failed for good; an operator
 * retries them through Bull Board's own HTTP API (one job, then the rest of the failed list) with
 * the operator token and same-origin headers; the chunks complete and the late apply rewrites
 * judge_summary.json, iter_record.json and loop_summary.json with their verdicts. A viewer, and an
 * operator from another origin, are refused on those routes and change nothing.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { ids } from '../../src/state/job-ids.js';
import { failingJudge } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const OPERATOR = 'operator-token-bullboard';
const VIEWER = 'viewer-token-bullboard';

const redis = fileRedis('bbretry');

describe('late retry from Bull Board', () => {
  it("a judge chunk retried through Bull Board's HTTP API by an operator completes, and its late apply rewrites judge_summary.json, iter_record.json and loop_summary.json; a viewer is refused", async () => {
    const vault = await freshVault(300, 81);
    // Only the judge talks to this server; every judge request fails (503) until the script is cleared.
    const { server, judge } = await failingJudge(81, { apiKey: 'sk-bb', failures: 200 });
    const cfg = testConfig(redis, vault, {
      maxIters: 1,
      maxCalls: 100,
      maxDropRate: 1,
      genBatchSize: 5,
      genCallsPerIter: 2,
      judgeChunkSize: 5,
      ...judge,
    });
    const { runId, state, host } = await runToEnd(redis, cfg);
    let dash: RunningDashboard | undefined;
    try {
      // Every chunk of the iteration failed for good: the run ends failed and says so.
      expect(state.status).toBe('failed');
      expect(state.stopReason).toBe('judge failed for 2 chunks');
      const before = readRecords(vault, runId);
      const generated = before.iters[0]!.record!.generated;
      expect(generated).toBe(10);
      expect(before.iters[0]!.record!.unjudged).toBe(10);
      expect(before.summary.history[0]!.unjudged).toBe(10);
      // Nothing was judged: the summary names the model that was asked, never an empty one.
      expect(before.iters[0]!.judge!.model).toBe('judge-model (nothing judged)');
      const drafts = await host.store.drafts(runId);
      const job0 = ids.judge(runId, 0, 0);
      const job1 = ids.judge(runId, 0, 1);
      for (const id of [job0, job1]) expect(await (await host.queues.judge.getJob(id))!.getState(), id).toBe('failed');
      server.clearScript();

      dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: OPERATOR, viewerToken: VIEWER });
      const origin = new URL(dash.url).origin;
      const put = (path: string, headers: Record<string, string>) => fetch(new URL(path, dash!.url), { method: 'PUT', headers, redirect: 'manual' });
      const operator = { authorization: `Bearer ${OPERATOR}`, origin, 'sec-fetch-site': 'same-origin' };
      const oneJob = `/queues/api/queues/judge/${encodeURIComponent(job0)}/retry`;
      const allFailed = '/queues/api/queues/judge/retry/failed';

      // A viewer, and an operator from another origin, are refused; nothing is retried.
      expect((await put(oneJob, { authorization: `Bearer ${VIEWER}`, origin, 'sec-fetch-site': 'same-origin' })).status).toBe(403);
      expect((await put(allFailed, { authorization: `Bearer ${VIEWER}`, origin, 'sec-fetch-site': 'same-origin' })).status).toBe(403);
      expect((await put(oneJob, { authorization: `Bearer ${OPERATOR}`, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect((await put(oneJob, {})).status).toBe(401);
      expect(await (await host.queues.judge.getJob(job0))!.getState()).toBe('failed');
      expect(server.requests.filter((r) => r.step.type === 'answer')).toHaveLength(0);

      // The operator retries chunk 0 alone through Bull Board's per-job route.
      const one = await put(oneJob, operator);
      expect(one.status, await one.clone().text()).toBe(204);
      const chunk0 = [...drafts.values()].filter((d) => d.chunk === 0).map((d) => d.id);
      expect(chunk0).toHaveLength(5);
      await waitFor(() => readRecords(vault, runId).summary.history[0]?.late_applied === chunk0.length, 'chunk 0 to be applied late and the records rewritten');
      const mid = readRecords(vault, runId);
      expect(mid.iters[0]!.record!.unjudged).toBe(5);
      expect(mid.iters[0]!.judge!.details.map((d) => d.id).sort()).toEqual([...chunk0].sort());
      expect(mid.iters[0]!.judge!.details.every((d) => d.late)).toBe(true);
      expect(mid.iters[0]!.judge!.unjudged.map((u) => u.id).sort()).toEqual([...drafts.values()].filter((d) => d.chunk === 1).map((d) => d.id).sort());
      expect(await (await host.queues.judge.getJob(job0))!.getState()).toBe('completed');
      expect(await (await host.queues.judge.getJob(job1))!.getState()).toBe('failed');

      // Then every failed judge job through the queue-wide route: chunk 1 is the one left.
      const all = await put(allFailed, operator);
      expect(all.status).toBe(200);
      expect(await all.json()).toEqual({ retried: 1, skipped: 0 });
      await waitFor(() => readRecords(vault, runId).summary.history[0]?.unjudged === 0, 'every late verdict to be applied and the records rewritten');
      const after = readRecords(vault, runId);
      const it0 = after.iters[0]!;
      expect(it0.record!.unjudged).toBe(0);
      expect(it0.record!.late_applied).toBe(generated);
      expect(it0.judge!.n_judged).toBe(generated);
      expect(it0.judge!.unjudged).toEqual([]);
      expect(it0.judge!.details.map((d) => d.id).sort()).toEqual([...drafts.keys()].sort());
      expect(it0.judge!.details.every((d) => d.late)).toBe(true);
      expect(after.summary.history[0]!.late_applied).toBe(generated);
      expect(after.summary.history[0]!.unjudged).toBe(0);
      expect(after.summary.stopped_reason).toBe('judge failed for 2 chunks');
      expect(after.summary.failed_judge_chunks).toEqual([]);
      // Nothing left to retry: the run continues from its next iteration with --resume.
      expect(after.summary.continue_with).toBe(`vault-loop run --vault ${vault} --resume ${runId}`);
      // The verdicts were applied to the vault: DROPs pruned, the rest kept.
      for (const d of it0.judge!.details) expect(existsSync(join(vault, d.path)), `${d.verdict} ${d.path}`).toBe(d.verdict !== 'DROP');
      expect(await (await host.queues.judge.getJob(job1))!.getState()).toBe('completed');
      expect(server.violations).toEqual([]);
    } finally {
      await dash?.close();
      await host.close();
      await server.close();
    }
  });
});
