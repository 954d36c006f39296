import type { Area, Level, Track, Zone } from '../corpus/taxonomy.js';

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
  reason?: { priority: number; count: number; expected: number; topic_count?: number; note?: string };
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
}
