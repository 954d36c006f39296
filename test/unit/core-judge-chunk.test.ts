/**
 * One judge chunk (judgeChunk, src/core/judge-chunk.ts) with fake checks, prompt, parser and
 * provider: a hard check failure is DROPped with no call; the model judges the rest; an unknown id
 * is reported and ignored; a draft with no verdict stays unjudged; an unparsable answer is
 * forgotten from the cache before the error goes up (so a retry asks again).
 */
import { describe, expect, it } from 'vitest';
import { judgeChunk, type CheckOutcome, type JudgeDeps } from '../../src/core/judge-chunk.js';
import type { ModelVerdict } from '../../src/domain/verdict.js';
import type { JudgePayload } from '../../src/queues/judge.js';
import type { CompletionRequest, LlmProvider } from '../../src/llm/types.js';

const criteria = { math_correct: 'PASS', cell_fit: 'PASS', scenario_realism: 'PASS', uniqueness: 'PASS', visual_alignment: 'PASS' };
const draft = (id: string, title: string) => ({ id, doc: { id, track: 'edge', title }, path: `questions/edge/memory/${id}.yaml`, fileHash: 'b'.repeat(64), vaultNearest: null });
const payload: JudgePayload = { runId: 'r', iter: 0, chunk: 0, round: 0, drafts: [draft('edge-0001', 'broken'), draft('edge-0002', 'fine'), draft('edge-0003', 'fine too')] };

function fakeDeps(answer: Map<string, ModelVerdict> | 'unparsable', unknown: string[] = []) {
  const calls: CompletionRequest[] = [];
  const forgotten: CompletionRequest[] = [];
  const reported: string[] = [];
  const provider: LlmProvider & { forget(req: CompletionRequest): Promise<void> } = {
    name: 'fake',
    model: 'judge-1',
    async complete(req) {
      calls.push(req);
      return { text: 'answer', usage: { inputTokens: 7, outputTokens: 3 }, model: 'judge-1', latencyMs: 1, cached: false };
    },
    async forget(req) {
      forgotten.push(req);
    },
  };
  const check = (doc: Record<string, unknown>): CheckOutcome =>
    doc.title === 'broken'
      ? { hard: ['scenario: too short'], soft: [], arithmetic: { status: 'not-run' }, criteria: { ...criteria, scenario_realism: 'ERROR' }, verdict: 'DROP' }
      : { hard: [], soft: [], arithmetic: { status: 'passed' }, criteria, verdict: 'PASS' };
  const deps: JudgeDeps = {
    provider: async () => ({ provider, temperature: 0, timeoutMs: 1000 }),
    buildPrompt: (drafts) => ({ prompt: drafts.map((d) => d.id).join(',') }),
    parse: (_text, ids) => {
      if (answer === 'unparsable') throw new Error('no JSON in the answer');
      return { verdicts: answer, unknown, missing: ids.filter((id) => !answer.has(id)) };
    },
    check,
    onUnknownVerdict: (id) => reported.push(id),
  };
  return { deps, calls, forgotten, reported };
}

const verdict = (id: string, v: ModelVerdict['verdict']): ModelVerdict => ({ id, verdict: v, criteria, issues: v === 'PASS' ? [] : ['unclear'], fix_suggestion: v === 'NEEDS_FIX' ? 'say more' : '' });

describe('judge chunk', () => {
  it('drops a hard failure without a call and asks the model about the rest only', async () => {
    const f = fakeDeps(new Map([['edge-0002', verdict('edge-0002', 'PASS')], ['edge-0003', verdict('edge-0003', 'NEEDS_FIX')]]));
    const r = await judgeChunk(payload, new Map(), f.deps);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.prompt).toBe('edge-0002,edge-0003');
    expect(f.calls[0]!.purpose).toBe('judge');
    expect(r.verdicts.map((v) => [v.id, v.verdict, v.source])).toEqual([
      ['edge-0001', 'DROP', 'prejudge'],
      ['edge-0002', 'PASS', 'model'],
      ['edge-0003', 'NEEDS_FIX', 'model'],
    ]);
    expect(r.verdicts[2]!.fix_suggestion).toBe('say more');
    expect(r).toMatchObject({ model: 'judge-1', calls: 1, usage: { inputTokens: 7, outputTokens: 3 }, unjudged: [] });
  });

  it('makes no call when every draft fails a hard check', async () => {
    const f = fakeDeps(new Map());
    const r = await judgeChunk({ ...payload, drafts: [payload.drafts[0]!] }, new Map(), f.deps);
    expect(f.calls).toHaveLength(0);
    expect(r).toMatchObject({ model: 'prejudge', calls: 0 });
  });

  it('reports an unknown id and leaves a draft with no verdict unjudged', async () => {
    const f = fakeDeps(new Map([['edge-0002', verdict('edge-0002', 'PASS')]]), ['edge-9999']);
    const r = await judgeChunk(payload, new Map(), f.deps);
    expect(f.reported).toEqual(['edge-9999']);
    expect(r.unjudged).toEqual([{ id: 'edge-0003', reason: 'no verdict for this draft in the judge answer' }]);
    expect(r.verdicts.map((v) => v.id)).toEqual(['edge-0001', 'edge-0002']);
  });

  it('forgets an unparsable answer before failing, so a retry asks again', async () => {
    const f = fakeDeps('unparsable');
    await expect(judgeChunk(payload, new Map(), f.deps)).rejects.toThrow('no JSON in the answer');
    expect(f.forgotten).toHaveLength(1);
    expect(f.forgotten[0]).toBe(f.calls[0]);
  });

  it('passes a failed render to the checks and keeps rendered SVGs for apply', async () => {
    const f = fakeDeps(new Map([['edge-0002', verdict('edge-0002', 'PASS')], ['edge-0003', verdict('edge-0003', 'PASS')]]));
    const seen: (string | undefined)[] = [];
    const check = f.deps.check;
    f.deps.check = (doc, ctx) => (seen.push(ctx.renderError), check(doc, ctx));
    const renders = new Map([
      ['edge-0002', { draftId: 'edge-0002', ok: false, error: 'dot: syntax error', warnings: [] }],
      ['edge-0003', { draftId: 'edge-0003', ok: true, svg: '<svg/>', warnings: [] }],
    ]);
    const r = await judgeChunk(payload, renders, f.deps);
    expect(seen).toEqual([undefined, 'dot: syntax error', undefined]);
    expect(r.svgs).toEqual([{ draftId: 'edge-0003', svg: '<svg/>' }]);
  });
});
