import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AREA_REMAP, kebab, normalizeArea } from '../../src/corpus/areas.js';
import { analyzeRecords } from '../../src/analysis/index.js';
import { Applicability, AREAS, TOPIC_AREA, TRACK_TOPIC_BLOCKLIST, TRACKS, ZONES, type Track } from '../../src/corpus/taxonomy.js';

/** SEED-SPEC §8, value for value: every malformed value the original REMAP lists. */
export const SPEC_REMAP: [string, string][] = [
  ['data-pipeline-engineering', 'data'],
  ['duty-cycling', 'power'],
  ['kv-cache-management', 'architecture'],
  ['memory-hierarchy-design', 'memory'],
  ['interconnect-topology', 'networking'],
  ['network-bandwidth-bottlenecks', 'networking'],
  ['pipeline-parallelism', 'parallelism'],
  ['queueing-theory', 'latency'],
  ['fault-tolerance-checkpointing', 'reliability'],
  ['quantization-fundamentals', 'precision'],
  ['communication-computation-overlap', 'optimization'],
  ['compute-cost-estimation', 'compute'],
  ['collective-communication', 'networking'],
  ['model-serving-infrastructure', 'deployment'],
  ['distributed-training-economics', 'cross-cutting'],
  ['diagnosis', 'cross-cutting'],
  ['evaluation', 'cross-cutting'],
  ['specification', 'cross-cutting'],
  ['realization', 'cross-cutting'],
  ['fluency', 'cross-cutting'],
  ...(
    [
      ['edge', 'data-pipeline-engineering', 'data'],
      ['edge', 'network-bandwidth-bottlenecks', 'networking'],
      ['edge', 'pipeline-parallelism', 'parallelism'],
      ['edge', 'queueing-theory', 'latency'],
      ['edge', 'model-serving-infrastructure', 'deployment'],
      ['mobile', 'memory-hierarchy-design', 'memory'],
      ['mobile', 'quantization-fundamentals', 'precision'],
      ['mobile', 'duty-cycling', 'power'],
      ['mobile', 'communication-computation-overlap', 'optimization'],
      ['tinyml', 'communication-computation-overlap', 'optimization'],
      ['tinyml', 'compute-cost-estimation', 'compute'],
      ['tinyml', 'queueing-theory', 'latency'],
      ['tinyml', 'memory-hierarchy-design', 'memory'],
    ] as const
  ).flatMap(([t, topic, area]): [string, string][] => [
    [`${t} / ${topic}`, area],
    [`${t} ${topic}`, area],
  ]),
  ['Data pipeline engineering', 'data'],
  ['Duty cycling', 'power'],
  ['Memory hierarchy design', 'memory'],
];

describe('normalizeArea: the original REMAP', () => {
  it('holds exactly the §8 table', () => {
    expect(Object.entries(AREA_REMAP).sort()).toEqual([...SPEC_REMAP].sort());
  });
  it.each(SPEC_REMAP)('%s → %s (rule remap)', (value, area) => {
    expect(normalizeArea(value)).toEqual({ area, rule: 'remap' });
  });
});

describe('normalizeArea: the general rule', () => {
  it.each(AREAS.map((a) => [a]))('canonical %s maps to itself', (a) => {
    expect(normalizeArea(a)).toEqual({ area: a, rule: 'canonical' });
  });

  it.each([
    ['cloud / queueing-theory', 'latency', 'kebab-remap', 'cloud'],
    ['global/kv-cache-management', 'architecture', 'kebab-remap', 'global'],
    ['Cloud  Memory', 'memory', 'kebab-area', 'cloud'],
    ['edge / Tail Latency', 'latency', 'topic-area', 'edge'],
    ['TINYML tensor_arena_planning', 'memory', 'topic-area', 'tinyml'],
    ['mobile / mastery', 'cross-cutting', 'zone', 'mobile'],
  ])('%s → %s by %s, stripping the track', (value, area, rule, strippedTrack) => {
    expect(normalizeArea(value)).toEqual({ area, rule, strippedTrack });
  });

  it.each([
    ['Roofline Analysis', 'compute', 'topic-area'],
    ['speculative_decoding', 'optimization', 'topic-area'],
    ['KV_cache_management', 'architecture', 'kebab-remap'],
    ['Queueing  Theory', 'latency', 'kebab-remap'],
    ['Cross Cutting', 'cross-cutting', 'kebab-area'],
    ['  Power ', 'power', 'kebab-area'],
    ['Mastery', 'cross-cutting', 'zone'],
  ])('%s → %s by %s', (value, area, rule) => {
    expect(normalizeArea(value)).toEqual({ area, rule });
  });

  it('the original second lookup (lower, spaces → "-") comes before the general rule', () => {
    expect(normalizeArea('Duty Cycling')).toEqual({ area: 'power', rule: 'remap-normalized' });
    expect(normalizeArea('DIAGNOSIS')).toEqual({ area: 'cross-cutting', rule: 'remap-normalized' });
    expect(normalizeArea('KV cache management')).toEqual({ area: 'architecture', rule: 'remap-normalized' });
  });

  it('every one of the 87 topics maps (REMAP entries win over the taxonomy)', () => {
    for (const [topic, area] of TOPIC_AREA) {
      const n = normalizeArea(topic);
      expect('area' in n && n.area, topic).toBe(AREA_REMAP[topic] ?? area);
    }
    expect(TOPIC_AREA.get('kv-cache-management')).toBe('memory');
    expect(normalizeArea('kv-cache-management')).toMatchObject({ area: 'architecture' });
  });

  it('every zone maps (an area-named zone stays that area)', () => {
    for (const z of ZONES) {
      const n = normalizeArea(z);
      expect('area' in n && n.area, z).toBe(z === 'optimization' ? 'optimization' : 'cross-cutting');
    }
  });

  it.each([['cloud'], ['serving'], ['edge / inference-thing'], ['memry'], [''], ['   '], ['cloud /']])('never guesses: %j is unmappable', (v) => {
    expect(normalizeArea(v)).toMatchObject({ unmappable: true });
  });

  it.each([[null], [undefined], [3], [['memory']], [{ area: 'memory' }]])('non-strings are unmappable: %j', (v) => {
    expect(normalizeArea(v)).toMatchObject({ unmappable: true });
  });

  it('kebab-cases', () => {
    expect(kebab('  Data  pipeline__Engineering- ')).toBe('data-pipeline-engineering');
  });
});

describe('Applicability without taxonomy_data.yaml', () => {
  it('falls back to the blocklist alone: every topic applies except the blocked ones, and a balanced plan respects it', () => {
    const empty = mkdtempSync(join(tmpdir(), 'vl-no-taxonomy-'));
    try {
      const app = Applicability.forVault(empty);
      expect(app.source).toBe('builtin (blocklist only)');
      for (const track of TRACKS) {
        for (const topic of TOPIC_AREA.keys()) expect(app.applies(topic, track), `${topic} × ${track}`).toBe(!TRACK_TOPIC_BLOCKLIST[track].includes(topic));
      }
      expect(app.applies('kv-cache-management', 'tinyml')).toBe(false);
      expect(app.applies('pipeline-parallelism', 'mobile')).toBe(false);
      const plan = analyzeRecords([], { strategy: 'balanced', total: 200, applicability: app }).recommended_plan;
      expect(plan.length).toBeGreaterThan(0);
      for (const c of plan) expect(TRACK_TOPIC_BLOCKLIST[c.track as Track]).not.toContain(c.topic);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
