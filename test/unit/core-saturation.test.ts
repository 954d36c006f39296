/**
 * Where saturation is decided (src/core/saturation.ts), with plain evidence and no Redis: each stop
 * condition on its own, which one names the stop when several hold, and the convergence rule (the
 * top cell and its priority unchanged over the two previous iterations, each of which kept at least
 * one draft of that cell; an all-DROPped top cell is no evidence).
 */
import { describe, expect, it } from 'vitest';
import { CONVERGENCE_WINDOW, decideStop, isConverged, isEvidence, STOP, type IterationEvidence, type PlanEvidence, type ScheduleEvidence, type Stop, type StopEvidence, type TopCell } from '../../src/core/saturation.js';

const cell: TopCell = ['cloud', 'design', 'L4'];
const other: TopCell = ['edge', 'recall', 'L2'];
const ev = (iter: number, over: Partial<IterationEvidence> = {}): IterationEvidence => ({ iter, topCell: cell, topPriority: 3.5, topCellDrafts: 2, topCellKept: 1, ...over });

describe('convergence (saturation) rule', () => {
  it('needs the two previous iterations: one repeat is not convergence', () => {
    expect(CONVERGENCE_WINDOW).toBe(2);
    expect(isConverged({ iter: 1, topCell: cell, topPriority: 3.5 }, [ev(0)])).toBe(false);
    expect(isConverged({ iter: 2, topCell: cell, topPriority: 3.5 }, [ev(1)])).toBe(false);
    expect(isConverged({ iter: 2, topCell: cell, topPriority: 3.5 }, [ev(0), ev(1)])).toBe(true);
  });

  it('a different cell or priority in either previous iteration is no convergence', () => {
    expect(isConverged({ iter: 3, topCell: cell, topPriority: 3.5 }, [ev(1, { topCell: other }), ev(2)])).toBe(false);
    expect(isConverged({ iter: 3, topCell: cell, topPriority: 3.5 }, [ev(1), ev(2, { topPriority: 3.25 })])).toBe(false);
    expect(isConverged({ iter: 3, topCell: cell, topPriority: 3.5 }, [ev(1), ev(2)])).toBe(true);
    // Only the two iterations right before count: an older repeat does not stand in for a missing one.
    expect(isConverged({ iter: 3, topCell: cell, topPriority: 3.5 }, [ev(0), ev(2)])).toBe(false);
  });

  it('an iteration whose top-cell drafts were all DROPped (or that produced none) is not evidence', () => {
    expect(isEvidence(ev(0, { topCellDrafts: 3, topCellKept: 0 }))).toBe(false);
    expect(isEvidence(ev(0, { topCellDrafts: 0, topCellKept: 0 }))).toBe(false);
    expect(isEvidence(ev(0, { topCellDrafts: 3, topCellKept: 1 }))).toBe(true);
    expect(isConverged({ iter: 2, topCell: cell, topPriority: 3.5 }, [ev(0), ev(1, { topCellKept: 0 })])).toBe(false);
    expect(isConverged({ iter: 2, topCell: cell, topPriority: 3.5 }, [ev(0, { topCellKept: 0 }), ev(1)])).toBe(false);
  });

  it('dry-run iterations write no drafts and are evidence by themselves', () => {
    const dry = (iter: number) => ev(iter, { topCellDrafts: 0, topCellKept: 0, dryRun: true });
    expect(isConverged({ iter: 2, topCell: cell, topPriority: 3.5 }, [dry(0), dry(1)])).toBe(true);
    expect(isConverged({ iter: 1, topCell: cell, topPriority: 3.5 }, [dry(0)])).toBe(false);
  });
});

/** Evidence on which no condition holds: iteration 3 of 5, budget left, a deep gap, kept drafts. */
const schedule: ScheduleEvidence = { iter: 3, afterCatchUp: false, judgeOnly: false, maxIters: 5, dryRun: false, freeCalls: 10 };
const plan: PlanEvidence = { top: { cell, priority: 3.5 }, gapThreshold: 0.5, previousDropRate: 0.2, maxDropRate: 0.5, earlier: [ev(1, { topCell: other }), ev(2)] };
const none: Required<StopEvidence> = { stopRequested: false, schedule, plan, sizedCells: 4 };

