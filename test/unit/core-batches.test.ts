/**
 * The generate batch and the revise batch (src/core/generate-batch.ts, revise-batch.ts) with the
 * offline provider behind an in-memory budget and the real prompts and parsers: one call per batch,
 * ids from the plan never from the model, usage reported once, a revision keeps the draft's identity.
 */
import { expect, it } from 'vitest';
import { generateBatch } from '../../src/core/generate-batch.js';
import { reviseBatch } from '../../src/core/revise-batch.js';
import type { GenerateCell } from '../../src/domain/plan-cell.js';
import { memoryPorts, NOW, planCells, runConfig } from '../helpers/core-ports.js';

const cellsFor = (n: number): GenerateCell[] => planCells(n).map((cell, i) => ({ runId: 'r', iter: 0, cellIndex: i, cell, variant: `r-0-${i}-s7`, draftId: `${cell.track}-${String(100 + i).padStart(4, '0')}` }));

it('generates one valid draft per cell with one counted call, ids and cells from the plan', async () => {
  const p = memoryPorts('r', runConfig(), []);
  const cells = cellsFor(3);
  const out = await generateBatch(cells, p.generateDeps.toPromptCells(cells), p.generateDeps);
  expect(p.calls.map((c) => c.purpose)).toEqual(['generate']);
  expect(out.map((o) => o.ok)).toEqual([true, true, true]);
  const results = out.map((o) => (o.ok ? o.result : null))!;
  expect(results.map((r) => [r!.cellIndex, r!.draft.id, r!.draft.doc.track, r!.draft.doc.zone, r!.draft.doc.level])).toEqual(cells.map((c) => [c.cellIndex, c.draftId, c.cell.track, c.cell.zone, c.cell.level]));
  for (const r of results) expect(p.generateDeps.validate(r!.draft.doc)).toEqual([]);
  // Usage once per batch, on the first cell, so totals add up.
  expect(results[0]!.usage.inputTokens).toBeGreaterThan(0);
  expect(results.slice(1).map((r) => r!.usage)).toEqual([{ inputTokens: 0, outputTokens: 0 }, { inputTokens: 0, outputTokens: 0 }]);
  expect(await p.store.get('r')).toMatchObject({ callsUsed: 1, callsReserved: 0 });
});

it('fails every cell of a batch the budget refuses, without a call', async () => {
  const p = memoryPorts('r', runConfig({ maxCalls: 0 }), []);
  const cells = cellsFor(2);
  await expect(generateBatch(cells, p.generateDeps.toPromptCells(cells), p.generateDeps)).rejects.toThrow(/budget/i);
  expect(p.calls).toEqual([]);
});

it('revises a batch of drafts with one call: identity kept, the text marked revised', async () => {
  const p = memoryPorts('r', runConfig(), []);
  const cells = cellsFor(2);
  const drafts = (await generateBatch(cells, p.generateDeps.toPromptCells(cells), p.generateDeps)).map((o) => (o.ok ? o.result.draft : null)!);
  const out = await reviseBatch(
    drafts.map((d) => ({ runId: 'r', iter: 0, round: 1, draft: { ...d, path: `questions/${String(d.doc.track)}/${String(d.doc.competency_area)}/${d.id}.yaml`, fileHash: 'a'.repeat(64) }, issues: ['napkin math is off'], fix_suggestion: 'redo the arithmetic' })),
    p.reviseDeps,
  );
  expect(p.calls.map((c) => c.purpose)).toEqual(['generate', 'revise']);
  expect(out.map((o) => o.ok)).toEqual([true, true]);
  for (const [i, o] of out.entries()) {
    if (!o.ok) continue;
    const before = drafts[i]!.doc;
    const after = o.result.draft.doc;
    for (const k of ['id', 'track', 'topic', 'zone', 'level', 'competency_area', 'status']) expect(after[k]).toEqual(before[k]);
    expect(after.tags).toContain('revised-1');
    expect(after.updated_at).toBe(NOW.toISOString().slice(0, 10));
    expect(p.reviseDeps.validate(after)).toEqual([]);
  }
});
