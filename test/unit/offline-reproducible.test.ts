/**
 * Offline runs are reproducible for a seed and salt, defects included: every item, near-copies too,
 * is the same whichever cells share a generate call (batching depends on timing, a seeded run
 * must not).
 */
import { describe, expect, it } from 'vitest';
import { generateAnswer, offlineDefectFor, type OfflineCell } from '../../src/llm/offline/generate.js';

const TOPICS = [
  ['cloud', 'kv-cache-management', 'design', 'L4'],
  ['edge', 'quantization', 'analyze', 'L3'],
  ['mobile', 'memory-hierarchy', 'implement', 'L2'],
  ['tinyml', 'power-management', 'recall', 'L1'],
  ['cloud', 'collective-communication', 'optimization', 'L5'],
] as const;

const cells: OfflineCell[] = Array.from({ length: 30 }, (_, i) => {
  const [track, topic, zone, level] = TOPICS[i % TOPICS.length]!;
  return { index: i, track, topic, zone, level, variant: `salt-1-${i}-s7` };
});

describe('offline reproducibility', () => {
  it('the same seed and variants give the same items, defects included, however the cells are batched', () => {
    const seed = 7;
    const kinds = ['near-copy'] as const;
    const nearCopies = cells.filter((c) => offlineDefectFor(seed, c.variant!, 0.6, kinds) === 'near-copy');
    // The case that used to differ: near-copies that are not first in their answer.
    expect(nearCopies.length).toBeGreaterThan(3);
    const whole = generateAnswer(cells, { seed, defectRate: 0.6, defectKinds: kinds });
    const singles = cells.flatMap((c) => generateAnswer([c], { seed, defectRate: 0.6, defectKinds: kinds }));
    const reversed = generateAnswer([...cells].reverse(), { seed, defectRate: 0.6, defectKinds: kinds }).reverse();
    const threes: typeof whole = [];
    for (let i = 0; i < cells.length; i += 3) threes.push(...generateAnswer(cells.slice(i, i + 3), { seed, defectRate: 0.6, defectKinds: kinds }));
    expect(singles).toEqual(whole);
    expect(reversed).toEqual(whole);
    expect(threes).toEqual(whole);
    // And near-copies really are near-copies: the title of the cell's canonical item, a changed question.
    const clean = generateAnswer(cells, { seed, defectRate: 0 });
    for (const c of nearCopies) expect(whole[c.index]!.question).not.toBe(clean[c.index]!.question);
  });
});
