/**
 * The late-apply decision (src/core/late-apply.ts): a judge result whose parent apply already ran
 * (or is gone) goes to a standalone apply; otherwise the parent applies it.
 */
import { describe, expect, it } from 'vitest';
import { judgeOutcome } from '../../src/core/late-apply.js';
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
