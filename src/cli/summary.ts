/** The end-of-run table, also shown by `status RUN`. */
import { join } from 'node:path';
import { readJson, runDir, type LoopSummary } from '../scheduler/records.js';
import { table } from './output.js';

export function summaryTable(summary: LoopSummary): string {
  const rows = summary.history.map((h) => [
    h.iter,
    h.top_cell ? h.top_cell.join('/') : '-',
    h.top_priority ?? '-',
    h.plan_size,
    h.generated,
    h.applied.kept_pass,
    h.applied.kept_needs_fix,
    h.applied.dropped,
    h.unjudged,
    h.cells_failed.length,
    h.calls_used_iter,
    // Older records (before the pre-judge ran at dispatch) have no prejudge field.
    h.prejudge?.calls_saved ?? 0,
    h.wall_ms === null ? '-' : `${(h.wall_ms / 1000).toFixed(1)}s`,
  ]);
  return table(['iter', 'top cell', 'priority', 'planned', 'drafts', 'PASS', 'NEEDS_FIX', 'pruned', 'unjudged', 'failed', 'calls', 'saved', 'wall'], rows);
}

export function summaryText(vault: string, runId: string): string {
  const s = readJson<LoopSummary>(join(runDir(vault, runId), 'loop_summary.json'));
  if (!s) return `run ${runId}: no loop_summary.json yet`;
  return [
    summaryTable(s),
    '',
    `run ${runId}: ${s.status}, stopped: ${s.stopped_reason ?? '-'}`,
    `calls ${s.calls_used_total}/${s.max_calls}${s.calls_reserved ? ` (${s.calls_reserved} reserved, never settled)` : ''}, ${s.calls_saved_total ?? 0} saved by the pre-judge, tokens in ${s.tokens.input} out ${s.tokens.output}, cost $${s.cost_usd.toFixed(4)}, wall ${s.wall_ms === null ? '-' : `${(s.wall_ms / 1000).toFixed(1)}s`}`,
    `records: ${runDir(vault, runId)}`,
  ].join('\n');
}
