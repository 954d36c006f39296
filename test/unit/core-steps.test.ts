/**
 * Each control step on its own with in-memory ports (src/core/plan.ts, dispatch.ts,
 * checkpoint.ts): the plan step's stop conditions in the design's order, a plan step and a
 * dispatch run twice, and the checkpoint's revision round and provider-failure stop.
 */
import { describe, expect, it } from 'vitest';
import { checkpointStep } from '../../src/core/checkpoint.js';
import { dispatchStep } from '../../src/core/dispatch.js';
import { generateBatch } from '../../src/core/generate-batch.js';
import { planStep } from '../../src/core/plan.js';
import { STOP } from '../../src/core/saturation.js';
import type { RunConfig } from '../../src/domain/run-config.js';
import type { GenerateResult } from '../../src/queues/generate.js';
import { memoryPorts, NOW, planCells, runConfig, type MemoryPorts } from '../helpers/core-ports.js';

const RUN = 'r';

async function planned(cfg: RunConfig, n = 4): Promise<MemoryPorts> {
  const p = memoryPorts(RUN, cfg, planCells(n));
  expect((await planStep(RUN, 0, cfg, p.deps)).decision).toBe('generate');
  return p;
}

async function generateAll(p: MemoryPorts): Promise<GenerateResult[]> {
  const gen = p.flows.added.find((f) => f.kind === 'generate');
  if (!gen || gen.kind !== 'generate') throw new Error('no generate flow');
  const out = await generateBatch(gen.cells, p.generateDeps.toPromptCells(gen.cells), p.generateDeps);
  return out.flatMap((o) => (o.ok ? [o.result] : []));
}

describe('plan step', () => {
  it('stops on a user stop before anything else', async () => {
    const cfg = runConfig();
    const p = memoryPorts(RUN, cfg, planCells(2));
    await p.store.set(RUN, { stopRequested: '1' });
    expect(await planStep(RUN, 0, cfg, p.deps)).toEqual({ decision: 'stop', detail: { reason: STOP.user } });
    expect(await p.store.get(RUN)).toMatchObject({ status: 'stopped', stopReason: STOP.user });
    expect(p.flows.added).toEqual([]);
  });

  it('stops when less than two calls are free, and on an empty plan', async () => {
    const budget = memoryPorts(RUN, runConfig({ maxCalls: 1 }), planCells(2));
    expect((await planStep(RUN, 0, runConfig({ maxCalls: 1 }), budget.deps)).detail).toEqual({ reason: STOP.budget });
    const empty = memoryPorts(RUN, runConfig(), []);
    expect((await planStep(RUN, 0, runConfig(), empty.deps)).detail).toEqual({ reason: STOP.emptyPlan });
  });

  it('gap threshold: a threshold above every gap stops before spending anything, the analysis that decided kept', async () => {
    const gap = memoryPorts(RUN, runConfig({ gapThreshold: 11 }), planCells(2));
    expect((await planStep(RUN, 0, runConfig({ gapThreshold: 11 }), gap.deps)).detail).toEqual({ reason: STOP.gap(10, 11) });
    expect(await gap.store.get(RUN)).toMatchObject({ status: 'completed', stopReason: STOP.gap(10, 11), callsUsed: 0, judgePool: 0 });
    expect(gap.calls).toEqual([]);
    expect(gap.flows.added).toEqual([]);
    expect(gap.records.files.get(`${RUN}/loop_summary.json`)).toMatchObject({ stopped_reason: STOP.gap(10, 11), iterations: 0 });
    expect(gap.records.files.has(`${RUN}/iter_00/report.json`)).toBe(true);
    expect(gap.records.readIterRecord(RUN, 0)).toBeNull();
  });

  it('sizes the iteration to the budget with repair headroom and sets its judge calls aside', async () => {
    const cfg = runConfig({ maxCalls: 5 });
    const p = memoryPorts(RUN, cfg, planCells(6));
    // 6 cells need 2·2 generate (+repair) + 2 judge = 6 > 5; 3 cells need 2·1 + 1 = 3.
    expect(await planStep(RUN, 0, cfg, p.deps)).toMatchObject({ decision: 'generate', detail: { cells: 3, remaining: 5 } });
    expect((await p.store.get(RUN))!.judgePool).toBe(2);
  });

  it('run twice, adds the same cells with the same ids and sets aside the judge calls once', async () => {
    const cfg = runConfig();
    const p = await planned(cfg);
    await planStep(RUN, 0, cfg, p.deps);
    const [a, b] = p.flows.added;
    expect(a).toEqual(b);
    // 4 cells: 2 judge chunks, and one retry each (20 calls leave room for every repair): 4, once.
    expect((await p.store.get(RUN))!.judgePool).toBe(4);
  });
});

