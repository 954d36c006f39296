/**
 * The convergence rule: the top cell and its priority unchanged over the two previous iterations,
 * each of which kept at least one draft of that cell (an all-DROPped top cell is no evidence).
 */
import { describe, expect, it } from 'vitest';
import { CONVERGENCE_WINDOW, isConverged, isEvidence, type IterationEvidence, type TopCell } from '../../src/core/saturation.js';

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
