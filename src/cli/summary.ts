/** The end-of-run table, also shown by `status RUN`. */
import { join } from 'node:path';
import { prejudgeCallsSaved, readJson, runDir, type LoopSummary } from '../scheduler/records.js';
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
    h.calls_per_pass ?? '-',
    h.cost_per_pass_usd === null || h.cost_per_pass_usd === undefined ? '-' : `$${h.cost_per_pass_usd.toFixed(4)}`,
    prejudgeCallsSaved(h),
    h.wall_ms === null ? '-' : `${(h.wall_ms / 1000).toFixed(1)}s`,
  ]);
  return table(['iter', 'top cell', 'priority', 'planned', 'drafts', 'PASS', 'NEEDS_FIX', 'pruned', 'unjudged', 'failed', 'calls', 'calls/PASS', '$/PASS', 'pre-judge saved', 'wall'], rows);
}

/** "cost per accepted question: …" — the run's calls and cost per PASS draft, and the pre-judge's savings. */
export function passCostLine(s: LoopSummary): string {
  const saved = s.calls_saved_total ?? s.history.reduce((n, h) => n + prejudgeCallsSaved(h), 0);
  const per = s.cost_per_pass_usd === null || s.cost_per_pass_usd === undefined ? 'no PASS draft yet' : `$${s.cost_per_pass_usd.toFixed(4)} and ${s.calls_per_pass} calls per PASS draft (${s.passes} PASS)`;
  return `cost per accepted question: ${per}; calls saved by the pre-judge: ${saved}`;
}

export function summaryText(vault: string, runId: string): string {
  const s = readJson<LoopSummary>(join(runDir(vault, runId), 'loop_summary.json'));
  if (!s) return `run ${runId}: no loop_summary.json yet`;
  return [
    summaryTable(s),
    '',
    `run ${runId}: ${s.status}, stopped: ${s.stopped_reason ?? '-'}`,
    passCostLine(s),
    `calls ${s.calls_used_total}/${s.max_calls}${s.calls_reserved ? ` (${s.calls_reserved} reserved, never settled)` : ''}, ${s.calls_saved_total ?? 0} saved by the pre-judge, tokens in ${s.tokens.input} out ${s.tokens.output}, cost $${s.cost_usd.toFixed(4)}, wall ${s.wall_ms === null ? '-' : `${(s.wall_ms / 1000).toFixed(1)}s`}`,
    `records: ${runDir(vault, runId)}`,
  ].join('\n');
}
