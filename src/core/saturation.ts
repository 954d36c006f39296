/**
 * Where saturation is decided: every stop condition of a run, in the order of the design
 * (`decideStop`), and the convergence rule it ends with. Pure: the plan step gathers the evidence
 * through its ports (`iterationEvidence` reads what convergence needs from the run store), asks
 * `decideStop`, and records the outcome.
 *
 * Convergence, as the original loop meant it: the run has saturated when the plan's top cell and
 * its priority are unchanged over the two previous iterations, and both of those iterations are
 * evidence, i.e. each kept at least one draft of that top cell. An iteration whose top-cell drafts
 * were all DROPped (or that produced none) changed nothing in the cell: seeing the same gap again
 * says the generator failed, not that the vault is balanced.
 */
import type { PlanCell } from '../domain/plan-cell.js';
import type { RunStorePort } from './ports.js';

/** The reasons a run stops, in the order `decideStop` checks them. */
export const STOP = {
  user: 'stopped by user',
  maxIters: 'max iterations reached',
  budget: 'budget exhausted',
  emptyPlan: 'empty plan',
  gap: (top: number, t: number) => `top priority gap ${top} below threshold ${t}`,
  dropRate: (r: number, m: number) => `DROP rate ${r} exceeds ${m} — likely hallucination`,
  converged: 'same top-priority cell and priority over the two previous iterations — converged',
  leftoversJudged: 'unjudged drafts of earlier runs judged',
  noLeftovers: 'no unjudged drafts to judge',
} as const;


/** How many earlier iterations must repeat the top cell before the run counts as converged. */
export const CONVERGENCE_WINDOW = 2;

export type TopCell = readonly [string, string, string];

export interface IterationEvidence {
  iter: number;
  topCell: TopCell | null;
  topPriority: number | null;
  /** Drafts written for plan cells equal to the top cell. */
  topCellDrafts: number;
  /** Of those, the ones still in the vault after judging (not DROPped). */
  topCellKept: number;
  /** A dry run writes no drafts: its iterations are evidence by themselves. */
  dryRun?: boolean;
}

const sameCell = (a: TopCell | null, b: TopCell | null): boolean => a !== null && b !== null && a.join('|') === b.join('|');

/** An iteration counts as evidence of saturation only when it kept a draft of its top cell. */
export function isEvidence(e: IterationEvidence): boolean {
  return Boolean(e.dryRun) || e.topCellKept > 0;
}

/**
 * Whether the current plan's top cell means the run has converged, given the earlier iterations
 * (any order; only the CONVERGENCE_WINDOW immediately before `current.iter` are read).
 */
export function isConverged(current: { iter: number; topCell: TopCell; topPriority: number }, earlier: readonly IterationEvidence[]): boolean {
  for (let k = 1; k <= CONVERGENCE_WINDOW; k++) {
    const e = earlier.find((x) => x.iter === current.iter - k);
    if (!e || !sameCell(e.topCell, current.topCell) || e.topPriority !== current.topPriority || !isEvidence(e)) return false;
  }
  return true;
}

/** The evidence of one earlier iteration, from its stored plan, drafts and verdicts. */
export async function iterationEvidence(store: Pick<RunStorePort, 'drafts' | 'verdicts' | 'iterGet'>, runId: string, iters: readonly number[], dryRun: boolean): Promise<IterationEvidence[]> {
  const wanted = iters.filter((i) => i >= 0);
  if (wanted.length === 0) return [];
  const [drafts, verdicts] = await Promise.all([store.drafts(runId), store.verdicts(runId)]);
  const out: IterationEvidence[] = [];
  for (const iter of wanted) {
    const ih = await store.iterGet(runId, iter);
    const topCell = ih.topCell ? (JSON.parse(ih.topCell) as [string, string, string]) : null;
    const plan = ih.plan ? (JSON.parse(ih.plan) as PlanCell[]) : [];
    let topCellDrafts = 0;
    let topCellKept = 0;
    for (const d of drafts.values()) {
      if (d.iter !== iter) continue;
      const cell = plan[d.cellIndex];
      if (!cell || !sameCell([cell.track, cell.zone, cell.level], topCell)) continue;
      topCellDrafts++;
      const v = verdicts.get(d.id);
      const dropped = v?.verdict === 'DROP' && v.applied !== 'skipped-changed';
      if (!dropped) topCellKept++;
    }
    out.push({ iter, topCell, topPriority: ih.topPriority !== undefined ? Number(ih.topPriority) : null, topCellDrafts, topCellKept, dryRun });
  }
  return out;
}

