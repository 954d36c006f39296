import { describe, expect, it } from 'vitest';
import { NearDupIndex, similarity } from '../../src/checks/index.js';
import { createRng } from '../../src/util/random.js';

const q = (title: string, scenario: string, question: string) => ({ title, scenario, question });
const a = q('Streaming 61 GB Through HBM', 'A service must read 61 GB of weights per step over 2.0 TB/s of HBM bandwidth with a 40 ms budget.', 'Is the step memory-bound?');

describe('NearDupIndex', () => {
  it('scores an exact duplicate 1.0, a near copy high and an unrelated question low', () => {
    const idx = new NearDupIndex();
    idx.add('cloud-0001', a);
    idx.add('edge-0002', q('Duty Cycling a Microphone', 'A Cortex-M4 wakes every 2 s for 20 ms at 30 mW and sleeps at 5 μW on a coin cell.', 'How long does the battery last?'));
    expect(idx.nearest(a)).toMatchObject({ id: 'cloud-0001', similarity: 1, scenario: 1, question: 1 });
    const near = idx.nearest({ ...a, question: 'Is the step memory-bound, and by how much?' })!;
    expect(near.id).toBe('cloud-0001');
    expect(near.similarity).toBeGreaterThan(0.8);
    expect(near.similarity).toBeLessThan(1);
    const other = idx.nearest(q('Queueing at 90% Load', 'An endpoint serves requests in 20 ms and traffic arrives at 45 per second.', 'What is the mean latency?'));
    expect(other === null || other.similarity < 0.2).toBe(true);
    expect(similarity(a, a)).toBe(1);
  });

  it('excludes a document by id, replaces on re-add and forgets on remove', () => {
    const idx = new NearDupIndex();
    idx.add('x', a);
    expect(idx.nearest(a, { excludeId: 'x' })).toBeNull();
    idx.add('y', 'completely different words about batteries and sensors in forests');
    idx.add('x', 'now x is about queueing theory and tail latency at peak load');
    expect(idx.size).toBe(2);
    expect(idx.nearest(a)?.similarity ?? 0).toBeLessThan(0.2);
    expect(idx.remove('x')).toBe(true);
    expect(idx.has('x')).toBe(false);
    expect(idx.nearest('now x is about queueing theory and tail latency at peak load')).toBeNull();
  });

  it('answers 100 queries against 2,000 questions (the 100,000-question scale is in bench/prejudge)', () => {
    const rng = createRng('neardup-bench');
    const vocab = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}`);
    const doc = () => Array.from({ length: 70 }, () => rng.pick(vocab)).join(' ');
    const idx = new NearDupIndex();
    const docs: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const d = doc();
      docs.push(d);
      idx.add(`q${i}`, d);
    }
    for (let i = 0; i < 100; i++) {
      const probe = i % 2 === 0 ? docs[i * 17]! : doc();
      const hit = idx.nearest(probe)!;
      if (i % 2 === 0) expect(hit).toMatchObject({ id: `q${i * 17}`, similarity: 1 });
    }
      });
});
