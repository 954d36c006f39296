import type { Applicability, Area } from '../corpus/taxonomy.js';

export type Strategy = 'reference' | 'balanced';

export type { PlanCell, PlanReason } from '../domain/plan-cell.js';
import type { PlanCell } from '../domain/plan-cell.js';

export interface TrackAreaGap {
  track: string;
  area: string;
  actual: number;
  expected: number;
  weight: number;
  priority: number;
}

export interface TrackZoneLevelGap {
  track: string;
  zone: string;
  level: string;
  actual: number;
  expected: number;
  weight: number;
  priority: number;
}

/** report.json: the original's fields in the original's order, plus `strategy`. */
export interface CoverageReport {
  generated_at: string;
  n_records: number;
  include_drafts: boolean;
  track_area_gaps: TrackAreaGap[];
  track_zone_level_gaps: TrackZoneLevelGap[];
  visual_topic_counts: Record<string, number>;
  recommended_plan: PlanCell[];
  strategy: Strategy;
}

export interface AnalyzeOptions {
  strategy: Strategy;
  /** Number of plan cells (default 60). */
  total: number;
  visual: boolean;
  publishedOnly: boolean;
  includeAreas: Area[];
  /**
   * Balanced strategy: zone × level pairs outside ZONE_INFO's affinity are skipped ('skip', the
   * default) or kept with their weight multiplied by this factor (0 < factor ≤ 1).
   */
  offAffinity?: 'skip' | number;
  /** Balanced strategy: topic × track applicability (default: blocklist only). */
  applicability?: Applicability;
  /** Clock for generated_at (tests). */
  now?: () => Date;
}

/**
 * What the analyzer reads of one question file: the raw values of a few top-level keys (a full
 * parsed question document satisfies it). Values are compared as the original compared them:
 * raw, so off-enum strings simply count toward no canonical cell.
 */
export interface CoverageRecord {
  track?: unknown;
  zone?: unknown;
  level?: unknown;
  topic?: unknown;
  competency_area?: unknown;
  status?: unknown;
  /** Present (any value) when the file has a `visual` key; a mapping when it has a visual block. */
  visual?: unknown;
}
