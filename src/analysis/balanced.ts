/**
 * The `balanced` strategy (the default): the reference scoring with the weaknesses of §11.6 fixed.
 * - Every track, global included, aims at an equal share of the vault, so a thin track (or an
 *   empty one) scores high instead of 0.
 * - Zone × level pairs outside ZONE_INFO's affinity are skipped, or down-weighted by a factor.
 * - The plan is greedy: each pick adds one to its cell and rescores it, so a big gap can take
 *   several cells and the plan stops when nothing is short (an empty plan means saturated).
 * - Each cell's topic is applicable to its track (taxonomy_data + blocklist), the least covered
 *   in that cell, then in that track, then the first in taxonomy order; its area follows the topic.
 * Everything is deterministic: no sets are iterated, and ties keep track → zone → level order.
 */
import {
  Applicability,
  AREAS,
  FORCED_AREA_CELLS,
  inLevelAffinity,
  LEVELS,
  TOPIC_AREA,
  TOPICS_BY_AREA,
  TRACKS,
  VISUAL_TOPICS,
  ZONES,
  type Area,
  type Level,
  type Track,
  type Zone,
} from '../corpus/taxonomy.js';
import { pyRound } from './pyround.js';
import { sortByPriority } from './reference.js';
import { areaWeight, cellWeight, gapRow, gapScore, key2, key3, key4, type Tally } from './tally.js';
import type { PlanCell, TrackAreaGap, TrackZoneLevelGap } from './types.js';

export interface BalancedOptions {
  total: number;
  visual: boolean;
  includeAreas: readonly Area[];
  offAffinity: 'skip' | number;
  applicability: Applicability;
}

export interface BalancedResult {
  trackAreaGaps: TrackAreaGap[];
  zoneLevelGaps: TrackZoneLevelGap[];
  plan: PlanCell[];
}

interface Slot {
  track: Track;
  zone: Zone;
  level: Level;
  weight: number;
  factor: number;
  actual: number;
  planned: number;
  priority: number;
}

/** Per-cell expectation: an equal share per track spread over its cells, at least 1 (empty vaults still plan). */
function expectedPerCell(n: number, cellsPerTrack: number): number {
  return Math.max(1, n / TRACKS.length / cellsPerTrack);
}

export function checkOffAffinity(v: 'skip' | number): 'skip' | number {
  if (v === 'skip') return v;
  if (!(typeof v === 'number' && v > 0 && v <= 1)) {
    throw new RangeError(`offAffinity must be 'skip' or a factor in (0, 1], got ${String(v)}`);
  }
  return v;
}

