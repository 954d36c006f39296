import type { Applicability, Area, Level, Track, Zone } from '../corpus/taxonomy.js';

export type Strategy = 'reference' | 'balanced';

/** One cell of the recommended plan: what one generate job asks for. */
export interface PlanCell {
  track: Track;
  topic: string;
  zone: Zone;
  level: Level;
  with_visual: boolean;
  priority: number;
  current_count: number;
  /** Set by --include-areas (reference) for forced cells. */
  forced_area?: Area;
  /** Balanced strategy: the area the topic belongs to (the draft's competency_area). */
  competency_area?: Area;
  /** Balanced strategy: why the cell was chosen. */
  reason?: PlanReason;
}

/** Balanced strategy: the numbers behind a plan cell. */
export interface PlanReason {
  /** The cell's gap priority (rounded to 2 decimals) when it was picked. */
  priority: number;
  /** Questions already in the (track, zone, level) cell, plus cells planned before this one. */
  count: number;
  /** What the strategy expects per (track, zone, level) cell (1 decimal). */
  expected: number;
  /** Questions (and earlier plan cells) of this topic in this track. */
  topic_count?: number;
  /** Questions (and earlier plan cells) of this topic in this (track, zone, level) cell. */
  cell_topic_count?: number;
  /** Affinity down-weight applied, when the cell is outside ZONE_INFO's levels. */
  affinity_factor?: number;
  note?: string;
}

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
