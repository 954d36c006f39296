/**
 * The `reference` strategy: the original analyze_coverage_gaps.py, number for number (SEED-SPEC §4).
 * Deliberate faithfulness, including its weaknesses (§11.6): global never reaches the plan, topics
 * rotate through a fixed pool, off-affinity cells are planned. The only intended difference: the
 * visual-archetype order is our fixed list where the original iterated a Python set.
 */
import {
  AREAS,
  FORCED_AREA_CELLS,
  LEVELS,
  REFERENCE_AREA_TO_TOPICS,
  REFERENCE_TOPIC_POOL,
  TRACK_TOPIC_BLOCKLIST,
  TRACKS,
  VISUAL_TOPICS,
  ZONES,
  type Area,
  type Track,
} from '../corpus/taxonomy.js';
import { pyRound } from './pyround.js';
import { areaWeight, cellWeight, gapRow, key2, key3, type Tally } from './tally.js';
import type { PlanCell, TrackAreaGap, TrackZoneLevelGap } from './types.js';

/** Stable sort by descending (already rounded) priority: ties keep generation order. */
export function sortByPriority<T extends { priority: number }>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => b.priority - a.priority);
}

export function referenceTrackAreaGaps(t: Tally): TrackAreaGap[] {
  const rows: TrackAreaGap[] = [];
  for (const track of TRACKS) {
    const expected = t.track.get(track) / AREAS.length;
    for (const area of AREAS) {
      const actual = t.trackArea.get(key2(track, area));
      const w = areaWeight(track, area);
      rows.push({ track, area, ...gapRow(actual, expected, w) });
    }
  }
  return sortByPriority(rows);
}

export function referenceZoneLevelGaps(t: Tally): TrackZoneLevelGap[] {
  const rows: TrackZoneLevelGap[] = [];
  const cellsPerTrack = ZONES.length * LEVELS.length;
  for (const track of TRACKS) {
    const expected = t.track.get(track) / cellsPerTrack;
    for (const zone of ZONES) {
      for (const level of LEVELS) {
        const actual = t.trackZoneLevel.get(key3(track, zone, level));
        const w = cellWeight(track, zone, level);
        rows.push({ track, zone, level, ...gapRow(actual, expected, w) });
      }
    }
  }
  return sortByPriority(rows);
}

/** Visual questions per archetype topic (the original's dict over its set; ours is ordered). */
export function visualTopicCounts(t: Tally): Record<string, number> {
  const out: Record<string, number> = {};
  for (const topic of VISUAL_TOPICS) out[topic] = t.visualTopic.get(topic);
  return out;
}

const blocked = (track: Track, topic: string): boolean => TRACK_TOPIC_BLOCKLIST[track].includes(topic);

export function referencePlan(
  zoneLevelRows: readonly TrackZoneLevelGap[],
  trackAreaRows: readonly TrackAreaGap[],
  opts: { total: number; visual: boolean; includeAreas: readonly Area[] },
): PlanCell[] {
  let cells: PlanCell[] = [];
  const seen = new Set<string>();
  for (const row of zoneLevelRows) {
    if (cells.length >= opts.total) break;
    const track = row.track as Track;
    if (track === 'global') continue;
    let pool: readonly string[] = opts.visual ? VISUAL_TOPICS.filter((t) => !blocked(track, t)) : [];
    if (pool.length === 0) pool = REFERENCE_TOPIC_POOL.filter((t) => !blocked(track, t));
    // The rotation index is the number of accepted cells, not the row index (as the original).
    const topic = pool[cells.length % pool.length]!;
    const k = `${track}|${topic}|${row.zone}|${row.level}`;
    if (seen.has(k)) continue; // cannot trigger (rows are unique per track/zone/level); kept for fidelity
    seen.add(k);
    cells.push({
      track,
      topic,
      zone: row.zone as PlanCell['zone'],
      level: row.level as PlanCell['level'],
      with_visual: opts.visual && VISUAL_TOPICS.includes(topic),
      priority: row.priority,
      current_count: row.actual,
    });
  }

  if (opts.includeAreas.length > 0) {
    for (const ta of sortByPriority(trackAreaRows)) {
      const area = ta.area as Area;
      const track = ta.track as Track;
      if (!opts.includeAreas.includes(area) || track === 'global') continue;
      for (const topic of REFERENCE_AREA_TO_TOPICS[area] ?? []) {
        if (blocked(track, topic)) continue;
        for (const { level, zone } of FORCED_AREA_CELLS) {
          cells.push({
            track,
            topic,
            zone,
            level,
            with_visual: false,
            priority: pyRound(ta.priority + 0.5, 2),
            current_count: 0,
            forced_area: area,
          });
        }
      }
    }
    const keys = new Set<string>();
    const deduped = cells.filter((c) => {
      const k = `${c.track}|${c.topic}|${c.zone}|${c.level}`;
      if (keys.has(k)) return false;
      keys.add(k);
      return true;
    });
    cells = sortByPriority(deduped).slice(0, opts.total);
  }
  return cells;
}