export function balancedAnalysis(t: Tally, opts: BalancedOptions): BalancedResult {
  const offAffinity = checkOffAffinity(opts.offAffinity);

  // Track × area: same table as the reference, with the balanced expectation.
  const areaExpected = expectedPerCell(t.n, AREAS.length);
  const trackAreaGaps = sortByPriority(
    TRACKS.flatMap((track) =>
      AREAS.map((area): TrackAreaGap => {
        const actual = t.trackArea.get(key2(track, area));
        const w = areaWeight(track, area);
        return { track, area, ...gapRow(actual, areaExpected, w) };
      }),
    ),
  );

  // Track × zone × level slots in scope.
  const slots: Slot[] = [];
  for (const track of TRACKS) {
    for (const zone of ZONES) {
      for (const level of LEVELS) {
        const inAffinity = inLevelAffinity(zone, level);
        if (!inAffinity && offAffinity === 'skip') continue;
        const factor = inAffinity ? 1 : (offAffinity as number);
        slots.push({
          track,
          zone,
          level,
          weight: cellWeight(track, zone, level) * factor,
          factor,
          actual: t.trackZoneLevel.get(key3(track, zone, level)),
          planned: 0,
          priority: 0,
        });
      }
    }
  }
  const cellExpected = expectedPerCell(t.n, slots.length / TRACKS.length);
  const rescore = (s: Slot): void => {
    s.priority = pyRound(gapScore(s.actual + s.planned, cellExpected, s.weight), 2);
  };
  slots.forEach(rescore);
  const zoneLevelGaps = sortByPriority(
    slots.map(
      (s): TrackZoneLevelGap => ({
        track: s.track,
        zone: s.zone,
        level: s.level,
        actual: s.actual,
        expected: pyRound(cellExpected, 1),
        weight: pyRound(s.weight, 2),
        priority: s.priority,
      }),
    ),
  );

  const picker = new TopicPicker(t, opts.applicability, opts.visual);
  const slotByKey = new Map(slots.map((s) => [key3(s.track, s.zone, s.level), s]));
  const makeCell = (s: Slot, topic: string, priority: number, note?: string, forcedArea?: Area): PlanCell => {
    const cell: PlanCell = {
      track: s.track,
      topic,
      zone: s.zone,
      level: s.level,
      with_visual: opts.visual && VISUAL_TOPICS.includes(topic),
      priority,
      current_count: s.actual,
    };
    if (forcedArea) cell.forced_area = forcedArea;
    cell.competency_area = TOPIC_AREA.get(topic)!;
    cell.reason = {
      priority,
      count: s.actual + s.planned,
      expected: pyRound(cellExpected, 1),
      topic_count: picker.trackCount(s.track, topic),
      cell_topic_count: picker.cellCount(s, topic),
    };
    if (s.factor !== 1) cell.reason.affinity_factor = s.factor;
    if (note) cell.reason.note = note;
    return cell;
  };

  // Greedy fill: always the highest rounded priority; ties → earliest in track/zone/level order.
  let plan: PlanCell[] = [];
  while (plan.length < opts.total) {
    let best: Slot | undefined;
    for (const s of slots) if (!best || s.priority > best.priority) best = s;
    if (!best || best.priority <= 0) break;
    const topic = picker.pick(best, picker.candidates(best.track));
    if (topic === undefined) {
      best.priority = 0; // no applicable topic for this track: nothing to plan here
      continue;
    }
    plan.push(makeCell(best, topic, best.priority));
    picker.record(best, topic);
    best.planned++;
    rescore(best);
  }

  if (opts.includeAreas.length > 0) {
    for (const ta of trackAreaGaps) {
      const area = ta.area as Area;
      if (!opts.includeAreas.includes(area)) continue;
      const track = ta.track as Track;
      const topics = picker.candidates(track, area);
      if (topics.length === 0) continue;
      for (const { zone, level } of FORCED_AREA_CELLS) {
        const s = slotByKey.get(key3(track, zone, level));
        if (!s) continue; // outside the cells in scope
        const topic = picker.pick(s, topics)!;
        plan.push(makeCell(s, topic, pyRound(ta.priority + 0.5, 2), `forced area ${area}`, area));
        picker.record(s, topic);
        s.planned++;
      }
    }
    const keys = new Set<string>();
    plan = sortByPriority(
      plan.filter((c) => {
        const k = key4(c.track, c.topic, c.zone, c.level);
        if (keys.has(k)) return false;
        keys.add(k);
        return true;
      }),
    ).slice(0, opts.total);
  }
  return { trackAreaGaps, zoneLevelGaps, plan };
}

/**
 * Chooses topics: applicable to the track, least covered (vault + earlier picks), deterministic.
 * Counts are looked up once per (track, topic), (track, area) and (cell, topic), then kept, with
 * earlier picks added, in small per-track and per-cell maps: the greedy loop asks for the same
 * counts over and over, and building a joined key for each question cost more than the plan.
 */
class TopicPicker {
  readonly #t: Tally;
  readonly #app: Applicability;
  readonly #visual: boolean;
  /** Vault count + earlier picks, per track (or cell) then per topic (or area). */
  readonly #track = new Map<string, Map<string, number>>();
  readonly #area = new Map<string, Map<string, number>>();
  readonly #cell = new Map<string, Map<string, number>>();
  readonly #cache = new Map<string, string[]>();

  constructor(t: Tally, app: Applicability, visual: boolean) {
    this.#t = t;
    this.#app = app;
    this.#visual = visual;
  }

