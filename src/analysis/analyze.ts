/** The pure analyzer: coverage records in, report out. No I/O. */
import { Applicability } from '../corpus/taxonomy.js';
import { balancedAnalysis } from './balanced.js';
import { referencePlan, referenceTrackAreaGaps, referenceZoneLevelGaps, visualTopicCounts } from './reference.js';
import { tally, tallyGroups, type Tally } from './tally.js';
import type { AnalyzeOptions, CoverageRecord, CoverageReport } from './types.js';

export const DEFAULT_ANALYZE_OPTIONS: Readonly<Omit<AnalyzeOptions, 'applicability' | 'now'>> = Object.freeze({
  strategy: 'balanced',
  total: 60,
  visual: false,
  publishedOnly: false,
  includeAreas: [],
  offAffinity: 'skip',
});

/** `datetime.now(timezone.utc).isoformat()` as Python prints it (microseconds, +00:00). */
export function pythonIsoUtc(d: Date): string {
  return `${d.toISOString().slice(0, 19)}.${String(d.getUTCMilliseconds() * 1000).padStart(6, '0')}+00:00`;
}

export function resolveOptions(opts: Partial<AnalyzeOptions>): AnalyzeOptions {
  const o: AnalyzeOptions = { ...DEFAULT_ANALYZE_OPTIONS, ...opts, includeAreas: [...(opts.includeAreas ?? [])] };
  if (!Number.isInteger(o.total) || o.total < 0) throw new RangeError(`total must be a non-negative integer, got ${o.total}`);
  if (o.strategy !== 'reference' && o.strategy !== 'balanced') throw new RangeError(`unknown strategy ${String(o.strategy)}`);
  return o;
}

/**
 * Analyzes parsed records. `records` are every file that parsed to a non-empty mapping, whatever
 * its status; `publishedOnly` filters here, as the original did.
 */
export function analyzeRecords(records: readonly CoverageRecord[], options: Partial<AnalyzeOptions> = {}): CoverageReport {
  const opts = resolveOptions(options);
  const kept = opts.publishedOnly ? records.filter((r) => r.status === 'published') : records;
  return analyzeTally(tally(kept), opts);
}

/**
 * `analyzeRecords` over distinct records with their multiplicities (what the vault index keeps):
 * the same report, without re-counting every file.
 */
export function analyzeRecordGroups(groups: Iterable<readonly [CoverageRecord, number]>, options: Partial<AnalyzeOptions> = {}): CoverageReport {
  const opts = resolveOptions(options);
  const all = Array.isArray(groups) ? (groups as readonly (readonly [CoverageRecord, number])[]) : [...groups];
  const kept = opts.publishedOnly ? all.filter(([r]) => r.status === 'published') : all;
  return analyzeTally(tallyGroups(kept), opts);
}

/**
 * The report from counts already made. `t` must count exactly the records the options select
 * (the published ones when `publishedOnly`).
 */
export function analyzeTally(t: Tally, options: Partial<AnalyzeOptions>): CoverageReport {
  const opts = resolveOptions(options);
  const generatedAt = pythonIsoUtc((opts.now ?? (() => new Date()))());

  let trackArea;
  let zoneLevel;
  let plan;
  if (opts.strategy === 'reference') {
    trackArea = referenceTrackAreaGaps(t);
    zoneLevel = referenceZoneLevelGaps(t);
    plan = referencePlan(zoneLevel, trackArea, opts);
  } else {
    const r = balancedAnalysis(t, {
      total: opts.total,
      visual: opts.visual,
      includeAreas: opts.includeAreas,
      offAffinity: opts.offAffinity ?? 'skip',
      applicability: opts.applicability ?? Applicability.builtin(),
    });
    trackArea = r.trackAreaGaps;
    zoneLevel = r.zoneLevelGaps;
    plan = r.plan;
  }
  // Key order is the original report.json's, with `strategy` appended.
  return {
    generated_at: generatedAt,
    n_records: t.n,
    include_drafts: !opts.publishedOnly,
    track_area_gaps: trackArea,
    track_zone_level_gaps: zoneLevel,
    visual_topic_counts: visualTopicCounts(t),
    recommended_plan: plan,
    strategy: opts.strategy,
  };
}
