/**
 * Whole runs through the core with in-memory ports (test/helpers/core-ports.ts `runInMemory`): the
 * rules a run obeys from plan to stop, each checked without Redis. The Redis suites keep one whole
 * run per invariant (test/redis/).
 */
import { describe, expect, it } from 'vitest';
import { passCost, prejudgeCallsSaved } from '../../src/core/records.js';
import { STOP } from '../../src/core/saturation.js';
import { dispatchStep } from '../../src/core/dispatch.js';
import { generateBatch } from '../../src/core/generate-batch.js';
import { planStep } from '../../src/core/plan.js';
import { parseQuestionText } from '../../src/corpus/loader.js';
import { TRACKS, type Track } from '../../src/corpus/taxonomy.js';
import type { PlanCell } from '../../src/domain/plan-cell.js';
import type { JudgeSummary, LoopSummary } from '../../src/domain/records.js';
import type { RunConfig } from '../../src/domain/run-config.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import type { CompletionRequest, LlmProvider } from '../../src/llm/types.js';
import { memoryPorts, planCells, runConfig, runInMemory, type MemoryPorts } from '../helpers/core-ports.js';

const RUN = 'run-1';
const isRepair = (req: CompletionRequest): boolean => /^<repair>\s*$/m.test(req.prompt);
const cellsOf = (req: CompletionRequest) => readPromptBlock(req.prompt, 'cells') as { variant: string }[];

/** A whole in-memory run of `cfg` over `plan` (the same plan at every analysis unless `analyze` is set). */
async function run(over: Partial<RunConfig>, plan: PlanCell[] = planCells(10), runId = RUN, wrap?: (p: LlmProvider) => LlmProvider) {
  const cfg = runConfig(over);
  const p = memoryPorts(runId, cfg, plan, {}, wrap);
  return { p, cfg, ...(await outcome(p, runId, cfg)) };
}

async function outcome(p: MemoryPorts, runId: string, cfg: RunConfig) {
  const state = await runInMemory(p, runId, cfg);
  const summary = p.records.files.get(`${runId}/loop_summary.json`) as LoopSummary;
  const iters = summary.history.map((h) => h.iter);
  return { state, summary, record: (i: number) => p.records.readIterRecord(runId, i)!, iters };
}

/** An analysis whose plan's top priority falls by one each time it is asked: never converged. */
function fallingPlan(p: MemoryPorts, asked: boolean[] = []): boolean[] {
  p.deps.analyze = async ({ visual }) => {
    asked.push(visual);
    const plan = planCells(6).map((c) => ({ ...c, priority: c.priority - asked.length, with_visual: visual }));
    return { report: { recommended_plan: plan } as never, markdown: '# report\n' };
  };
  return asked;
}

const small = { genBatchSize: 5, genCallsPerIter: 2, judgeChunkSize: 5 };