  /** Applicable topics of a track (optionally of one area), visual archetypes first-only when --visual. */
  candidates(track: Track, area?: Area): string[] {
    const k = `${track}|${area ?? ''}`;
    let out = this.#cache.get(k);
    if (!out) {
      const base = area ? TOPICS_BY_AREA[area].filter((topic) => this.#app.applies(topic, track)) : this.#app.topicsFor(track);
      const visual = this.#visual ? base.filter((topic) => VISUAL_TOPICS.includes(topic)) : [];
      out = visual.length > 0 ? visual : base;
      this.#cache.set(k, out);
    }
    return out;
  }

  trackCount(track: Track, topic: string): number {
    return this.#trackIn(inner(this.#track, track), track, topic);
  }

  cellCount(s: { track: Track; zone: Zone; level: Level }, topic: string): number {
    return this.#cellIn(inner(this.#cell, key3(s.track, s.zone, s.level)), s, topic);
  }

  /** Questions (and earlier picks) of the topic's area in this track. */
  areaCount(track: Track, topic: string): number {
    return this.#areaIn(inner(this.#area, track), track, topic);
  }

  // Each takes the track's (or cell's) map and fills it from the vault's counts on first use.
  #trackIn(m: Map<string, number>, track: Track, topic: string): number {
    let n = m.get(topic);
    if (n === undefined) m.set(topic, (n = this.#t.trackTopic.get(key2(track, topic))));
    return n;
  }

  #cellIn(m: Map<string, number>, s: { track: Track; zone: Zone; level: Level }, topic: string): number {
    let n = m.get(topic);
    if (n === undefined) m.set(topic, (n = this.#t.cellTopic.get(key4(s.track, s.zone, s.level, topic))));
    return n;
  }

  #areaIn(m: Map<string, number>, track: Track, topic: string): number {
    const area = TOPIC_AREA.get(topic)!;
    let n = m.get(area);
    if (n === undefined) m.set(area, (n = this.#t.trackArea.get(key2(track, area))));
    return n;
  }

  /**
   * Least covered in the cell, then in the track, then (our addition, so that an empty vault is
   * not filled area by area in taxonomy order) the least covered area of the track, then
   * taxonomy order.
   */
  pick(s: { track: Track; zone: Zone; level: Level }, topics: readonly string[]): string | undefined {
    let best: string | undefined;
    let b0 = Infinity;
    let b1 = Infinity;
    let b2 = Infinity;
    const { cell, track, area } = this.#mapsOf(s);
    // Strictly smaller (cell, track, area) wins, so equal counts keep the earlier (taxonomy-order)
    // topic. Each later count is looked up only when the earlier ones do not already decide.
    for (const topic of topics) {
      const c = this.#cellIn(cell, s, topic);
      if (c > b0) continue;
      const tr = this.#trackIn(track, s.track, topic);
      if (c === b0 && tr > b1) continue;
      const ar = this.#areaIn(area, s.track, topic);
      if (c === b0 && tr === b1 && ar >= b2) continue;
      best = topic;
      b0 = c;
      b1 = tr;
      b2 = ar;
    }
    return best;
  }

  record(s: { track: Track; zone: Zone; level: Level }, topic: string): void {
    const { cell, track, area } = this.#mapsOf(s);
    cell.set(topic, this.#cellIn(cell, s, topic) + 1);
    track.set(topic, this.#trackIn(track, s.track, topic) + 1);
    area.set(TOPIC_AREA.get(topic)!, this.#areaIn(area, s.track, topic) + 1);
  }

  /** The slot's cell map and its track's topic and area maps. */
  #mapsOf(s: { track: Track; zone: Zone; level: Level }): { cell: Map<string, number>; track: Map<string, number>; area: Map<string, number> } {
    return { cell: inner(this.#cell, key3(s.track, s.zone, s.level)), track: inner(this.#track, s.track), area: inner(this.#area, s.track) };
  }
}

/** The map under `key`, made empty on first use. */
function inner(maps: Map<string, Map<string, number>>, key: string): Map<string, number> {
  let m = maps.get(key);
  if (!m) maps.set(key, (m = new Map()));
  return m;
}
