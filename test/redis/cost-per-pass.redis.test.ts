/**
 * Cost per accepted question: calls and dollars per PASS draft, per iteration and per run, in
 * iter_record.json, loop_summary.json, the summary table (`run`, `status RUN`), the run page and
 * /metrics; the pre-judge's savings beside them, read from the records' `prejudge.calls_saved`
 * (0 where a record does not carry it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsText } from '../../dashboard/metrics.js';
import { runDetail } from '../../dashboard/data.js';
import { runBody } from '../../dashboard/views.js';
import { passCostLine, summaryTable, summaryText } from '../../src/cli/summary.js';
import { iterDir, readJson, writeLoopSummary, type IterRecord, type LoopSummary } from '../../src/scheduler/records.js';
import { afterRun, freshVault, readRecords, testConfig } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';

const redis = fileRedis('costperpass');

describe('cost per accepted question', () => {
  it('is in the records, the summary table, the run page and /metrics, with the pre-judge savings beside it', async () => {
    const vault = await freshVault(300, 37);
    // A price for the offline model, so that cost is not zero.
    const cfg = testConfig(redis, vault, { maxIters: 2, maxCalls: 40, maxDropRate: 1, prices: { 'offline-v1': { input: 1, output: 4 } } });
    await afterRun(redis, cfg, [], async ({ runId, state, host }) => {
      const rec = readRecords(vault, runId);
      const s = rec.summary;
      const passes = [...(await host.store.verdicts(runId)).values()].filter((v) => v.verdict === 'PASS').length;
      expect(passes).toBeGreaterThan(0);
      expect(state.costUsd).toBeGreaterThan(0);
      expect(s.passes).toBe(passes);
      expect(s.calls_per_pass).toBeCloseTo(state.callsUsed / passes, 3);
      expect(s.cost_per_pass_usd).toBeCloseTo(state.costUsd / passes, 5);
      for (const h of s.history) {
        if (h.applied.kept_pass === 0) expect(h.cost_per_pass_usd).toBeNull();
        else {
          expect(h.calls_per_pass).toBeCloseTo(h.calls_used_iter / h.applied.kept_pass, 3);
          expect(h.cost_per_pass_usd).toBeCloseTo(h.cost_usd / h.applied.kept_pass, 5);
        }
      }
      // No pre-judge field in the records yet: 0 saved.
      expect(passCostLine(s)).toBe(`cost per accepted question: $${s.cost_per_pass_usd!.toFixed(4)} and ${s.calls_per_pass} calls per PASS draft (${passes} PASS); calls saved by the pre-judge: 0`);
      const table = summaryTable(s, 200).split('\n');
      expect(table[0]).toMatch(/calls\/PASS +\$\/PASS +pre-judge saved/);

      // The pre-judge states its savings per iteration: they show up beside the cost.
      const path = join(iterDir(vault, runId, 0), 'iter_record.json');
      const iterRec = JSON.parse(readFileSync(path, 'utf8')) as IterRecord;
      writeFileSync(path, JSON.stringify({ ...iterRec, prejudge: { ...iterRec.prejudge, calls_saved: 3 } }));
      const again = await writeLoopSummary(vault, host.store, runId);
      expect(passCostLine(again)).toMatch(/calls saved by the pre-judge: 3$/);
      expect(summaryText(vault, runId)).toContain('calls saved by the pre-judge: 3');
      expect(readJson<LoopSummary>(join(vault, '_validation_results', 'coverage_loop', runId, 'loop_summary.json'))!.cost_per_pass_usd).toBe(s.cost_per_pass_usd);

      // The run page and /metrics.
      const d = (await runDetail(host.store, host.queues, runId))!;
      expect(d.perPass.cost_per_pass_usd).toBeCloseTo(state.costUsd / passes, 5);
      expect(d.prejudgeCallsSaved).toBe(3);
      const html = runBody(d, { iter: null, zones: [], levels: [], maxPriority: 0, tracks: [] }, 'viewer');
      expect(html).toMatch(/id="card-per-pass">cost per accepted question<b>\$[\d.]+ · [\d.]+ calls<\/b>/);
      expect(html).toContain('id="card-prejudge-saved">calls saved by the pre-judge<b>3</b>');
      const metrics = await metricsText(host.store, host.queues);
      const sample = (name: string) => Number(new RegExp(`^${name}\\{run="${runId}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(sample('vault_loop_run_calls_per_pass')).toBeCloseTo(state.callsUsed / passes, 3);
      expect(sample('vault_loop_run_cost_per_pass_usd')).toBeCloseTo(state.costUsd / passes, 5);
      expect(sample('vault_loop_run_prejudge_calls_saved')).toBe(3);
    });
  });
});
