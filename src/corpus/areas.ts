/**
 * The competency-area normalizer: the original `fix_competency_areas.py` REMAP (SEED-SPEC §8),
 * generalised. The generator let the model fill competency_area without telling it the cell's
 * area, so values such as "edge / queueing-theory", "Duty cycling" or "diagnosis" reached the
 * vault. This maps such a value to one of the 13 areas by a named rule, or says it cannot; it
 * never guesses (no fuzzy matching).
 */
import { AREAS, isArea, isZone, topicArea, TRACKS, type Area } from './taxonomy.js';

const TOPIC_REMAP: Record<string, Area> = {
  'data-pipeline-engineering': 'data',
  'duty-cycling': 'power',
  // The REMAP files kv-cache-management under architecture, unlike taxonomy_data (memory): its entry wins.
  'kv-cache-management': 'architecture',
  'memory-hierarchy-design': 'memory',
  'interconnect-topology': 'networking',
  'network-bandwidth-bottlenecks': 'networking',
  'pipeline-parallelism': 'parallelism',
  'queueing-theory': 'latency',
  'fault-tolerance-checkpointing': 'reliability',
  'quantization-fundamentals': 'precision',
  'communication-computation-overlap': 'optimization',
  'compute-cost-estimation': 'compute',
  'collective-communication': 'networking',
  'model-serving-infrastructure': 'deployment',
  'distributed-training-economics': 'cross-cutting',
};

const ZONE_REMAP: Record<string, Area> = {
  diagnosis: 'cross-cutting',
  evaluation: 'cross-cutting',
  specification: 'cross-cutting',
  realization: 'cross-cutting',
  fluency: 'cross-cutting',
};

const TRACK_TOPIC_PAIRS: readonly [string, string][] = [
  ['edge', 'data-pipeline-engineering'],
  ['edge', 'network-bandwidth-bottlenecks'],
  ['edge', 'pipeline-parallelism'],
  ['edge', 'queueing-theory'],
  ['edge', 'model-serving-infrastructure'],
  ['mobile', 'memory-hierarchy-design'],
  ['mobile', 'quantization-fundamentals'],
  ['mobile', 'duty-cycling'],
  ['mobile', 'communication-computation-overlap'],
  ['tinyml', 'communication-computation-overlap'],
  ['tinyml', 'compute-cost-estimation'],
  ['tinyml', 'queueing-theory'],
  ['tinyml', 'memory-hierarchy-design'],
];

const CAPITALISED_REMAP: Record<string, Area> = {
  'Data pipeline engineering': 'data',
  'Duty cycling': 'power',
  'Memory hierarchy design': 'memory',
};

/** The original REMAP table, key for key (malformed value → canonical area). */
export const AREA_REMAP: Readonly<Record<string, Area>> = Object.freeze({
  ...TOPIC_REMAP,
  ...ZONE_REMAP,
  ...Object.fromEntries(
    TRACK_TOPIC_PAIRS.flatMap(([track, topic]) => [
      [`${track} / ${topic}`, TOPIC_REMAP[topic]!],
      [`${track} ${topic}`, TOPIC_REMAP[topic]!],
    ]),
  ),
  ...CAPITALISED_REMAP,
});

export type AreaRule =
  /** Already one of the 13 areas. */
  | 'canonical'
  /** An exact key of the original REMAP. */
  | 'remap'
  /** The original's second lookup: lower(), spaces → "-", "/" → " / ", strip, then REMAP. */
  | 'remap-normalized'
  /** Kebab-cased (and any leading track stripped), it is an area name. */
  | 'kebab-area'
  /** Kebab-cased (and any leading track stripped), it is a REMAP key. */
  | 'kebab-remap'
  /** …it is one of the curated topics (or a topic the generator knew): that topic's area. */
  | 'topic-area'
  /** …it is a zone name: zones are not areas, so cross-cutting. */
  | 'zone';

export type AreaNormalization =
  | { area: Area; rule: AreaRule; /** The track prefix that was stripped, if any. */ strippedTrack?: string }
  | { unmappable: true; reason: string };

const TRACK_PREFIX = new RegExp(`^(${TRACKS.join('|')})\\s*(?:/|\\s)\\s*(\\S.*)$`, 'i');

/** Lower case, runs of spaces/underscores → one "-", trimmed of stray dashes. */
export function kebab(s: string): string {
  return s
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

export function normalizeArea(value: unknown): AreaNormalization {
  if (typeof value !== 'string') return { unmappable: true, reason: `not a string (${value === null ? 'null' : typeof value})` };
  if (value.trim() === '') return { unmappable: true, reason: 'empty' };
  if (isArea(value)) return { area: value, rule: 'canonical' };
  const exact = AREA_REMAP[value];
  if (exact) return { area: exact, rule: 'remap' };
  const original = value.toLowerCase().replaceAll(' ', '-').replaceAll('/', ' / ').trim();
  const viaOriginal = AREA_REMAP[original];
  if (viaOriginal) return { area: viaOriginal, rule: 'remap-normalized' };

  let rest = value.trim();
  let strippedTrack: string | undefined;
  const m = TRACK_PREFIX.exec(rest);
  if (m) {
    strippedTrack = m[1]!.toLowerCase();
    rest = m[2]!;
  }
  const key = kebab(rest);
  const withTrack = (n: { area: Area; rule: AreaRule }): AreaNormalization => (strippedTrack ? { ...n, strippedTrack } : n);
  if (isArea(key)) return withTrack({ area: key, rule: 'kebab-area' });
  const remapped = AREA_REMAP[key];
  if (remapped) return withTrack({ area: remapped, rule: 'kebab-remap' });
  const ofTopic = topicArea(key);
  if (ofTopic) return withTrack({ area: ofTopic, rule: 'topic-area' });
  if (isZone(key)) return withTrack({ area: 'cross-cutting', rule: 'zone' });
  return { unmappable: true, reason: `"${value}" is not an area, topic, zone or known malformed value (areas: ${AREAS.join(', ')})` };
}
