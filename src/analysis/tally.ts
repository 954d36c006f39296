/**
 * Counts over coverage records, keyed on the raw values the way the original's Counters were:
 * a record whose track, zone or level is off-enum counts toward no canonical cell, but still
 * counts toward n_records (and its track total when only the track is canonical).
 */
import { AREA_WEIGHTS, LEVEL_WEIGHTS, TRACK_WEIGHTS, ZONE_WEIGHTS, type Area, type Level, type Track, type Zone } from '../corpus/taxonomy.js';
import { pyRound } from './pyround.js';
import type { CoverageRecord } from './types.js';

/** Joins the parts of a counter's key (NUL: a value holds one only through a YAML escape). */
const KEY_SEP = '\u0000';

export const key2 = (a: string, b: string): string => `${a}${KEY_SEP}${b}`;
export const key3 = (a: string, b: string, c: string): string => `${a}${KEY_SEP}${b}${KEY_SEP}${c}`;
export const key4 = (a: string, b: string, c: string, d: string): string => `${a}${KEY_SEP}${b}${KEY_SEP}${c}${KEY_SEP}${d}`;

/** A YAML mapping as parsed (plain object or Map), as Python's `isinstance(x, dict)` sees it. */
export function isMapping(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (v instanceof Map) return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

export class Counter {
  readonly #m: Map<string, number>;
  constructor(entries?: Iterable<readonly [string, number]>) {
    this.#m = new Map(entries);
  }
  add(k: string, n = 1): void {
    this.#m.set(k, (this.#m.get(k) ?? 0) + n);
  }
  get(k: string): number {
    return this.#m.get(k) ?? 0;
  }
  /** Non-zero counts (a count taken back to 0 is the same as none). */
  *entries(): IterableIterator<[string, number]> {
    for (const e of this.#m) if (e[1] !== 0) yield e;
  }
}

/** The counters of a Tally (the vault index stores them in this order). */
export const COUNTERS = ['track', 'trackArea', 'trackZoneLevel', 'trackTopic', 'cellTopic', 'visualTopic'] as const;

export interface Tally {
  n: number;
  /** track → records */
  track: Counter;
  /** (track, competency_area) */
  trackArea: Counter;
  /** (track, zone, level) */
  trackZoneLevel: Counter;
  /** (track, topic) */
  trackTopic: Counter;
  /** (track, zone, level, topic) */
  cellTopic: Counter;
  /** topic → records whose `visual` is a mapping */
  visualTopic: Counter;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function tally(records: readonly CoverageRecord[]): Tally {
  return tallyGroups(records.map((r) => [r, 1] as const));
}

/**
 * The same counts over distinct records with their multiplicities. A 10k-file vault holds only a
 * few thousand distinct (track, zone, level, topic, area, status, visual) tuples, so counting
 * groups does a fraction of the key building and map updates that counting files one by one did.
 */
export function tallyGroups(groups: Iterable<readonly [CoverageRecord, number]>): Tally {
  const t = emptyTally();
  for (const [r, n] of groups) if (n > 0) addToTally(t, r, n);
  return t;
}

export function emptyTally(): Tally {
  return {
    n: 0,
    track: new Counter(),
    trackArea: new Counter(),
    trackZoneLevel: new Counter(),
    trackTopic: new Counter(),
    cellTopic: new Counter(),
    visualTopic: new Counter(),
  };
}

/**
 * Adds `n` copies of a record to the counts; a negative `n` takes them out again, so a
 * long-running analyzer updates its counts by the files that changed instead of recounting.
 * (A count back at 0 reads the same as one never set: Counter.get answers 0 for both.)
 */
export function addToTally(t: Tally, r: CoverageRecord, n: number): void {
  t.n += n;
  const track = str(r.track);
  const topic = str(r.topic);
  if (topic !== undefined && isMapping(r.visual)) t.visualTopic.add(topic, n);
  if (track === undefined) return; // a non-string track can equal no canonical track
  t.track.add(track, n);
  const area = str(r.competency_area);
  if (area !== undefined) t.trackArea.add(key2(track, area), n);
  if (topic !== undefined) t.trackTopic.add(key2(track, topic), n);
  const zone = str(r.zone);
  const level = str(r.level);
  if (zone !== undefined && level !== undefined) {
    t.trackZoneLevel.add(key3(track, zone, level), n);
    if (topic !== undefined) t.cellTopic.add(key4(track, zone, level, topic), n);
  }
}

/** `gap_score` of the original: 0 when nothing is expected, otherwise the weighted shortfall share. */
export function gapScore(actual: number, expected: number, weight: number): number {
  if (expected <= 0) return 0;
  // Same operation order as the Python expression `weight * max(0, expected - actual) / expected`.
  return (weight * Math.max(0, expected - actual)) / expected;
}

/** A gap row's numbers as the reports print them: expected to 1 decimal, weight and priority to 2. */
export function gapRow(actual: number, expected: number, weight: number): { actual: number; expected: number; weight: number; priority: number } {
  return { actual, expected: pyRound(expected, 1), weight: pyRound(weight, 2), priority: pyRound(gapScore(actual, expected, weight), 2) };
}

/** The weight of a track × area gap. */
export function areaWeight(track: Track, area: Area): number {
  return TRACK_WEIGHTS[track] * AREA_WEIGHTS[area];
}

/** The weight of a track × zone × level cell, multiplied left to right as Python does: (track × zone) × level. */
export function cellWeight(track: Track, zone: Zone, level: Level): number {
  return TRACK_WEIGHTS[track] * ZONE_WEIGHTS[zone] * LEVEL_WEIGHTS[level];
}
