/** The end-of-run table, also shown by `status RUN`. */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { iterDir, prejudgeCallsSaved, readJson, runDir, type IterRecord, type LoopSummary } from '../scheduler/records.js';
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
  if (!s) {
    // A run still going: its closed iterations are on disk already.
    const history = closedIterations(vault, runId);
    return history.length ? `${summaryTable({ history } as LoopSummary)}\n\nrun ${runId}: running (no loop_summary.json until it ends)` : `run ${runId}: no iteration closed yet`;
  }
  return [
    summaryTable(s),
    '',
    `run ${runId}: ${s.status}, stopped: ${s.stopped_reason ?? '-'}`,
    passCostLine(s),
    `calls ${s.calls_used_total}/${s.max_calls}${s.calls_reserved ? ` (${s.calls_reserved} reserved, never settled)` : ''}, ${s.calls_saved_total ?? 0} saved by the pre-judge, tokens in ${s.tokens.input}${s.tokens.cached ? ` (${s.tokens.cached} cached)` : ''} out ${s.tokens.output}, cost $${s.cost_usd.toFixed(4)}, wall ${s.wall_ms === null ? '-' : `${(s.wall_ms / 1000).toFixed(1)}s`}`,
    `records: ${runDir(vault, runId)}`,
    ...failedChunkLines(s),
  ].join('\n');
}

/** The judge chunks still failed, and the one command that continues the run. */
export function failedChunkLines(s: Pick<LoopSummary, 'failed_judge_chunks' | 'continue_with'>): string[] {
  const failed = s.failed_judge_chunks ?? [];
  const lines = failed.length
    ? [`failed judge chunks (${failed.length}):`, ...failed.map((c) => `  iter ${c.iter} chunk ${c.chunk}: ${c.drafts.length} draft(s) unjudged — ${c.reason}`)]
    : [];
  if (s.continue_with) lines.push(`continue with: ${s.continue_with}`);
  return lines;
}

/** The iter_record.json of every closed iteration, in order. */
export function closedIterations(vault: string, runId: string): IterRecord[] {
  const out: IterRecord[] = [];
  for (let i = 0; existsSync(iterDir(vault, runId, i)); i++) {
    const rec = readJson<IterRecord>(join(iterDir(vault, runId, i), 'iter_record.json'));
    if (rec) out.push(rec);
  }
  return out;
}