/** What makes each condition hold, as the fields it changes in `none`. */
interface Over {
  stopRequested?: boolean;
  schedule?: Partial<ScheduleEvidence>;
  plan?: Partial<PlanEvidence>;
  sizedCells?: number;
}
const holds = {
  user: { stopRequested: true },
  judgeOnly: { schedule: { judgeOnly: true } },
  maxIters: { schedule: { iter: 5 } },
  budget: { schedule: { freeCalls: 1 } },
  emptyPlan: { plan: { top: null } },
  gap: { plan: { top: { cell, priority: 0.25 } } },
  dropRate: { plan: { previousDropRate: 0.75 } },
  converged: { plan: { earlier: [ev(1), ev(2)] } },
  sizedToNothing: { sizedCells: 0 },
} satisfies Record<string, Over>;

/** `none` with the overrides applied in turn (schedule and plan fields merged, not replaced). */
function holding(...overs: Over[]): StopEvidence {
  const e: Required<StopEvidence> = { ...none, schedule: { ...schedule }, plan: { ...plan } };
  for (const o of overs) {
    if (o.stopRequested !== undefined) e.stopRequested = o.stopRequested;
    e.schedule = { ...e.schedule, ...o.schedule };
    e.plan = { ...e.plan, ...o.plan };
    if (o.sizedCells !== undefined) e.sizedCells = o.sizedCells;
  }
  return e;
}

describe('decideStop: each stop condition on its own', () => {
  it.each([
    ['a user stop', holds.user, { reason: STOP.user, status: 'stopped' }],
    ['a judge-only run with no earlier drafts', holds.judgeOnly, { reason: STOP.noLeftovers, status: 'completed' }],
    ['a judge-only run after its catch-up', { schedule: { judgeOnly: true, afterCatchUp: true } }, { reason: STOP.leftoversJudged, status: 'completed' }],
    ['maxIters iterations done', holds.maxIters, { reason: STOP.maxIters, status: 'completed' }],
    ['fewer than two free calls', holds.budget, { reason: STOP.budget, status: 'completed' }],
    ['an empty plan', holds.emptyPlan, { reason: STOP.emptyPlan, status: 'completed' }],
    ['a top priority below the gap threshold', holds.gap, { reason: STOP.gap(0.25, 0.5), status: 'completed' }],
    ["the previous iteration's DROP rate above maxDropRate", holds.dropRate, { reason: STOP.dropRate(0.75, 0.5), status: 'completed' }],
    ['the top cell unchanged over the two previous iterations', holds.converged, { reason: STOP.converged, status: 'completed' }],
    ['an iteration sized to no cell', holds.sizedToNothing, { reason: STOP.budget, status: 'completed' }],
  ] as [string, Over, unknown][])('%s stops the run', (_, over, stop) => {
    expect(decideStop(holding(over))).toEqual(stop);
  });

  it('none holding: the run goes on', () => {
    expect(decideStop(none)).toBeNull();
  });

  it('a dry run makes no calls: no free call does not stop it, max iterations does', () => {
    expect(decideStop(holding({ schedule: { dryRun: true, freeCalls: 0 } }))).toBeNull();
    expect(decideStop(holding({ schedule: { dryRun: true, freeCalls: 0, iter: 5 } }))).toEqual({ reason: STOP.maxIters, status: 'completed' });
  });

  it('a catch-up iteration 0 counts neither against maxIters nor as the previous iteration for the DROP rate', () => {
    // Iteration 1 of a run with maxIters 1: done, unless iteration 0 was a catch-up.
    expect(decideStop(holding({ schedule: { iter: 1, maxIters: 1 } }))).toEqual({ reason: STOP.maxIters, status: 'completed' });
    expect(decideStop(holding({ schedule: { iter: 1, maxIters: 1, afterCatchUp: true } }))).toBeNull();
    expect(decideStop(holding({ schedule: { iter: 2, maxIters: 1, afterCatchUp: true } }))).toEqual({ reason: STOP.maxIters, status: 'completed' });
    // The catch-up's DROP rate is other runs' drafts: the first plan after it does not read it.
    expect(decideStop(holding({ schedule: { iter: 1, afterCatchUp: true } }, holds.dropRate))).toBeNull();
    expect(decideStop(holding({ schedule: { iter: 2, afterCatchUp: true } }, holds.dropRate))).toEqual({ reason: STOP.dropRate(0.75, 0.5), status: 'completed' });
    expect(decideStop(holding({ schedule: { iter: 1 } }, holds.dropRate))).toEqual({ reason: STOP.dropRate(0.75, 0.5), status: 'completed' });
  });

  it('a DROP rate equal to maxDropRate, a priority equal to the threshold and two free calls do not stop', () => {
    expect(decideStop({ ...none, plan: { ...plan, previousDropRate: 0.5 } })).toBeNull();
    expect(decideStop({ ...none, plan: { ...plan, top: { cell, priority: 0.5 } } })).toBeNull();
    expect(decideStop({ ...none, schedule: { ...schedule, freeCalls: 2 } })).toBeNull();
  });

  it('evidence not yet known ends the checks: a later condition is not read before its stage', () => {
    expect(decideStop({ stopRequested: false, plan: { ...plan, top: null } })).toBeNull();
    expect(decideStop({ stopRequested: false, schedule, sizedCells: 0 })).toBeNull();
    expect(decideStop({ stopRequested: false, schedule, plan: { ...plan, top: null } })).toEqual({ reason: STOP.emptyPlan, status: 'completed' });
  });
});

