/** The end-of-run table, also shown by `status RUN`. */
import { join, relative } from 'node:path';
import { existsSync } from 'node:fs';
import { iterDir, prejudgeCallsSaved, readJson, runDir, type IterRecord, type LoopSummary } from '../scheduler/records.js';
import { fitTable, labelledCommand, terminalWidth, wrapWords, type FitColumn } from './output.js';

/**
 * The iterations, one row each, laid out for `width` columns (the terminal's): full headers when
 * they fit, short ones with a legend, or the columns stacked in tables led by `iter`.
 */
export function summaryTable(summary: Pick<LoopSummary, 'history'>, width = terminalWidth()): string {
  const h = summary.history;
  const col = (header: string, cell: (r: IterRecord) => string | number, short?: string, meaning?: string): FitColumn => ({
    header,
    ...(short ? { short } : {}),
    ...(meaning ? { meaning } : {}),
    cells: h.map((r) => String(cell(r))),
  });
  return fitTable(
    [
      col('iter', (r) => r.iter),
      col('top cell', (r) => (r.top_cell ? r.top_cell.join('/') : '-')),
      col('priority', (r) => r.top_priority ?? '-', 'prio', 'top cell priority'),
      col('planned', (r) => r.plan_size, 'plan', 'cells planned'),
      col('drafts', (r) => r.generated, 'gen', 'drafts generated'),
      col('PASS', (r) => r.applied.kept_pass),
      col('NEEDS_FIX', (r) => r.applied.kept_needs_fix, 'NF', 'NEEDS_FIX'),
      col('pruned', (r) => r.applied.dropped, 'drop', 'pruned (DROP)'),
      col('unjudged', (r) => r.unjudged, 'unj', 'unjudged'),
      col('failed', (r) => r.cells_failed.length, 'fail', 'cells failed'),
      col('calls', (r) => r.calls_used_iter),
      col('calls/PASS', (r) => r.calls_per_pass ?? '-', 'c/P', 'calls per PASS'),
      col('$/PASS', (r) => (r.cost_per_pass_usd === null || r.cost_per_pass_usd === undefined ? '-' : `$${r.cost_per_pass_usd.toFixed(4)}`)),
      col('pre-judge saved', (r) => prejudgeCallsSaved(r), 'saved', 'calls saved by the pre-judge'),
      col('wall', (r) => (r.wall_ms === null ? '-' : `${(r.wall_ms / 1000).toFixed(1)}s`)),
    ],
    width,
  );
}

/** "cost per accepted question: …" — the run's calls and cost per PASS draft, and the pre-judge's savings. */
export function passCostLine(s: LoopSummary): string {
  const saved = s.calls_saved_total ?? s.history.reduce((n, h) => n + prejudgeCallsSaved(h), 0);
  const per = s.cost_per_pass_usd === null || s.cost_per_pass_usd === undefined ? 'no PASS draft yet' : `$${s.cost_per_pass_usd.toFixed(4)} and ${s.calls_per_pass} calls per PASS draft (${s.passes} PASS)`;
  return `cost per accepted question: ${per}; calls saved by the pre-judge: ${saved}`;
}

/** The summary of a run (`run` at its end, `status RUN`), every line at most `width` columns. */
export function summaryText(vault: string, runId: string, width = terminalWidth()): string {
  const s = readJson<LoopSummary>(join(runDir(vault, runId), 'loop_summary.json'));
  if (!s) {
    // A run still going: its closed iterations are on disk already.
    const history = closedIterations(vault, runId);
    const line = wrapWords(history.length ? `run ${runId}: running (no loop_summary.json until it ends)` : `run ${runId}: no iteration closed yet`, width);
    return history.length ? `${summaryTable({ history }, width)}\n\n${line}` : line;
  }
  const lines = [
    `run ${runId}: ${s.status}, stopped: ${s.stopped_reason ?? '-'}`,
    passCostLine(s),
    `calls ${s.calls_used_total}/${s.max_calls}${s.calls_reserved ? ` (${s.calls_reserved} reserved, never settled)` : ''}, ${s.calls_saved_total ?? 0} saved by the pre-judge, tokens in ${s.tokens.input}${s.tokens.cached ? ` (${s.tokens.cached} cached)` : ''} out ${s.tokens.output}, cost $${s.cost_usd.toFixed(4)}, wall ${s.wall_ms === null ? '-' : `${(s.wall_ms / 1000).toFixed(1)}s`}`,
  ];
  return [summaryTable(s, width), '', ...lines.map((l) => wrapWords(l, width)), recordsLine(vault, runId, width), ...failedChunkLines(s, width)].join('\n');
}

/** Where the records are: the full path if it fits, else its place in the vault. */
function recordsLine(vault: string, runId: string, width: number): string {
  const full = runDir(vault, runId);
  if (`records: ${full}`.length <= width) return `records: ${full}`;
  if (full.length + 2 <= width) return `records:\n  ${full}`;
  const inVault = relative(vault, full);
  return `records: ${inVault} (in the vault)`.length <= width ? `records: ${inVault} (in the vault)` : `records, in the vault:\n  ${inVault}`;
}

/** The judge chunks still failed, and the one command that continues the run. */
export function failedChunkLines(s: Pick<LoopSummary, 'failed_judge_chunks' | 'continue_with'>, width = terminalWidth()): string[] {
  const failed = s.failed_judge_chunks ?? [];
  const lines = failed.length
    ? [`failed judge chunks (${failed.length}):`, ...failed.map((c) => wrapWords(`  iter ${c.iter} chunk ${c.chunk}: ${c.drafts.length} draft(s) unjudged — ${c.reason}`, width))]
    : [];
  if (s.continue_with) lines.push(labelledCommand('continue with', s.continue_with, width));
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
