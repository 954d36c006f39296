/**
 * Convergence in a real run (calls spent, drafts written and judged): when an iteration leaves the
 * coverage as it was, the next plan has the same top cell with the same priority, and the run
 * stops "converged" — after the DROP-rate check, which maxDropRate 1 keeps from firing first.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson } from '../../src/scheduler/records.js';
import { STOP } from '../../src/scheduler/steps.js';
import type { PlanCell } from '../../src/analysis/types.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runToEnd, testConfig, vaultSnapshot } from '../helpers/pipeline.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await useTestRedis('converge');
});
afterAll(async () => {
  await redis.cleanup();
});

describe('convergence in a non-dry run', () => {
  it('a real run whose drafts are all DROPped plans the same top cell at the same priority again and stops converged, with its records on disk', async () => {
    const vault = await freshVault(300, 51);
    const before = vaultSnapshot(vault);
    // Every draft has wrong arithmetic: every verdict is DROP, every file pruned, coverage unchanged.
    const cfg = testConfig(redis, vault, { offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic'], maxDropRate: 1, maxIters: 5, maxCalls: 100 });
    expect(cfg.dryRun).toBe(false);
    const { runId, state, host } = await runToEnd(redis, cfg);
    const drafts = [...(await host.store.drafts(runId)).values()];
    const verdicts = [...(await host.store.verdicts(runId)).values()];
    await host.close();

    expect(state.status).toBe('completed');
    expect(state.stopReason).toBe(STOP.converged);
    // Calls were spent (the generation; the pre-judge's arithmetic re-check DROPs these drafts itself).
    expect(state.callsUsed).toBeGreaterThan(0);
    expect(drafts.length).toBe(10);
    expect(verdicts.map((v) => v.verdict)).toEqual(drafts.map(() => 'DROP'));
    for (const v of verdicts) {
      expect(v.applied).toBe('pruned');
      expect(existsSync(join(vault, v.path)), v.path).toBe(false);
    }

    const rec = readRecords(vault, runId);
    expect(rec.summary.stopped_reason).toBe(STOP.converged);
    expect(rec.summary.status).toBe('completed');
    expect(rec.summary.iterations).toBe(1);
    expect(rec.summary.calls_used_total).toBe(state.callsUsed);
    expect(rec.iters[0]!.record!.calls_used_iter).toBe(state.callsUsed);
    const [it0, it1] = rec.iters;
    expect(it0!.record!.generated).toBe(10);
    expect(it0!.record!.drop_rate).toBe(1);
    expect(it0!.record!.applied.dropped).toBe(10);
    expect(it0!.judge!.verdicts).toEqual({ PASS: 0, NEEDS_FIX: 0, DROP: 10 });
    // The drop rate equals maxDropRate (not above it), so the DROP-rate stop does not fire.
    expect(it0!.record!.drop_rate).toBeLessThanOrEqual(cfg.maxDropRate);
    // The second plan was made (its analysis is on disk; the iteration stopped at its plan, so it has
    // no plan.json or record of its own), and its top cell and priority are the first iteration's.
    expect(it1, 'iter_01 was planned').toBeDefined();
    expect(it1!.record).toBeNull();
    expect(it1!.plan).toBeNull();
    const report0 = readJson<{ recommended_plan: PlanCell[] }>(join(it0!.dir, 'report.json'))!;
    const report1 = readJson<{ recommended_plan: PlanCell[] }>(join(it1!.dir, 'report.json'))!;
    const top1 = report1.recommended_plan[0]!;
    expect([top1.track, top1.zone, top1.level]).toEqual(it0!.record!.top_cell);
    expect(top1.priority).toBe(it0!.record!.top_priority);
    // The same plan as the first iteration: nothing the run did is left in the coverage.
    expect(report1.recommended_plan).toEqual(report0.recommended_plan);
    expect(it0!.plan).toEqual(report0.recommended_plan.slice(0, 10));
    const runJson = readJson<{ status: string; stopped_reason: string }>(join(rec.iters[0]!.dir, '..', 'run.json'))!;
    expect(runJson.stopped_reason).toBe(STOP.converged);
    // Only the run's records were added to the vault: the questions are as they were.
    expect(vaultSnapshotWithout(vault)).toBe(before);
  });

  it('the same run with its drafts kept does not converge: the next plan differs and it runs to max iterations', async () => {
    const vault = await freshVault(300, 51);
    const cfg = testConfig(redis, vault, { offlineDefectRate: 0, maxDropRate: 1, maxIters: 2, maxCalls: 100 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    expect(state.stopReason).toBe(STOP.maxIters);
    const rec = readRecords(vault, runId);
    expect(rec.summary.iterations).toBe(2);
    const [a, b] = rec.iters.map((i) => i.record!);
    expect(a!.applied.kept_pass + a!.applied.kept_needs_fix).toBeGreaterThan(0);
    expect(`${a!.top_cell!.join('|')}@${a!.top_priority}`).not.toBe(`${b!.top_cell!.join('|')}@${b!.top_priority}`);
  });
});

/** vaultSnapshot of the vault with the run records taken out (they are new by design). */
function vaultSnapshotWithout(vault: string): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'vl-conv-')), 'vault');
  cpSync(vault, copy, { recursive: true });
  rmSync(join(copy, '_validation_results'), { recursive: true, force: true });
  return vaultSnapshot(copy);
}
