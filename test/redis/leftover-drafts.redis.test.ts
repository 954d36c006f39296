/**
 * No draft stays unjudged forever. A stopped run leaves its unjudged drafts listed by `status`,
 * and `vault-loop judge` judges them and nothing else; after a crash, the next host judges the
 * crashed run's queued chunks and never judges a draft twice. That the next run judges them first,
 * in a catch-up iteration that does not count against maxIters: test/unit/core-runs.test.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { findLeftoverDrafts } from '../../src/scheduler/leftovers.js';
import type { RunStore } from '../../src/state/run-state.js';
import { STOP } from '../../src/scheduler/steps.js';
import { silentLogger } from '../../src/util/log.js';
import type { Config } from '../../src/config/index.js';
import { freshVault, inProcessWorkers, openHost, readRecords, runCli, testConfig } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

const redis = fileRedis('leftovers');

/** A corpus host (control, apply) with generate and render workers but no judge worker. */
async function hostWithoutJudge(cfg: Config): Promise<{ host: CorpusHost; stopWorkers: () => Promise<void> }> {
  const host = await CorpusHost.open({ cfg, vault: cfg.vault!, target: { options: redis.options, describe: redis.url }, log: silentLogger, inProcessWorkers: false });
  return { host, stopWorkers: inProcessWorkers(redis, cfg, ['generate', 'render']) };
}

/** A run stopped after its dispatch, before any judging: every draft it wrote is left unjudged. */
async function stoppedRun(vault: string): Promise<{ runId: string; written: string[] }> {
  const cfg = testConfig(redis, vault, { maxIters: 3, maxCalls: 40, maxDropRate: 1 });
  const a = await hostWithoutJudge(cfg);
  const runId = await a.host.startRun(cfg);
  // Dispatch has written and recorded the drafts; their judge chunks wait for a judge worker.
  await until('dispatch', async () => (await a.host.store.get(runId))?.phase === 'judge');
  const written = [...(await a.host.store.drafts(runId)).keys()].sort();
  await a.host.store.requestStop(runId);
  const stopJudge = inProcessWorkers(redis, cfg, ['judge']);
  const state = await a.host.waitForRun(runId, undefined, undefined, 100);
  await stopJudge();
  await a.stopWorkers();
  expect(state.status).toBe('stopped');
  expect((await a.host.store.verdicts(runId)).size).toBe(0);
  await a.host.close();
  return { runId, written };
}

/** Draft id → the runs holding a verdict for it. */
async function verdictRuns(store: RunStore, runIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const r of runIds) for (const id of (await store.verdicts(r)).keys()) out.set(id, [...(out.get(id) ?? []), r]);
  return out;
}

describe('drafts an earlier run left unjudged', () => {
  it('a stopped run: listed by status, then judged by `vault-loop judge --vault`, which generates nothing', async () => {
    const vault = await freshVault(300, 23);
    const { runId: runA, written: ids } = await stoppedRun(vault);
    expect(ids.length).toBeGreaterThan(0);
    const written = new Set(ids);

    // `status --vault` lists every one of them, with the run that wrote it.
    const st = await runCli(['status', '--vault', vault, '--json', '--redis', redis.url, '--prefix', redis.prefix]);
    expect(st.code, st.out).toBe(0);
    const listed = (JSON.parse(st.out.slice(st.out.indexOf('{'))) as { unjudgedDrafts: { id: string; runId: string; path: string }[] }).unjudgedDrafts;
    expect(listed.map((d) => d.id).sort()).toEqual(ids);
    expect(new Set(listed.map((d) => d.runId))).toEqual(new Set([runA]));

    // `vault-loop judge` judges them, generates nothing, and ends.
    const r = await runCli(['judge', '--vault', vault, '--json', '--progress', 'none', '--redis', redis.url, '--prefix', redis.prefix, '--judge-chunk-size', '5']);
    expect(r.code, r.out).toBe(0);
    const summary = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { run_id: string; stopped_reason: string; history: { kind: string; generated: number; plan_size: number; unjudged: number }[] };
    expect(summary.stopped_reason).toBe(STOP.leftoversJudged);
    expect(summary.history).toEqual([expect.objectContaining({ kind: 'catch-up', generated: written.size, plan_size: 0, unjudged: 0 })]);
    const host = await openHost(redis, testConfig(redis, vault), false);
    try {
      expect([...(await host.store.verdicts(summary.run_id)).keys()].sort()).toEqual(ids);
      const drafts = await host.store.drafts(summary.run_id);
      for (const id of ids) expect(drafts.get(id)?.adoptedFrom).toBe(runA);
      // DROPped leftovers were pruned like any draft; nothing is left unjudged.
      for (const v of (await host.store.verdicts(summary.run_id)).values()) if (v.applied === 'pruned') expect(existsSync(join(vault, v.path))).toBe(false);
      expect(await findLeftoverDrafts(host.store, vault)).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it('a crashed run: the next host judges its queued chunks, `vault-loop judge` finds nothing more, and no draft is judged twice', async () => {
    const vault = await freshVault(300, 29);
    const cfgA = testConfig(redis, vault, { maxIters: 1, maxCalls: 40, maxDropRate: 1 });
    const a = await hostWithoutJudge(cfgA);
    const runA = await a.host.startRun(cfgA);
    await until('dispatch', async () => (await a.host.store.get(runA))?.phase === 'judge');
    const written = await a.host.store.drafts(runA);
    expect(written.size).toBeGreaterThan(0);
    // The host dies: the run stays "running" with its judge chunks queued.
    await a.stopWorkers();
    await a.host.close(true);

    const cfgB = testConfig(redis, vault, { maxIters: 1, maxCalls: 40, maxDropRate: 1 });
    const hostB = await openHost(redis, cfgB);
    try {
      const runB = await hostB.startRun(cfgB, { judgeOnly: true });
      const stateB = await hostB.waitForRun(runB, undefined, undefined, 100);
      expect(stateB.status).toBe('completed');
      expect([STOP.noLeftovers, STOP.leftoversJudged]).toContain(stateB.stopReason);
      // The crashed run's own chunks ran on this host and its loop closed.
      const stateA = await hostB.waitForRun(runA, undefined, undefined, 100);
      expect(stateA.status).toBe('completed');
      const byDraft = await verdictRuns(hostB.store, [runA, runB]);
      for (const id of written.keys()) expect(byDraft.get(id)?.length ?? 0, id).toBe(1);
      expect(await findLeftoverDrafts(hostB.store, vault)).toEqual([]);
      // A judging run generates nothing.
      const rec = readRecords(vault, runB);
      expect(rec.summary.history.every((h) => h.kind === 'catch-up')).toBe(true);
    } finally {
      await hostB.close();
    }
  });
});