describe('decideStop: when several conditions hold, the first in the design order names the stop', () => {
  const stop = (reason: string, status = 'completed') => ({ reason, status });
  /** Converged at a low priority that a gap threshold above it also stops. */
  const lowConverged = { plan: { top: { cell, priority: 0.25 }, gapThreshold: 0.1, earlier: [ev(1, { topPriority: 0.25 }), ev(2, { topPriority: 0.25 })] } };
  it.each([
    ['user stop', 'judge-only', holds.user, holds.judgeOnly, stop(STOP.user, 'stopped'), stop(STOP.noLeftovers)],
    ['judge-only', 'max iterations', holds.judgeOnly, holds.maxIters, stop(STOP.noLeftovers), stop(STOP.maxIters)],
    ['max iterations', 'budget', holds.maxIters, holds.budget, stop(STOP.maxIters), stop(STOP.budget)],
    ['budget', 'empty plan', holds.budget, holds.emptyPlan, stop(STOP.budget), stop(STOP.emptyPlan)],
    ['empty plan', 'DROP rate', holds.emptyPlan, holds.dropRate, stop(STOP.emptyPlan), stop(STOP.dropRate(0.75, 0.5))],
    ['gap threshold', 'DROP rate', holds.gap, holds.dropRate, stop(STOP.gap(0.25, 0.5)), stop(STOP.dropRate(0.75, 0.5))],
    ['gap threshold', 'convergence', { plan: { gapThreshold: 0.5 } }, lowConverged, stop(STOP.gap(0.25, 0.5)), stop(STOP.converged)],
    ['DROP rate', 'convergence', holds.dropRate, holds.converged, stop(STOP.dropRate(0.75, 0.5)), stop(STOP.converged)],
    ['convergence', 'budget after sizing', holds.converged, holds.sizedToNothing, stop(STOP.converged), stop(STOP.budget)],
  ] as [string, string, Over, Over, Stop, Stop][])('%s before %s', (_, __, first, second, winner, loser) => {
    // The later condition holds on its own; with the earlier one it is not what names the stop.
    expect(decideStop(holding(second))).toEqual(loser);
    expect(decideStop(holding(second, first))).toEqual(winner);
  });

  it('every condition at once: the user stop names it; without it, judge-only; and so on down the order', () => {
    const all: Over[] = [holds.user, holds.judgeOnly, holds.maxIters, holds.budget, { plan: { gapThreshold: 0.5 } }, holds.dropRate, holds.sizedToNothing];
    const reasons = all.map((_, k) => decideStop(holding(lowConverged, ...all.slice(k)))?.reason);
    expect(reasons).toEqual([STOP.user, STOP.noLeftovers, STOP.maxIters, STOP.budget, STOP.gap(0.25, 0.5), STOP.dropRate(0.75, 0.5), STOP.converged]);
  });
});
