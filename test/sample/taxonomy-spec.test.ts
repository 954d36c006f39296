/** The curated taxonomy is SEED-SPEC §3.4's, topic for topic and area for area. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AREAS, TOPIC_AREA, TOPICS } from '../../src/corpus/taxonomy.js';
import { seedSpecFile } from '../helpers/fixtures.js';

/** `* area (n): a, b, c` lines of §3.4, read from the spec beside the project. */
function specTopics(): { area: string; count: number; topics: string[] }[] {
  const spec = readFileSync(seedSpecFile(), 'utf8');
  const start = spec.indexOf('### 3.4 The 87 topics');
  const section = spec.slice(start, spec.indexOf('\n### ', start + 1));
  return [...section.matchAll(/^\* ([a-z0-9 .-]+?) \((\d+)[^)]*\): (.+)$/gm)].map((m) => ({ area: m[1]!, count: Number(m[2]), topics: m[3]!.split(',').map((t) => t.trim()) }));
}

describe('taxonomy', () => {
  const groups = specTopics();

  it('reads the spec: 14 groups whose stated counts add up to 87', () => {
    expect(groups).toHaveLength(14);
    for (const g of groups) expect(g.topics, g.area).toHaveLength(g.count);
    expect(groups.reduce((n, g) => n + g.count, 0)).toBe(87);
  });

  it('has exactly the 87 curated topics, no more and no fewer', () => {
    expect(TOPICS).toHaveLength(87);
    expect([...TOPICS].sort()).toEqual(groups.flatMap((g) => g.topics).sort());
  });

  it('puts each of the 79 topics with an area in enums.py under that area, and the 8 v1.0 additions under real areas', () => {
    for (const g of groups.filter((x) => !x.area.startsWith('v1.0'))) {
      expect(AREAS as readonly string[]).toContain(g.area);
      for (const t of g.topics) expect(TOPIC_AREA.get(t), t).toBe(g.area);
    }
    const additions = groups.find((x) => x.area.startsWith('v1.0'))!.topics;
    for (const t of additions) expect(AREAS as readonly string[], t).toContain(TOPIC_AREA.get(t));
    // The analyzer and generator map it to optimization (SEED-SPEC §3.5), not the taxonomy file's parallelism.
    expect(TOPIC_AREA.get('communication-computation-overlap')).toBe('optimization');
  });
});