describe('each stop condition ends a whole run for its own reason, in loop_summary.json', () => {
  it('budget exhausted: never spends past maxCalls, and stops when the next iteration does not fit', async () => {
    const { p, state, summary } = await run({ ...small, maxIters: 10, maxCalls: 5, maxDropRate: 1 });
    expect(state.stopReason).toBe(STOP.budget);
    expect(summary.stopped_reason).toBe(STOP.budget);
    // Every call reached the provider through the budget, and no more than it allowed.
    expect(state.callsUsed).toBe(p.calls.length);
    expect(state.callsUsed).toBeLessThanOrEqual(5);
    expect(summary.iterations).toBeGreaterThanOrEqual(1);
    expect(summary.history.reduce((n, h) => n + h.unjudged, 0)).toBe(0);
  });

  it('order: budget before the gap threshold at the first plan; max iterations before budget at the second', async () => {
    const a = await run({ ...small, maxCalls: 1, gapThreshold: 1000 });
    expect(a.state.stopReason).toBe(STOP.budget);
    expect(a.p.calls).toEqual([]);
    // 3 calls size one iteration of 5 cells (a generate call, its repair headroom, a judge call); it
    // spends 2, so at the second plan both max iterations and the budget (1 left) hold.
    const b = await run({ ...small, maxIters: 1, maxCalls: 3, gapThreshold: 0, maxDropRate: 1 }, planCells(5));
    expect(b.state.callsUsed).toBe(2);
    expect(b.state.stopReason).toBe(STOP.maxIters);
    expect(b.summary.stopped_reason).toBe(STOP.maxIters);
  });

  it('DROP rate: an iteration that drops more than maxDropRate stops the next one', async () => {
    const { state, summary, record } = await run({ ...small, offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic'], maxDropRate: 0.05, maxIters: 5, maxCalls: 100 });
    expect(state.stopReason).toBe(STOP.dropRate(1, 0.05));
    expect(summary.iterations).toBe(1);
    expect(record(0).drop_rate).toBe(1);
    expect(summary.stopped_reason).toBe(state.stopReason);
  });

  it('converged: a dry run plans the same top cell three times and stops, spending nothing', async () => {
    const { p, state, summary, record } = await run({ dryRun: true, maxIters: 10 });
    expect(state.stopReason).toBe(STOP.converged);
    expect(state.callsUsed).toBe(0);
    expect(p.calls).toEqual([]);
    // Iterations 0 and 1 recorded; the plan of iteration 2 sees the same top cell.
    expect(summary.iterations).toBe(2);
    expect(record(0).generated).toBe(0);
    expect(p.records.judgeSummaries(RUN)).toEqual([]);
    expect(record(1).top_cell).toEqual(record(0).top_cell);
  });

  it('empty plan: nothing short in the vault ends the run before any call', async () => {
    const { p, state, summary } = await run({}, []);
    expect(state.stopReason).toBe(STOP.emptyPlan);
    expect(summary.stopped_reason).toBe(STOP.emptyPlan);
    expect(p.calls).toEqual([]);
  });

  it('user stop: a stop requested while generation is under way ends the run "stopped" at its checkpoint, its drafts judged', async () => {
    const cfg = runConfig({ ...small, maxIters: 10, maxCalls: 100, maxDropRate: 1 });
    const p = memoryPorts(RUN, cfg, planCells(10));
    fallingPlan(p);
    const state = await runInMemory(p, RUN, cfg, { afterGenerate: async () => void (await p.store.set(RUN, { stopRequested: '1' })) });
    expect(state).toMatchObject({ status: 'stopped', stopReason: STOP.user });
    expect(p.records.files.get(`${RUN}/loop_summary.json`)).toMatchObject({ status: 'stopped', stopped_reason: STOP.user, iterations: 1 });
    expect(p.flows.added.map((f) => f.kind)).toEqual(['generate', 'judge']);
  });
});

describe('convergence needs evidence: kept drafts of the top cell', () => {
  const allDropped = { ...small, offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic' as const], maxDropRate: 1, maxIters: 3, maxCalls: 100 };

  it('a run whose top-cell drafts are all DROPped plans the same top cell at the same priority every time, yet runs to max iterations', async () => {
    const { p, state, summary } = await run(allDropped);
    expect(state.stopReason).toBe(STOP.maxIters);
    expect(summary.iterations).toBe(3);
    expect(new Set(summary.history.map((h) => `${h.top_cell!.join('|')}@${h.top_priority}`)).size).toBe(1);
    for (const h of summary.history) expect(h.applied).toMatchObject({ dropped: 10, kept_pass: 0, kept_needs_fix: 0 });
    expect(p.files.files.size).toBe(0);
  });

  it('the same plans with their drafts kept converge at the third plan', async () => {
    const { state, summary } = await run({ ...allDropped, offlineDefectRate: 0 });
    expect(state.stopReason).toBe(STOP.converged);
    expect(summary.iterations).toBe(2);
  });
});

it('--visual-each-iter asks the analysis for visuals on iterations 0, 2, 4 … only, and records it', async () => {
  const cfg = runConfig({ ...small, maxIters: 3, maxCalls: 100, maxDropRate: 1, visualEachIter: true });
  const p = memoryPorts(RUN, cfg, []);
  const asked = fallingPlan(p);
  const { summary } = await outcome(p, RUN, cfg);
  expect(summary.iterations).toBe(3);
  expect(asked).toEqual([true, false, true]);
  expect(summary.history.map((h) => h.visual)).toEqual([true, false, true]);
});

describe('variantSalt', () => {
  /** The generate prompts' variants and the drafts' texts, less the run's own id. */
  async function drafts(runId: string, variantSalt?: string) {
    const { p } = await run({ ...small, maxIters: 1, maxCalls: 20, maxDropRate: 1, offlineDefectRate: 0.5, ...(variantSalt ? { variantSalt } : {}) }, planCells(10), runId);
    const own = (text: string) => text.replaceAll(runId, '<run>');
    const variants = p.calls.filter((c) => c.purpose === 'generate' && !isRepair(c)).flatMap((c) => cellsOf(c).map((x) => x.variant));
    return { variants: variants.map(own).sort(), texts: [...p.files.files.values()].map((b) => own(b.toString('utf8'))).sort() };
  }

  it('the same vault, seed and salt give the same prompts and drafts; without a salt each run differs', async () => {
    const a = await drafts('run-a', 'repro');
    expect(a.variants).toHaveLength(10);
    expect(a.variants.every((v) => v.startsWith('repro-0-'))).toBe(true);
    expect(a.texts.length).toBeGreaterThan(0);
    expect(await drafts('run-b', 'repro')).toEqual(a);
    const c = await drafts('run-c');
    expect(c.variants.every((v) => v.startsWith('<run>-0-'))).toBe(true);
    const d = await drafts('run-d');
    expect(c.variants).toEqual(d.variants);
    expect(d.texts).not.toEqual(c.texts);
  });
});

it('the pre-judge drops every draft with wrong arithmetic at dispatch: no judge call, the chunks saved recorded', async () => {
  const { p, summary, record } = await run({ ...small, offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic'], maxIters: 1, maxDropRate: 1, maxCalls: 50 });
  const verdicts = [...(await p.store.verdicts(RUN)).values()];
  expect(verdicts).toHaveLength(10);
  expect(verdicts.every((v) => v.verdict === 'DROP' && v.source === 'prejudge')).toBe(true);
  expect(p.calls.map((c) => c.purpose)).toEqual(['generate', 'generate']);
  expect(record(0).prejudge).toEqual({ dropped: 10, calls_saved: 2 });
  expect((p.records.judgeSummaries(RUN)[0] as JudgeSummary).model).toBe('prejudge');
  expect(summary.calls_saved_total).toBe(2);
});

it('a draft edited by hand after judging is never overwritten by a revision; the others are revised and judged again', async () => {
  const cfg = runConfig({ genBatchSize: 6, genCallsPerIter: 2, judgeChunkSize: 6, offlineDefectRate: 1, offlineDefectKinds: ['form', 'form', 'form', 'wrong-arithmetic'], maxIters: 1, maxDropRate: 1, maxCalls: 200, revise: true });
  const p = memoryPorts(RUN, cfg, planCells(12));
  const edited: { id: string; path: string }[] = [];
  let candidates = 0;
  // Revision is planned: edit every other NEEDS_FIX draft before the reviser runs.
  const state = await runInMemory(p, RUN, cfg, {
    beforeRevise: async (items) => {
      candidates += items.length;
      for (const [i, it] of items.entries()) {
        if (i % 2 !== 0) continue;
        await p.files.write(it.draft.path, `${(await p.files.read(it.draft.path))!.toString('utf8')}# fixed by hand\n`);
        edited.push({ id: it.draft.id, path: it.draft.path });
      }
    },
  });
  expect(state.status).toBe('completed');
  expect(edited.length).toBeGreaterThan(1);
  const verdicts = await p.store.verdicts(RUN);
  for (const e of edited) {
    expect((await p.files.read(e.path))!.toString('utf8')).toContain('# fixed by hand');
    expect(verdicts.get(e.id)!.round).toBe(0);
  }
  const rec = p.records.readIterRecord(RUN, 0)!;
  expect(rec.revisions.skipped.map((x) => x.id).sort()).toEqual(edited.map((e) => e.id).sort());
  for (const x of rec.revisions.skipped) expect(x.reason).toMatch(/changed since it was judged/);
  // The others were revised and judged again.
  const revised = [...verdicts.values()].filter((v) => v.round === 1);
  expect(revised.length).toBe(candidates - edited.length);
  expect(revised.length).toBeGreaterThan(0);
});

it('cost per accepted question: calls per PASS draft per iteration and per run, none for an iteration without a PASS; pre-judge savings 0 where a record has none', async () => {
  const cfg = runConfig({ ...small, maxIters: 3, maxCalls: 100, maxDropRate: 1, offlineDefectRate: 0.5 });
  const p = memoryPorts(RUN, cfg, []);
  fallingPlan(p);
  const { state, summary } = await outcome(p, RUN, cfg);
  const passes = [...(await p.store.verdicts(RUN)).values()].filter((v) => v.verdict === 'PASS').length;
  expect(passes).toBeGreaterThan(0);
  expect(summary).toMatchObject({ passes, calls_per_pass: Number((state.callsUsed / passes).toFixed(3)), cost_per_pass_usd: 0 });
  for (const h of summary.history) {
    if (h.applied.kept_pass === 0) expect(h).toMatchObject({ calls_per_pass: null, cost_per_pass_usd: null });
    else expect(h).toMatchObject({ calls_per_pass: Number((h.calls_used_iter / h.applied.kept_pass).toFixed(3)), cost_per_pass_usd: 0 });
  }
  expect(passCost(3, 10, 0.5)).toEqual({ calls_per_pass: 3.333, cost_per_pass_usd: 0.166667 });
  expect(passCost(0, 10, 0.5)).toEqual({ calls_per_pass: null, cost_per_pass_usd: null });
  expect(prejudgeCallsSaved({})).toBe(0);
  expect(prejudgeCallsSaved({ prejudge: { calls_saved: 3 } })).toBe(3);
});

it('a run with --revise ends with fewer NEEDS_FIX drafts than the same run without it; revisions are judged again, batched, and counted', async () => {
  // Half the drafts get a form defect (→ NEEDS_FIX), a few a wrong sum (→ DROP); the same salt and
  // seed make both runs generate the same drafts.
  const same: Partial<RunConfig> = { genBatchSize: 6, genCallsPerIter: 2, judgeChunkSize: 6, offlineDefectRate: 0.6, offlineDefectKinds: ['form', 'form', 'form', 'wrong-arithmetic'], maxIters: 1, maxDropRate: 1, maxCalls: 200, variantSalt: 'revise-vs-plain' };
  const plain = await run(same, planCells(12));
  const plainVerdicts = [...(await plain.p.store.verdicts(RUN)).values()];
  const plainNeedsFix = plainVerdicts.filter((v) => v.verdict === 'NEEDS_FIX').length;
  expect(plainNeedsFix).toBeGreaterThan(1);
  expect(plainVerdicts.every((v) => v.round === 0 && v.history.length === 0)).toBe(true);

  const revised = await run({ ...same, revise: true }, planCells(12));
  const verdicts = [...(await revised.p.store.verdicts(RUN)).values()];
  const round1 = verdicts.filter((v) => v.round === 1);
  expect(round1).toHaveLength(plainNeedsFix);
  for (const v of round1) {
    expect(v.history.map((h) => h.verdict)).toEqual(['NEEDS_FIX']);
    expect(v.history[0]!.fileHash).not.toBe(v.fileHash);
    if (v.verdict === 'DROP') expect(revised.p.files.files.has(v.path)).toBe(false);
    else expect(revised.p.files.files.get(v.path)!.toString('utf8')).toMatch(/revised-1/);
  }
  const rec = revised.record(0);
  expect(rec.revisions.verdicts_before.NEEDS_FIX).toBe(plainNeedsFix);
  expect(rec.applied.kept_needs_fix).toBeLessThan(plainNeedsFix);
  // Up to genBatchSize drafts a revision call, and every call is what the budget counted.
  const sizes = revised.p.calls.filter((c) => c.purpose === 'revise').map((c) => (readPromptBlock(c.prompt, 'revisions') as unknown[]).length);
  expect(sizes.reduce((n, k) => n + k, 0)).toBe(round1.length);
  expect(Math.max(...sizes)).toBeLessThanOrEqual(6);
  expect(sizes.length).toBeLessThan(round1.length);
  expect(revised.state.callsUsed).toBe(revised.p.calls.length);
  expect(revised.summary.calls_used_total).toBe(revised.p.calls.length);
});

describe('drafts an earlier run left unjudged', () => {
  /** Run A planned, generated and dispatched 6 drafts, then nothing judged them; run B's ports see them on the vault. */
  async function leftBehind(over: Partial<RunConfig>) {
    const cfgA = runConfig({ ...small, maxCalls: 100 });
    const a = memoryPorts('run-a', cfgA, planCells(6));
    await planStep('run-a', 0, cfgA, a.deps);
    const gen = a.flows.added[0]!;
    if (gen.kind !== 'generate') throw new Error(`first flow is ${gen.kind}`);
    const outcomes = await generateBatch(gen.cells, a.generateDeps.toPromptCells(gen.cells), a.generateDeps);
    await dispatchStep('run-a', 0, cfgA, { results: outcomes.flatMap((o) => (o.ok ? [o.result] : [])), failures: [] }, a.deps);
    const left = [...(await a.store.drafts('run-a')).values()];
    expect(left).toHaveLength(6);

    const cfg = runConfig({ ...small, maxCalls: 100, maxDropRate: 1, offlineDefectRate: 0.5, ...over });
    const b = memoryPorts(RUN, cfg, planCells(6));
    for (const [path, bytes] of a.files.files) b.files.files.set(path, bytes);
    b.deps.leftoverDrafts = async () => left.map((d) => ({ id: d.id, runId: 'run-a', path: d.path, fileHash: d.fileHash, track: d.track, visualFiles: d.visualFiles }));
    b.deps.readDraft = async (path) => parseQuestionText(b.files.files.get(path)!.toString('utf8'), path).doc ?? null;
    b.deps.scanMaxIds = async () => Object.fromEntries(TRACKS.map((t) => [t, Math.max(0, ...left.filter((d) => d.track === t).map((d) => Number(d.id.split('-')[1])))])) as Record<Track, number>;
    return { b, cfg, ids: left.map((d) => d.id).sort() };
  }

  it('the next run judges them first, in a catch-up iteration 0 that does not count against maxIters', async () => {
    const { b, cfg, ids } = await leftBehind({ maxIters: 1 });
    const { state, summary, record } = await outcome(b, RUN, cfg);
    expect(state.stopReason).toBe(STOP.maxIters);
    const verdicts = await b.store.verdicts(RUN);
    const drafts = await b.store.drafts(RUN);
    for (const id of ids) {
      expect(verdicts.get(id)?.iter, id).toBe(0);
      expect(drafts.get(id)?.adoptedFrom, id).toBe('run-a');
    }
    expect(record(0)).toMatchObject({ kind: 'catch-up', generated: 6, plan_size: 0 });
    expect((b.records.judgeSummaries(RUN)[0] as JudgeSummary).n_judged).toBe(6);
    // maxIters 1 still allowed one generating iteration after the catch-up, with new ids.
    expect(record(1)).toMatchObject({ kind: 'generate', plan_size: 6 });
    expect([...drafts.values()].filter((d) => d.iter === 1).every((d) => !ids.includes(d.id))).toBe(true);
    expect(summary.history.every((h) => h.unjudged === 0)).toBe(true);
    // DROPped leftovers were pruned like any draft.
    const pruned = [...verdicts.values()].filter((v) => v.applied === 'pruned');
    expect(pruned.length).toBeGreaterThan(0);
    for (const v of pruned) expect(b.files.files.has(v.path)).toBe(false);
  });

  it('a judge-only run judges them, generates nothing and ends; with nothing left it ends at once', async () => {
    const { b, cfg, ids } = await leftBehind({ judgeOnly: true, maxIters: 5 });
    const { state, summary } = await outcome(b, RUN, cfg);
    expect(state.stopReason).toBe(STOP.leftoversJudged);
    expect(summary.history).toEqual([expect.objectContaining({ kind: 'catch-up', generated: 6, plan_size: 0, unjudged: 0 })]);
    expect([...(await b.store.verdicts(RUN)).keys()].sort()).toEqual(ids);
    expect(b.calls.every((c) => c.purpose === 'judge')).toBe(true);

    // No drafts left behind (memoryPorts has no leftover port): nothing to judge.
    const none = await run({ judgeOnly: true, maxIters: 5 });
    expect(none.state.stopReason).toBe(STOP.noLeftovers);
    expect(none.p.calls).toEqual([]);
  });
});

describe('judge what you buy: over budgets of 2 to 10 calls, with and without a repair call per generate call', () => {
  /** Every generated item sends its scenario as a list of lines (the schema rejects it); the repair joins them. */
  const needsRepair = (inner: LlmProvider): LlmProvider => ({
    name: inner.name,
    model: inner.model,
    async complete(req) {
      if (isRepair(req)) {
        const block = readPromptBlock(req.prompt, 'repair') as { answer: { cell_index: number; item: Record<string, unknown> }[] };
        const text = JSON.stringify(block.answer.map((a) => ({ ...a.item, cell_index: a.cell_index, scenario: (a.item.scenario as string[]).join(' ') })));
        return { text, usage: { inputTokens: 1, outputTokens: 1 }, model: inner.model, latencyMs: 0, cached: false };
      }
      const res = await inner.complete(req);
      if (req.purpose !== 'generate') return res;
      return { ...res, text: JSON.stringify((JSON.parse(res.text) as Record<string, unknown>[]).map((it) => ({ ...it, scenario: [it.scenario] }))) };
    },
  });
  const cases = [2, 3, 4, 5, 6, 7, 8, 9, 10].flatMap((maxCalls) => [
    { maxCalls, repair: false },
    { maxCalls, repair: true },
  ]);
  it.each(cases)('maxCalls $maxCalls, repair calls needed: $repair — no unjudged draft, no call past the budget', async ({ maxCalls, repair }) => {
    const { p, state, summary } = await run({ genBatchSize: 3, genCallsPerIter: 2, judgeChunkSize: 2, maxCalls, maxIters: 10, maxDropRate: 1, gapThreshold: 0 }, planCells(6), RUN, repair ? needsRepair : undefined);
    expect(p.calls.length).toBeLessThanOrEqual(maxCalls);
    expect(state).toMatchObject({ status: 'completed', callsUsed: p.calls.length, callsReserved: 0, judgePool: 0 });
    const drafts = await p.store.drafts(RUN);
    const verdicts = await p.store.verdicts(RUN);
    expect((await p.store.unjudged(RUN)).size).toBe(0);
    expect([...drafts.keys()].filter((id) => !verdicts.has(id))).toEqual([]);
    expect(summary.history.reduce((n, h) => n + h.unjudged, 0)).toBe(0);
    // Some draft is generated and judged from 2 calls on with a clean model, from 3 with repairs.
    if (maxCalls >= (repair ? 3 : 2)) {
      expect(drafts.size).toBeGreaterThan(0);
      expect(p.calls.some((c) => c.purpose === 'judge')).toBe(true);
    }
    const repairs = p.calls.filter(isRepair).length;
    if (repair) expect(repairs > 0).toBe(drafts.size > 0);
    else expect(repairs).toBe(0);
  });
});
