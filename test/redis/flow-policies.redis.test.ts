/**
 * Every flow child has an explicit failure policy; no parent can wait forever.
 * 1. A run with visuals and revision on (so generate, render, judge, apply and revise children all
 *    exist): every job of every queue that has a parent carries, in Redis, one of BullMQ's four
 *    failure policies, and no parent is left waiting for its children.
 * 2. Children made to fail for good — a generation batch (fatal 400), a judge chunk (500 on every
 *    attempt) and every revision (fatal 400) — do not leave their parents waiting: each parent
 *    completes, reads the failures, and the run ends (failed: its judge chunk failed for good).
 *    A 400, not a 401: a refused key (401) stops the whole run at its first call.
 */
import type { Job, Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { judgeQueue, QUEUE_NAMES, type Queues } from '../../src/queues/index.js';
import { bullPrefix } from '../../src/redis/index.js';
import { ids } from '../../src/state/job-ids.js';
import type { CorpusHost } from '../../src/host/corpus-host.js';
import { FAILURE } from '../../src/core/outcome.js';
import { STOP } from '../../src/scheduler/steps.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { failingProxy } from '../helpers/failing-proxy.js';
import { isGenerate, isJudge, isRepair } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { afterRun, freshVault, offlineAnswerer, readRecords, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('flowpol');

const STATES = ['completed', 'failed', 'active', 'delayed', 'waiting', 'waiting-children', 'prioritized'] as const;
type QueueName = keyof Queues;
const POLICIES = ['failParentOnFailure', 'ignoreDependencyOnFailure', 'removeDependencyOnFailure', 'continueParentOnFailure'] as const;
/** The names BullMQ stores the policies under in a job's `opts` hash field. */
const STORED_POLICIES = ['fpof', 'idof', 'rdof', 'cpof'] as const;

interface SeenJob {
  queue: QueueName;
  job: Job;
  state: string;
}

/** Every job of every queue of the run, with its state. */
async function jobsOfRun(host: CorpusHost, runId: string): Promise<SeenJob[]> {
  const out: SeenJob[] = [];
  for (const queue of QUEUE_NAMES as QueueName[]) {
    const q = host.queues[queue] as Queue;
    for (const state of STATES) {
      for (const job of await q.getJobs([state], 0, -1)) {
        if (!job || (job.data as { runId?: string }).runId !== runId) continue;
        out.push({ queue, job, state });
      }
    }
  }
  return out;
}

/** The job's hash as stored in Redis (not BullMQ's reading of it). */
async function storedJob(queue: QueueName, id: string): Promise<{ opts: Record<string, unknown>; parentKey: string | null; parent: Record<string, unknown> | null }> {
  const key = `${bullPrefix(redis.prefix)}:${queue}:${id}`;
  const [opts, parentKey, parent] = await redis.client.hmget(key, 'opts', 'parentKey', 'parent');
  return { opts: JSON.parse(opts ?? '{}') as Record<string, unknown>, parentKey: parentKey ?? null, parent: parent ? (JSON.parse(parent) as Record<string, unknown>) : null };
}

/** Asserts the policy of every child and that no parent waits; returns the children per queue. */
async function expectExplicitPolicies(host: CorpusHost, runId: string): Promise<Map<QueueName, number>> {
  const all = await jobsOfRun(host, runId);
  expect(all.length).toBeGreaterThan(0);
  const children = new Map<QueueName, number>();
  for (const { queue, job, state } of all) {
    const where = `${queue}:${job.id} (${state})`;
    const stored = await storedJob(queue, job.id!);
    const hasParent = Boolean(job.parent ?? job.parentKey);
    // BullMQ's view and the stored hash agree on who has a parent.
    expect(Boolean(stored.parentKey), where).toBe(hasParent);
    if (hasParent) {
      children.set(queue, (children.get(queue) ?? 0) + 1);
      const set = POLICIES.filter((p) => job.opts[p] === true);
      expect(set.length, `${where} has no failure policy: ${JSON.stringify(job.opts)}`).toBeGreaterThan(0);
      const storedSet = STORED_POLICIES.filter((p) => stored.opts[p] === true);
      expect(storedSet.length, `${where} stored opts ${JSON.stringify(stored.opts)}`).toBeGreaterThan(0);
    }
    // Nothing is left waiting: no parent waits for children, no job is still queued.
    expect(['completed', 'failed'], where).toContain(state);
  }
  return children;
}

describe('flow failure policies', () => {
  it('every flow child of a run with visuals and revision carries an explicit failure policy in Redis, and no parent is left waiting', async () => {
    const vault = await freshVault(300, 71);
    const cfg = testConfig(redis, vault, {
      offlineDefectRate: 0.5,
      offlineDefectKinds: ['form', 'wrong-arithmetic'],
      maxIters: 1,
      maxDropRate: 1,
      maxCalls: 100,
      visualEachIter: true,
      revise: true,
    });
    await afterRun(redis, cfg, [], async ({ runId, state, host }) => {
      expect(state.status).toBe('completed');
      const children = await expectExplicitPolicies(host, runId);
      // Every kind of child exists in this run, so every kind was checked.
      for (const q of ['generate', 'render', 'judge', 'apply', 'revise'] as const) expect(children.get(q) ?? 0, `${q} children`).toBeGreaterThan(0);
      // The parents are control jobs (dispatch, checkpoint, redispatch) and apply jobs (over a judge).
      const control = await jobsOfRun(host, runId).then((xs) => xs.filter((x) => x.queue === 'control').map((x) => x.job.name));
      expect(new Set(control)).toEqual(new Set(['plan', 'dispatch', 'checkpoint', 'redispatch']));
    });
  });

  it('children that fail for good (a generation batch, a judge chunk, every revision) do not leave their parents waiting: each parent completes and the run ends', async () => {
    const vault = await freshVault(300, 72);
    const offline = await offlineAnswerer(72);
    const upstream = await FakeLlmServer.start({
      protocol: 'openai',
      apiKey: 'sk-flowpol',
      // Every PASS becomes NEEDS_FIX, so the judged drafts go to revision.
      answer: async (req) => {
        const text = await offline(req);
        if (isRepair(req) || !isJudge(req)) return text;
        return JSON.stringify((JSON.parse(text) as { verdict: string; fix_suggestion?: string }[]).map((v) => (v.verdict === 'PASS' ? { ...v, verdict: 'NEEDS_FIX', fix_suggestion: 'Name the bound explicitly.' } : v)));
      },
    });
    let genVictims: Set<string> | undefined;
    let judgeVictims: Set<string> | undefined;
    const proxy = await failingProxy(upstream, (prompt) => {
      if (/^<revisions>\s*$/m.test(prompt)) return 400;
      if (isGenerate({ prompt })) {
        const variants = (readPromptBlock(prompt, 'cells') as { variant: string }[]).map((c) => c.variant);
        genVictims ??= new Set(variants);
        return variants.some((v) => genVictims!.has(v)) ? 400 : null;
      }
      if (isJudge({ prompt })) {
        const drafts = (readPromptBlock(prompt, 'drafts') as { id: string }[]).map((d) => d.id);
        judgeVictims ??= new Set(drafts);
        return drafts.some((id) => judgeVictims!.has(id)) ? 500 : null;
      }
      return null;
    });
    const cfg = testConfig(redis, vault, {
      provider: 'openai',
      model: 'gen-model',
      judgeModel: 'judge-model',
      baseUrl: proxy.baseUrl,
      openaiApiKey: 'sk-flowpol',
      maxIters: 1,
      maxDropRate: 1,
      maxCalls: 100,
      genBatchSize: 5,
      genCallsPerIter: 3,
      judgeChunkSize: 5,
      revise: true,
    });
    await afterRun(redis, cfg, [proxy, upstream], async ({ runId, state, host }) => {
      // The run ended: no parent waited forever. Its judge chunk failed for good, so it ended failed.
      expect(state.status).toBe('failed');
      expect(state.stopReason).toBe(`${FAILURE.judgeFailed(1)}; ${STOP.maxIters}`);
      await expectExplicitPolicies(host, runId);
      const q = host.queues;
      const stateOf = async (queue: Queue, id: string) => (await queue.getJob(id))?.getState() ?? 'missing';

      // A generation batch failed for good; its dispatch parent completed and recorded the cells.
      expect(genVictims?.size ?? 0).toBeGreaterThan(0);
      const failedCells = [...genVictims!].map((v) => Number(/-(\d+)-s\d+$/.exec(v)![1]));
      for (const c of failedCells) expect(await stateOf(q.generate, ids.cell(runId, 0, c)), `cell ${c}`).toBe('failed');
      expect(await stateOf(q.control, ids.dispatch(runId, 0))).toBe('completed');
      const rec = readRecords(vault, runId).iters[0]!.record!;
      expect(rec.cells_failed.map((f) => f.cell).sort((a, b) => a - b)).toEqual(failedCells.sort((a, b) => a - b));
      expect(rec.generated).toBe(15 - failedCells.length);

      // A judge chunk failed for good (every attempt); its apply parent and the checkpoint completed.
      expect(judgeVictims?.size ?? 0).toBeGreaterThan(0);
      const drafts = await host.store.drafts(runId);
      const chunk = drafts.get([...judgeVictims!][0]!)!.chunk;
      const judgeJob = (await q.judge.getJob(ids.judge(runId, 0, chunk)))!;
      expect(await judgeJob.getState()).toBe('failed');
      expect(judgeJob.attemptsMade).toBe(judgeQueue.defaults.attempts);
      expect(await stateOf(q.apply, ids.apply(runId, 0, chunk))).toBe('completed');
      expect(await stateOf(q.control, ids.checkpoint(runId, 0))).toBe('completed');
      expect(rec.unjudged).toBe(judgeVictims!.size);

      // Every revision failed for good; the redispatch parent completed, and so did the judging round after it.
      const revise = (await jobsOfRun(host, runId)).filter((x) => x.queue === 'revise');
      expect(revise.length).toBeGreaterThan(0);
      for (const r of revise) expect(r.state, `revise ${r.job.id}`).toBe('failed');
      expect(await stateOf(q.control, ids.redispatch(runId, 0, 1))).toBe('completed');
      expect(await stateOf(q.control, ids.checkpoint(runId, 0, 1))).toBe('completed');
      expect(rec.revisions.revised).toBe(0);
      expect(rec.revisions.skipped.length).toBe(revise.length);
      for (const s of rec.revisions.skipped) expect(s.reason).toMatch(/^revision failed: .*400/);
      expect(upstream.violations).toEqual([]);
    });
  });
});
