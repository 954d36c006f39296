/**
 * The convergence stop, as the original loop meant it: the run has saturated when the plan's top
 * cell and its priority are unchanged over the two previous iterations, and both of those
 * iterations are evidence, i.e. each kept at least one draft of that top cell. An iteration whose
 * top-cell drafts were all DROPped (or that produced none) changed nothing in the cell: seeing the
 * same gap again says the generator failed, not that the vault is balanced.
 *
 * The one place the stop conditions are decided: `stopDecision` (the order of the design) and the
 * convergence rule. Pure; `iterationEvidence` reads what they need through the run-store port.
 */
import type { PlanCell } from '../domain/plan-cell.js';
import type { RunStorePort } from './ports.js';

/** The reasons a run stops, in the order the plan step checks them (src/core/plan.ts). */
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
