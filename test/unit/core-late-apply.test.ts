/**
 * The late-apply decision (src/core/late-apply.ts): a judge result whose parent apply already ran
 * (or is gone) goes to a standalone apply; otherwise the parent applies it. Two standalone applies
 * of a run at once leave records that include both.
 */
import { describe, expect, it } from 'vitest';
import { applyLate, judgeOutcome } from '../../src/core/late-apply.js';
import { MemoryRecords, MemoryRunStore, MemoryVaultFiles } from '../../src/core/memory.js';
import { applyChunk } from '../../src/core/prune.js';
import type { ApplyPayload } from '../../src/queues/apply.js';
import type { JudgePayload, JudgeResult } from '../../src/queues/judge.js';

const hash = 'a'.repeat(64);
const payload: JudgePayload = {
  runId: 'r1',
  iter: 2,
  chunk: 1,
  round: 0,
  drafts: [{ id: 'edge-0001', doc: { id: 'edge-0001', track: 'edge' }, path: 'questions/edge/memory/edge-0001.yaml', fileHash: hash, vaultNearest: null }],
};
const criteria = { math_correct: 'PASS', cell_fit: 'PASS', scenario_realism: 'PASS', uniqueness: 'PASS', visual_alignment: 'PASS' };
const result: JudgeResult = {
  chunk: 1,
  verdicts: [{ id: 'edge-0001', verdict: 'PASS', criteria, issues: [], fix_suggestion: '', model: 'm', source: 'model', checks: { arithmetic: 'passed', findings: [] } }],
  unjudged: [],
  model: 'm',
  usage: { inputTokens: 1, outputTokens: 1 },
  calls: 1,
  cached: false,
  svgs: [{ draftId: 'edge-0001', svg: '<svg/>' }],
};

describe('late apply', () => {
  it.each(['waiting-children', 'active', 'waiting'])('leaves the result to a parent that is still %s', (state) => {
    expect(judgeOutcome(payload, result, state, { id: 'j1', attemptsStarted: 1 })).toEqual({ kind: 'result', result });
  });

  it('leaves the result alone when the job has no parent', () => {
    expect(judgeOutcome(payload, result, null, { id: 'j1', attemptsStarted: 1 }).kind).toBe('result');
  });

  it.each(['completed', 'failed', 'unknown'])('hands the verdicts to a standalone apply when the parent is %s', (state) => {
    const o = judgeOutcome(payload, result, state, { id: 'j7', attemptsStarted: 3 });
    expect(o.kind).toBe('late-apply');
    if (o.kind !== 'late-apply') return;
    expect(o.result.late).toBe(true);
    expect(o.attempt).toBe(3);
    expect(o.apply).toEqual({
      runId: 'r1',
      iter: 2,
      chunk: 1,
      round: 0,
      drafts: [{ id: 'edge-0001', path: 'questions/edge/memory/edge-0001.yaml', fileHash: hash, track: 'edge' }],
      late: { judgeJobId: 'j7', verdicts: result.verdicts, model: 'm', svgs: result.svgs },
    });
  });
});

describe('two late applies of a run at once', () => {
  it('the records written last include the verdicts of both chunks', async () => {
    const store = new MemoryRunStore();
    store.open('r1', { maxCalls: 10, startedAt: '2026-01-01T00:00:00.000Z' });
    const files = new MemoryVaultFiles();
    const chunk = (n: number): ApplyPayload => {
      const id = `edge-000${n + 1}`;
      const verdicts = [{ ...result.verdicts[0]!, id }];
      return { runId: 'r1', iter: 0, chunk: n, round: 0, drafts: [{ id, path: `questions/edge/memory/${id}.yaml`, fileHash: hash, track: 'edge' }], late: { judgeJobId: `j${n}`, verdicts, model: 'm', svgs: [] } };
    };
    const [a, b] = [chunk(0), chunk(1)];
    // The iteration closed with both chunks' judges failed: two drafts unjudged.
    for (const p of [a, b]) {
      const d = p.drafts[0]!;
      await store.putDraft('r1', d.id, { id: d.id, iter: 0, cellIndex: 0, chunk: p.chunk, path: d.path, fileHash: hash, track: 'edge', visualFiles: [] });
      await store.putUnjudged('r1', d.id, { id: d.id, iter: 0, chunk: p.chunk, path: d.path, reason: 'judge failed: 503' });
    }
    await store.iterSet('r1', 0, { closed: '1' });
    await store.setStatus('r1', 'failed');

    // The order that loses a chunk: a's rebuild reads the state before b's verdict is recorded,
    // b's apply runs meanwhile, and a's read answers (with what it read) only after b went on.
    let bMayApply!: () => void;
    const aHasRead = new Promise<void>((r) => (bMayApply = r));
    let bApplied!: () => void;
    const bHasApplied = new Promise<void>((r) => (bApplied = r));
    let aReading = true;
    const verdicts = async (runId: string) => {
      const now = await store.verdicts(runId);
      if (aReading) {
        aReading = false;
        bMayApply();
        await bHasApplied;
        // Every in-memory step b can take now is taken before this answer arrives.
        await new Promise((r) => setImmediate(r));
      }
      return now;
    };
    const reads = new Proxy(store, { get: (t, k) => (k === 'verdicts' ? verdicts : (Reflect.get(t, k) as (...a: unknown[]) => unknown).bind?.(t) ?? Reflect.get(t, k)) });
    const records = new MemoryRecords(reads, '/vault');
    const deps = (before: Promise<void> | null, after: (() => void) | null) => ({
      apply: async (q: ApplyPayload) => {
        if (before) await before;
        const r = await applyChunk(q, q.late!.verdicts, null, { store, files, now: () => new Date('2026-01-01T01:00:00.000Z') });
        after?.();
        return r;
      },
      records,
      settle: async () => {},
      ended: async () => true,
    });
    await Promise.all([applyLate(a, deps(null, null)), applyLate(b, deps(aHasRead, bApplied))]);

    expect((await store.unjudged('r1')).size).toBe(0);
    const record = records.readIterRecord('r1', 0)!;
    expect(record.unjudged).toBe(0);
    expect(record.late_applied).toBe(2);
    expect(records.judgeSummaries('r1')[0]!.details.map((d) => d.id)).toEqual(['edge-0001', 'edge-0002']);
  });
});
