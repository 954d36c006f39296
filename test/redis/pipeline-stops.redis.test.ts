/**
 * Whole runs with the offline provider against a real Redis: each stop condition ends the run
 * for its own reason, with records on disk that say so.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inLevelAffinity, LEVELS, TRACKS, ZONES } from '../../src/corpus/taxonomy.js';
import { STOP } from '../../src/scheduler/steps.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, openHost, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('stops');

describe('stop conditions', () => {
  it('max iterations: stops after maxIters iterations, each recorded', async () => {
    const vault = await freshVault(300);
    const cfg = testConfig(redis, vault, { maxIters: 2, maxCalls: 100 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    expect(state.status).toBe('completed');
    expect(state.stopReason).toBe(STOP.maxIters);
    const rec = readRecords(vault, runId);
    expect(rec.summary.stopped_reason).toBe(STOP.maxIters);
    expect(rec.summary.iterations).toBe(2);
    expect(rec.iters.filter((i) => i.record).map((i) => i.record!.iter)).toEqual([0, 1]);
    for (const it of rec.iters.filter((i) => i.record)) {
      expect(it.record!.generated).toBeGreaterThan(0);
      expect(it.judge!.n_judged + it.judge!.unjudged.length).toBe(it.record!.generated);
    }
    expect(rec.summary.calls_used_total).toBeLessThanOrEqual(100);
    expect(rec.summary.history).toHaveLength(2);
  });

  it('budget exhausted: never spends past maxCalls and says why it stopped', async () => {
    const vault = await freshVault(300);
    // Each iteration of 10 cells needs 2 generate + 2 judge calls; 5 calls leave too little for a second.
    const cfg = testConfig(redis, vault, { maxIters: 10, maxCalls: 5 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    expect(state.stopReason).toBe(STOP.budget);
    expect(state.callsUsed).toBeLessThanOrEqual(5);
    const rec = readRecords(vault, runId);
    expect(rec.summary.stopped_reason).toBe(STOP.budget);
    expect(rec.summary.calls_used_total).toBeLessThanOrEqual(5);
    expect(rec.summary.iterations).toBeGreaterThanOrEqual(1);
  });

  it('order: when several conditions hold at once, the first in DESIGN.md order names the stop', async () => {
    // Budget (1 call: fewer than 2 left) and the gap threshold both hold at the first plan: budget wins.
    const a = await runToEnd(redis, testConfig(redis, await freshVault(300), { maxCalls: 1, gapThreshold: 1000 }));
    await a.host.close();
    expect(a.state.stopReason).toBe(STOP.budget);
    expect(a.state.callsUsed).toBe(0);
    // 3 calls size one iteration of 5 cells (1 generate call, its repair headroom, 1 judge call); it
    // needs no repair and spends 2: at the second plan both max iterations and budget (1 left) hold:
    // max iterations wins.
    const b = await runToEnd(redis, testConfig(redis, await freshVault(300), { maxIters: 1, maxCalls: 3, gapThreshold: 0, batchWindowMs: 1000 }));
    await b.host.close();
    expect(b.state.callsUsed).toBe(2);
    expect(b.state.stopReason).toBe(STOP.maxIters);
  });

  it('DROP rate: an iteration that drops more than maxDropRate stops the next one', async () => {
    const vault = await freshVault(300);
    const cfg = testConfig(redis, vault, { offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic'], maxDropRate: 0.05, maxIters: 5, maxCalls: 100 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    expect(state.stopReason).toMatch(/^DROP rate [\d.]+ exceeds 0.05 — likely hallucination$/);
    const rec = readRecords(vault, runId);
    expect(rec.summary.iterations).toBe(1);
    expect(rec.iters[0]!.record!.drop_rate).toBeGreaterThan(0.05);
    expect(rec.summary.stopped_reason).toBe(state.stopReason);
  });

  it('converged: a dry run plans the same top cell three times (unchanged over the two previous iterations) and stops, spending nothing', async () => {
    const vault = await freshVault(300);
    const cfg = testConfig(redis, vault, { dryRun: true, maxIters: 10 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    expect(state.stopReason).toBe(STOP.converged);
    expect(state.callsUsed).toBe(0);
    const rec = readRecords(vault, runId);
    // As the original: iterations 0 and 1 recorded, the plan of iteration 2 sees the same top cell.
    expect(rec.summary.iterations).toBe(2);
    expect(rec.iters[0]!.record!.generated).toBe(0);
    expect(rec.iters[0]!.judge).toBeNull();
    expect(rec.iters[1]!.record!.top_cell).toEqual(rec.iters[0]!.record!.top_cell);
  });

  it('empty plan: a saturated vault has nothing to plan', async () => {
    // One question in every affinity cell of every track: nothing is short.
    const vault = join(mkdtempSync(join(tmpdir(), 'vl-sat-')), 'vault');
    let n = 0;
    for (const track of TRACKS)
      for (const zone of ZONES)
        for (const level of LEVELS) {
          if (!inLevelAffinity(zone, level)) continue;
          n++;
          const id = `${track}-${String(n).padStart(4, '0')}`;
          mkdirSync(join(vault, 'questions', track, 'latency'), { recursive: true });
          writeFileSync(join(vault, 'questions', track, 'latency', `${id}.yaml`), `id: ${id}\ntrack: ${track}\nzone: ${zone}\nlevel: ${level}\ntopic: queueing-theory\ncompetency_area: latency\nstatus: published\n`);
        }
    const cfg = testConfig(redis, vault, {});
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    expect(state.stopReason).toBe(STOP.emptyPlan);
    expect(readRecords(vault, runId).summary.stopped_reason).toBe(STOP.emptyPlan);
  });

  it('user stop: `stop` ends a running run with its true reason', async () => {
    const vault = await freshVault(300);
    const cfg = testConfig(redis, vault, { offlineLatencyMs: 400, maxIters: 10, maxCalls: 100 });
    const host = await openHost(redis, cfg);
    const runId = await host.startRun(cfg);
    // Wait for the first generation to be under way, then stop.
    await host.waitForRun(runId, async (s) => {
      if (s.phase === 'generate' && !s.stopRequested) await host.store.requestStop(runId);
    }, undefined, 50);
    const state = (await host.store.get(runId))!;
    await host.close();
    expect(state.status).toBe('stopped');
    expect(state.stopReason).toBe(STOP.user);
    const rec = readRecords(vault, runId);
    expect(rec.summary.stopped_reason).toBe(STOP.user);
    expect(rec.summary.status).toBe('stopped');
  });
});
