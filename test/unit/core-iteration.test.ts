/**
 * One iteration through the core with in-memory ports and the offline provider: plan → dispatch
 * (generate batches) → judge chunks → apply (DROP drafts pruned) → checkpoint, then the next plan
 * step decides the run is over. No Redis, no disk.
 */
import { expect, it } from 'vitest';
import { checkpointStep } from '../../src/core/checkpoint.js';
import { dispatchStep } from '../../src/core/dispatch.js';
import { generateBatch } from '../../src/core/generate-batch.js';
import { judgeChunk } from '../../src/core/judge-chunk.js';
import { planStep } from '../../src/core/plan.js';
import { applyChunk } from '../../src/core/prune.js';
import { STOP } from '../../src/core/saturation.js';
import type { GenerateCell } from '../../src/domain/plan-cell.js';
import type { GenerateResult } from '../../src/queues/generate.js';
import type { JudgeChunkPlan } from '../../src/core/ports.js';
import { sha256 } from '../../src/corpus/loader.js';
import { memoryPorts, planCells, runConfig, NOW } from '../helpers/core-ports.js';

const RUN = 'run-1';

it('plans, generates, judges, prunes the DROP drafts and checkpoints one iteration; the next plan stops at maxIters', async () => {
  const cfg = runConfig({ offlineDefectRate: 0.5, offlineDefectKinds: ['wrong-arithmetic'] });
  const plan = planCells(6);
  const p = memoryPorts(RUN, cfg, plan);

  // Plan: the whole plan fits the budget; its judge calls are set aside before any generation.
  const planned = await planStep(RUN, 0, cfg, p.deps);
  expect(planned).toMatchObject({ decision: 'generate', detail: { cells: 6, remaining: 20, topPriority: 10 } });
  const gen = p.flows.added[0]!;
  if (gen.kind !== 'generate') throw new Error(`first flow is ${gen.kind}`);
  const cells: GenerateCell[] = gen.cells;
  expect(cells.map((c) => c.cell)).toEqual(plan);
  // One id per cell, in plan order, numbered per track.
  expect(cells.map((c) => c.draftId)).toEqual(['cloud-0001', 'edge-0001', 'mobile-0001', 'tinyml-0001', 'global-0001', 'cloud-0002']);
  expect(p.records.files.get(`${RUN}/iter_00/plan.json`)).toEqual(plan);
  expect((await p.store.get(RUN))!.judgePool).toBe(4);

  // Generate, one batch per genBatchSize cells, then dispatch writes the drafts.
  const generated: GenerateResult[] = [];
  const failures: { cellIndex: number; error: string }[] = [];
  for (let i = 0; i < cells.length; i += cfg.genBatchSize) {
    const batch = cells.slice(i, i + cfg.genBatchSize);
    const outcomes = await generateBatch(batch, p.generateDeps.toPromptCells(batch), p.generateDeps);
    outcomes.forEach((o, k) => (o.ok ? generated.push(o.result) : failures.push({ cellIndex: batch[k]!.cellIndex, error: o.error.message })));
  }
  expect(failures).toEqual([]);
  expect(p.calls.map((c) => c.purpose)).toEqual(['generate', 'generate']);
  const dispatched = await dispatchStep(RUN, 0, cfg, { results: generated, failures }, p.deps);
  // The deterministic pre-judge drops the two drafts with wrong arithmetic before any judge call:
  // they go last, in a chunk of their own.
  expect(dispatched).toEqual({ decision: 'judge', detail: { drafts: 6, failed: 0, chunks: 3, prejudgeDropped: 2, callsSaved: 0 } });
  const judgeFlow = p.flows.added[1]!;
  if (judgeFlow.kind !== 'judge') throw new Error(`second flow is ${judgeFlow.kind}`);
  const chunks: JudgeChunkPlan[] = judgeFlow.chunks;
  expect(chunks.map((c) => c.drafts.map((d) => d.id))).toEqual([['cloud-0001', 'mobile-0001', 'global-0001'], ['cloud-0002'], ['edge-0001', 'tinyml-0001']]);
  const paths = cells.map((c) => `questions/${c.cell.track}/${c.cell.competency_area}/${c.draftId}.yaml`);
  expect([...p.files.files.keys()].sort()).toEqual([...paths].sort());
  for (const c of chunks) for (const d of c.drafts) expect(sha256(p.files.files.get(d.path)!)).toBe(d.fileHash);
  expect(p.records.files.get(`${RUN}/iter_00/judge_inputs.txt`)).toBe(`${paths.join('\n')}\n`);
  // The judge pool set aside at plan (4) stays: at most two calls (one retry) per chunk.
  expect((await p.store.get(RUN))!.judgePool).toBe(4);

  // Judge each chunk, apply its verdicts.
  const verdicts: [string, string, string][] = [];
  const pruned: string[] = [];
  for (const c of chunks) {
    const result = await judgeChunk({ runId: RUN, iter: 0, chunk: c.chunk, round: 0, drafts: c.drafts }, new Map(), p.judgeDeps);
    const applied = await applyChunk(
      { runId: RUN, iter: 0, chunk: c.chunk, round: 0, drafts: c.drafts.map((d) => ({ id: d.id, path: d.path, fileHash: d.fileHash, track: String(d.doc.track) })) },
      result.verdicts,
      null,
      { store: p.store, files: p.files, now: () => NOW },
      result.svgs,
    );
    verdicts.push(...result.verdicts.map((v): [string, string, string] => [v.id, v.verdict, v.source ?? '']));
    pruned.push(...applied.pruned);
    expect(applied.unjudged).toEqual([]);
  }
  expect(verdicts).toEqual([
    ['cloud-0001', 'PASS', 'model'],
    ['mobile-0001', 'NEEDS_FIX', 'model'],
    ['global-0001', 'NEEDS_FIX', 'model'],
    ['cloud-0002', 'NEEDS_FIX', 'model'],
    ['edge-0001', 'DROP', 'prejudge'],
    ['tinyml-0001', 'DROP', 'prejudge'],
  ]);
  // Two judge calls (the pre-judged chunk needs none); the DROP drafts are gone, the rest kept.
  expect(p.calls.map((c) => c.purpose)).toEqual(['generate', 'generate', 'judge', 'judge']);
  expect(pruned).toEqual(['edge-0001', 'tinyml-0001']);
  expect([...p.files.files.keys()].sort()).toEqual(paths.filter((f) => !/edge-0001|tinyml-0001/.test(f)).sort());
  expect([...(await p.store.verdicts(RUN)).values()].map((v) => [v.id, v.applied]).sort()).toEqual([
    ['cloud-0001', 'kept'],
    ['cloud-0002', 'kept'],
    ['edge-0001', 'pruned'],
    ['global-0001', 'kept'],
    ['mobile-0001', 'kept'],
    ['tinyml-0001', 'pruned'],
  ]);

  // Checkpoint: the iteration's records, the unused judge calls back to the run, the next plan added.
  expect(await checkpointStep(RUN, 0, 0, cfg, p.deps)).toEqual({ decision: 'next', detail: { dropRate: 0.3333, generated: 6 } });
  expect(p.records.readIterRecord(RUN, 0)).toMatchObject({
    iter: 0,
    kind: 'generate',
    top_cell: [plan[0]!.track, plan[0]!.zone, plan[0]!.level],
    top_priority: 10,
    generated: 6,
    plan_size: 6,
    calls_used_total: 4,
    calls_used_iter: 4,
    drop_rate: 0.3333,
    pass_rate: 0.1667,
    applied: { dropped: 2, kept_pass: 1, kept_needs_fix: 3 },
    cells_failed: [],
    unjudged: 0,
    prejudge: { dropped: 2, calls_saved: 0 },
    started_at: NOW.toISOString(),
    finished_at: NOW.toISOString(),
  });
  expect(p.records.judgeSummaries(RUN)).toMatchObject([{ n_items: 6, n_judged: 6, verdicts: { PASS: 1, NEEDS_FIX: 3, DROP: 2 } }]);
  expect(await p.store.get(RUN)).toMatchObject({ status: 'running', maxCalls: 20, callsUsed: 4, callsReserved: 0, judgePool: 0 });
  expect(p.flows.added.map((f) => [f.kind, f.iter])).toEqual([
    ['generate', 0],
    ['judge', 0],
    ['plan', 1],
  ]);

  // The next plan step decides: maxIters reached, the run completes with its loop summary.
  expect(await planStep(RUN, 1, cfg, p.deps)).toEqual({ decision: 'stop', detail: { reason: STOP.maxIters } });
  expect(await p.store.get(RUN)).toMatchObject({ status: 'completed', stopReason: STOP.maxIters, finishedAt: NOW.toISOString(), callsUsed: 4 });
  expect(p.records.files.get(`${RUN}/loop_summary.json`)).toMatchObject({ status: 'completed', iterations: 1, calls_used_total: 4, passes: 1, stopped_reason: STOP.maxIters, continue_with: null });
  expect(p.flows.added).toHaveLength(3);
});