/** A decided stop: the reason the run records, and the status it ends with. */
export interface Stop {
  reason: string;
  status: 'completed' | 'stopped';
}

/** Known once the drafts earlier runs left are judged (or there were none to judge). */
export interface ScheduleEvidence {
  iter: number;
  /** Iteration 0 of this run was a catch-up and this is a later one: it does not count against maxIters. */
  afterCatchUp: boolean;
  /** The run only judges the drafts earlier runs left. */
  judgeOnly: boolean;
  maxIters: number;
  /** A dry run makes no calls: the budget does not stop it. */
  dryRun: boolean;
  /** Calls neither used, reserved nor set aside for judging. */
  freeCalls: number;
}

/** Known once the analysis planned the iteration. */
export interface PlanEvidence {
  /** The plan's first cell and its priority; null for an empty plan. */
  top: { cell: TopCell; priority: number } | null;
  gapThreshold: number;
  /** The DROP rate of the iteration before this one; null when there is none. */
  previousDropRate: number | null;
  maxDropRate: number;
  /** The earlier iterations convergence reads (`iterationEvidence`). */
  earlier: readonly IterationEvidence[];
}

/**
 * What the plan step knows when it asks. Each later field needs the ones before it: a field not
 * yet known (undefined) ends the checks there, so the step asks again as it learns more.
 */
export interface StopEvidence {
  /** Known at the start of the step. */
  stopRequested: boolean;
  schedule?: ScheduleEvidence;
  plan?: PlanEvidence;
  /** Known once the iteration is sized to the budget: how many plan cells fit. */
  sizedCells?: number;
}

const ended = (reason: string): Stop => ({ reason, status: 'completed' });

/**
 * Whether the run stops, and why: the first of user stop · judge-only · max iterations · budget ·
 * empty plan · gap threshold · DROP rate · converged · budget after sizing that holds; null when
 * none holds on what is known so far.
 */
export function decideStop(e: StopEvidence): Stop | null {
  if (e.stopRequested) return { reason: STOP.user, status: 'stopped' };
  const s = e.schedule;
  if (!s) return null;
  if (s.judgeOnly) return ended(s.afterCatchUp ? STOP.leftoversJudged : STOP.noLeftovers);
  // A catch-up iteration judged other runs' drafts: it counts neither against maxIters nor as the
  // previous iteration of the first plan after it.
  const counted = s.iter - (s.afterCatchUp ? 1 : 0);
  if (counted >= s.maxIters) return ended(STOP.maxIters);
  if (!s.dryRun && s.freeCalls < 2) return ended(STOP.budget);
  const p = e.plan;
  if (!p) return null;
  if (!p.top) return ended(STOP.emptyPlan);
  if (p.top.priority < p.gapThreshold) return ended(STOP.gap(p.top.priority, p.gapThreshold));
  if (counted > 0 && p.previousDropRate !== null && p.previousDropRate > p.maxDropRate) return ended(STOP.dropRate(p.previousDropRate, p.maxDropRate));
  if (isConverged({ iter: s.iter, topCell: p.top.cell, topPriority: p.top.priority }, p.earlier)) return ended(STOP.converged);
  if (e.sizedCells === 0) return ended(STOP.budget);
  return null;
}
