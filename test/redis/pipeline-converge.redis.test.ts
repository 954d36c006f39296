/**
 * Convergence in a real run (calls spent, drafts written and judged): an iteration whose top-cell
 * drafts were all DROPped leaves the coverage as it was, so the next plan has the same top cell at
 * the same priority; that is no evidence of saturation, and the run does not stop "converged".
 * That kept drafts are evidence (the same plans converge): test/unit/core-runs.test.ts.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJson } from '../../src/scheduler/records.js';
import { STOP } from '../../src/scheduler/steps.js';
import type { PlanCell } from '../../src/analysis/types.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runToEnd, testConfig, vaultSnapshot } from '../helpers/pipeline.js';

const redis = fileRedis('converge');

describe('convergence in a non-dry run', () => {
  it('a run whose top-cell drafts are all DROPped plans the same top cell at the same priority again and again, yet never counts as converged: it runs to max iterations', async () => {
    const vault = await freshVault(300, 51);
    const before = vaultSnapshot(vault);
    // Every draft has wrong arithmetic: every verdict is DROP, every file pruned, coverage unchanged.
    const cfg = testConfig(redis, vault, { offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic'], maxDropRate: 1, maxIters: 3, maxCalls: 100 });
    expect(cfg.dryRun).toBe(false);
    const { runId, state, host } = await runToEnd(redis, cfg);
    const drafts = [...(await host.store.drafts(runId)).values()];
    const verdicts = [...(await host.store.verdicts(runId)).values()];
    await host.close();

    expect(state.status).toBe('completed');
    expect(state.stopReason).toBe(STOP.maxIters);
    expect(state.callsUsed).toBeGreaterThan(0);
    expect(drafts.length).toBe(30);
    expect(verdicts.map((v) => v.verdict)).toEqual(drafts.map(() => 'DROP'));
    for (const v of verdicts) {
      expect(v.applied).toBe('pruned');
      expect(existsSync(join(vault, v.path)), v.path).toBe(false);
    }

    const rec = readRecords(vault, runId);
    expect(rec.summary.stopped_reason).toBe(STOP.maxIters);
    expect(rec.summary.iterations).toBe(3);
    // The same top cell at the same priority three times: without the DROP rule this would have
    // stopped "converged" at the third plan.
    const tops = rec.iters.map((i) => `${i.record!.top_cell!.join('|')}@${i.record!.top_priority}`);
    expect(new Set(tops).size).toBe(1);
    for (const it of rec.iters) expect(it.record!.applied.dropped).toBe(10);
    const report0 = readJson<{ recommended_plan: PlanCell[] }>(join(rec.iters[0]!.dir, 'report.json'))!;
    const report2 = readJson<{ recommended_plan: PlanCell[] }>(join(rec.iters[2]!.dir, 'report.json'))!;
    expect(report2.recommended_plan).toEqual(report0.recommended_plan);
    const runJson = readJson<{ status: string; stopped_reason: string }>(join(rec.iters[0]!.dir, '..', 'run.json'))!;
    expect(runJson.stopped_reason).toBe(STOP.maxIters);
    // Only the run's records were added to the vault: the questions are as they were.
    expect(vaultSnapshotWithout(vault)).toBe(before);
  });
});

/** vaultSnapshot of the vault with the run records taken out (they are new by design). */
function vaultSnapshotWithout(vault: string): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'vl-conv-')), 'vault');
  cpSync(vault, copy, { recursive: true });
  rmSync(join(copy, '_validation_results'), { recursive: true, force: true });
  return vaultSnapshot(copy);
}
