/** report.md and report.json: the original's layout (SEED-SPEC §4), written without clobbering. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRACKS } from '../corpus/taxonomy.js';
import { pyFloatRepr } from '../util/pyfloat.js';
import type { CoverageRecord, CoverageReport } from './types.js';

const TOP = 20;

/**
 * The markdown report. `records` are the records the report was computed from (before the
 * published-only filter is fine: it is applied again here). Floats print as Python printed them
 * (`0.8`, `2.0`), so a reference report.md reads like the original's.
 */
export function renderReportMarkdown(report: CoverageReport, records: readonly CoverageRecord[]): string {
  const recs = report.include_drafts ? records : records.filter((r) => r.status === 'published');
  const f = pyFloatRepr;
  const when = report.generated_at.slice(0, 16).replace('T', ' ');
  // One pass over the records (10k in a large vault) for every count the header needs.
  let pub = 0;
  let drafts = 0;
  let visual = 0;
  let visualPub = 0;
  const trackCounts = new Map<string, number>();
  for (const r of recs) {
    const published = r.status === 'published';
    if (published) pub++;
    else if (r.status === 'draft') drafts++;
    if ('visual' in r) {
      visual++;
      if (published) visualPub++;
    }
    if (typeof r.track === 'string') trackCounts.set(r.track, (trackCounts.get(r.track) ?? 0) + 1);
  }

  const md: string[] = [];
  md.push(`# Coverage Gap Report\n\n*Generated: ${when} UTC*\n`);
  md.push(
    `**Corpus state**: ${recs.length} questions (${pub} published, ${drafts} draft). **Visual**: ${visual} total, ${visualPub} published.\n`,
  );
  md.push('\n---\n');
  md.push('\n## Track distribution\n\n| Track | Count |\n|---|---:|');
  for (const t of TRACKS) md.push(`| ${t} | ${trackCounts.get(t) ?? 0} |`);

  md.push('\n## Top 20 weakest (track × competency area) cells\n');
  md.push('| Track | Area | Actual | Expected | Weight | Priority |\n|---|---|---:|---:|---:|---:|');
  for (const r of report.track_area_gaps.slice(0, TOP)) {
    md.push(`| ${r.track} | ${r.area} | ${r.actual} | ${f(r.expected)} | ${f(r.weight)} | ${f(r.priority)} |`);
  }

  md.push('\n## Top 20 weakest (track × zone × level) cells\n');
  md.push('| Track | Zone | Level | Actual | Expected | Weight | Priority |\n|---|---|---|---:|---:|---:|---:|');
  for (const r of report.track_zone_level_gaps.slice(0, TOP)) {
    md.push(`| ${r.track} | ${r.zone} | ${r.level} | ${r.actual} | ${f(r.expected)} | ${f(r.weight)} | ${f(r.priority)} |`);
  }

  md.push('\n## Visual archetype coverage\n');
  md.push('| Topic | Count | Status |\n|---|---:|:---:|');
  for (const [t, c] of visualCoverageAscending(report)) md.push(`| ${t} | ${c} | ${c >= 1 ? '✓' : '—'} |`);

  md.push(`\n## Recommended generation plan (${report.recommended_plan.length} cells)\n`);
  md.push('| # | Track | Topic | Zone | Level | Visual? | Priority |\n|---:|---|---|---|---|:---:|---:|');
  report.recommended_plan.forEach((c, i) => {
    md.push(`| ${i + 1} | ${c.track} | ${c.topic} | ${c.zone} | ${c.level} | ${c.with_visual ? '✓' : '—'} | ${f(c.priority)} |`);
  });

  md.push(
    report.strategy === 'reference'
      ? '\n---\n*Run `gemini_cli_generate_questions.py --auto-balance --total N` to fill these cells with batched API calls.*'
      : '\n---\n*Strategy: balanced. Run `vault-loop run` to fill these cells.*',
  );
  return md.join('\n');
}

/** Visual topic counts sorted by count ascending (stable: ties keep the list order). */
export function visualCoverageAscending(report: CoverageReport): [string, number][] {
  return Object.entries(report.visual_topic_counts).sort((a, b) => a[1] - b[1]);
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, 'utf8');
  renameSync(tmp, file);
}

/** Writes `<dir>/report.json` (indent 2, the original's key order) and `<dir>/report.md`. */
export function writeReport(dir: string, report: CoverageReport, md: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const mdPath = join(dir, 'report.md');
  writeAtomic(json, `${JSON.stringify(report, null, 2)}\n`);
  writeAtomic(mdPath, md);
  return { json, md: mdPath };
}

/** `YYYYMMDD_HHMMSS` in UTC, as the original named its run folders. */
export function utcStamp(d: Date): string {
  const iso = d.toISOString(); // 2026-04-25T12:34:56.789Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}_${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/**
 * Claims `<vault>/_validation_results/coverage_gaps/<stamp>[_N]/`. mkdir without `recursive`
 * fails when the folder exists, so two runs in the same second get different folders (the
 * original shared one: SEED-SPEC §11.1).
 */
export function claimReportDir(vaultDir: string, now: Date = new Date()): string {
  const parent = join(vaultDir, '_validation_results', 'coverage_gaps');
  mkdirSync(parent, { recursive: true });
  const stamp = utcStamp(now);
  for (let n = 1; ; n++) {
    const dir = join(parent, n === 1 ? stamp : `${stamp}_${n}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}