describe('dispatch step', () => {
  it('run twice, writes each draft once and adds the same judge chunks', async () => {
    const cfg = runConfig();
    const p = await planned(cfg);
    const generated = await generateAll(p);
    const first = await dispatchStep(RUN, 0, cfg, { results: generated, failures: [] }, p.deps);
    const bytes = new Map(p.files.files);
    const second = await dispatchStep(RUN, 0, cfg, { results: generated, failures: [] }, p.deps);
    expect(second).toEqual(first);
    expect(p.files.files).toEqual(bytes);
    const judges = p.flows.added.filter((f) => f.kind === 'judge');
    expect(judges).toHaveLength(2);
    expect(judges[0]).toEqual(judges[1]);
  });

  it('records the cells that failed and does nothing once the run has ended', async () => {
    const cfg = runConfig();
    const p = await planned(cfg);
    const generated = (await generateAll(p)).slice(1);
    expect(await dispatchStep(RUN, 0, cfg, { results: generated, failures: [{ cellIndex: 0, error: 'LlmOutputInvalidError: no JSON' }] }, p.deps)).toMatchObject({ decision: 'judge', detail: { drafts: 3, failed: 1 } });
    expect(JSON.parse((await p.store.iterGet(RUN, 0)).cellsFailed!)).toEqual([{ cell: 0, error: 'LlmOutputInvalidError: no JSON' }]);
    await p.store.setStatus(RUN, 'stopped');
    expect(await dispatchStep(RUN, 0, cfg, { results: generated, failures: [] }, p.deps)).toEqual({ decision: 'run already finished' });
  });
});

describe('checkpoint step', () => {
  it('ends the run as failed when every planned cell failed for an unreachable provider', async () => {
    const cfg = runConfig();
    const p = await planned(cfg, 2);
    const failures = [0, 1].map((cellIndex) => ({ cellIndex, error: 'provider unreachable: connect ECONNREFUSED' }));
    await dispatchStep(RUN, 0, cfg, { results: [], failures }, p.deps);
    const r = await checkpointStep(RUN, 0, 0, cfg, p.deps);
    expect(r.decision).toBe('stop');
    expect(String(r.detail?.reason)).toMatch(/^provider unreachable: /);
    expect(await p.store.get(RUN)).toMatchObject({ status: 'failed', judgePool: 0, finishedAt: NOW.toISOString() });
    expect(p.records.readIterRecord(RUN, 0)).toMatchObject({ generated: 0, plan_size: 2, cells_failed: failures.map((f) => ({ cell: f.cellIndex, error: f.error })) });
  });

  it('with revise on, sends the kept NEEDS_FIX drafts of the round to revision before closing the iteration', async () => {
    const cfg = runConfig({ revise: true, maxRevisions: 1 });
    const p = await planned(cfg);
    const generated = await generateAll(p);
    await dispatchStep(RUN, 0, cfg, { results: generated, failures: [] }, p.deps);
    const d = (await p.store.drafts(RUN)).get(generated[0]!.draft.id)!;
    const criteria = { math_correct: 'PASS', cell_fit: 'WARN', scenario_realism: 'PASS', uniqueness: 'PASS', visual_alignment: 'PASS' };
    await p.store.putVerdict(RUN, d.id, { id: d.id, verdict: 'NEEDS_FIX', criteria, issues: ['vague'], fix_suggestion: 'name the device', model: 'm', source: 'model', checks: { arithmetic: 'passed', findings: [] }, iter: 0, chunk: 0, path: d.path, fileHash: d.fileHash, applied: 'kept', late: false, appliedAt: NOW.toISOString(), round: 0, history: [] });
    expect(await checkpointStep(RUN, 0, 0, cfg, p.deps)).toEqual({ decision: 'revise', detail: { drafts: 1, round: 1 } });
    const revise = p.flows.added.at(-1)!;
    expect(revise.kind === 'revise' && revise.items.map((i) => [i.draft.id, i.round, i.fix_suggestion])).toEqual([[d.id, 1, 'name the device']]);
    expect(p.records.readIterRecord(RUN, 0)).toBeNull();
  });
});
