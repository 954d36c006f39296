import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { analyzeVault, claimReportDir, renderReportMarkdown, writeReport } from '../../analysis/index.js';
import type { Strategy } from '../../analysis/index.js';
import { vaultFoldersProblem } from '../../corpus/vault-folders.js';
import { AREAS, isArea, type Area } from '../../corpus/taxonomy.js';
import { table, UserError } from '../output.js';

export interface AnalyzeFlags {
  vault: string;
  strategy: Strategy;
  total: string;
  visual?: boolean;
  publishedOnly?: boolean;
  includeAreas?: string;
  out?: string;
  offAffinity: string;
  index: boolean;
}

export function parseIncludeAreas(raw: string | undefined): Area[] {
  if (raw === undefined) return [];
  const areas = raw
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const bad = areas.filter((a) => !isArea(a));
  if (bad.length > 0) {
    throw new UserError(`--include-areas: unknown area ${bad.map((b) => `"${b}"`).join(', ')}; expected a comma-separated list of: ${AREAS.join(', ')}`);
  }
  return areas as Area[];
}

function parseTotal(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new UserError(`--total: expected a non-negative whole number of plan cells, got "${raw}"`);
  return Number(raw);
}

function parseOffAffinity(raw: string): 'skip' | number {
  if (raw === 'skip') return 'skip';
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new UserError(`--off-affinity: expected "skip" or a factor in (0, 1], got "${raw}"`);
  return n;
}

export async function analyze(flags: AnalyzeFlags): Promise<void> {
  const vault = resolve(flags.vault);
  if (!existsSync(vault) || !statSync(vault).isDirectory()) throw new UserError(`--vault: ${flags.vault} is not a folder`);
  if (!existsSync(resolve(vault, 'questions'))) throw new UserError(`--vault: ${flags.vault} has no questions/ folder`);
  const outside = vaultFoldersProblem(vault);
  if (outside) throw new UserError(outside);
  const total = parseTotal(flags.total);
  const includeAreas = parseIncludeAreas(flags.includeAreas);
  const offAffinity = parseOffAffinity(flags.offAffinity);

  const { report, stats, records } = await analyzeVault(vault, {
    strategy: flags.strategy,
    total,
    visual: Boolean(flags.visual),
    publishedOnly: Boolean(flags.publishedOnly),
    includeAreas,
    offAffinity,
    useIndex: flags.index,
    // One analysis per process: nothing to keep in memory, no folder watchers to arm.
    memoryCache: false,
  });
  const md = renderReportMarkdown(report, records);
  const outDir = flags.out ? resolve(flags.out) : claimReportDir(vault);
  const written = writeReport(outDir, report, md);

  const out = process.stdout;
  out.write(
    `Loaded ${report.n_records} records (drafts=${report.include_drafts ? 'yes' : 'no'}; strategy ${report.strategy}; ` +
      `${stats.files} files, ${stats.skipped.length} skipped, ${stats.read} read, ${stats.fromIndex} from index, ${Math.round(stats.ms)} ms)\n`,
  );
  for (const s of stats.skipped) out.write(`  skipped ${s.path}: ${s.message}\n`);
  // Symlinks out of the vault are never read; say so rather than leave them out silently.
  for (const p of stats.links) out.write(`  skipped ${p.path}: ${p.message}\n`);
  out.write(`\nReport written to ${written.md}\nJSON written to   ${written.json}\n`);
  out.write('\nTop 5 (track × area) gaps:\n');
  out.write(`${table(['track', 'area', 'actual', 'expected', 'priority'], report.track_area_gaps.slice(0, 5).map((r) => [r.track, r.area, r.actual, r.expected, r.priority]))}\n`);
  out.write('\nTop 5 (track × zone × level) gaps:\n');
  out.write(
    `${table(
      ['track', 'zone', 'level', 'actual', 'expected', 'priority'],
      report.track_zone_level_gaps.slice(0, 5).map((r) => [r.track, r.zone, r.level, r.actual, r.expected, r.priority]),
    )}\n`,
  );
  out.write('\nVisual archetype coverage (top 5, fewest first):\n');
  const vis = Object.entries(report.visual_topic_counts).sort((a, b) => a[1] - b[1]);
  out.write(`${table(['topic', 'count'], vis.slice(0, 5))}\n`);
  out.write(`\nRecommended cells to fill: ${report.recommended_plan.length} (top 5)\n`);
  out.write(
    `${table(
      ['track', 'topic', 'zone', 'level', 'visual', 'priority'],
      report.recommended_plan.slice(0, 5).map((c) => [c.track, c.topic, c.zone, c.level, c.with_visual ? 'yes' : 'no', c.priority]),
    )}\n`,
  );
}
