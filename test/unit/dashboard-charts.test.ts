/**
 * The run page's charts say what they mean: whole-number ticks on count axes, a verdict legend
 * whose labels never run into the next swatch, and a heatmap that tells "no gap" (white) from
 * "not planned" (grey).
 */
import { describe, expect, it } from 'vitest';
import { countAxisMax, heatmaps, LEGEND_CHAR_PX, lineChart, NOT_PLANNED_FILL, verdictBars } from '../../dashboard/charts.js';

const ticks = (svg: string): string[] => [...svg.matchAll(/<text class="tick"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('dashboard charts', () => {
  it('count axes have whole-number ticks (never 31.50 / 15.75)', () => {
    for (const total of [1, 2, 3, 15, 30, 31, 57]) {
      const svg = verdictBars('v', 'verdicts', [{ x: 0, PASS: total, NEEDS_FIX: 0, DROP: 0 }]);
      const t = ticks(svg);
      expect(t).toHaveLength(3);
      for (const v of t) expect(v, `${total}: ${t.join(',')}`).toMatch(/^\d+$/);
      expect(Number(t[2])).toBeGreaterThanOrEqual(total);
    }
    expect(countAxisMax(30)).toBe(30);
    expect(countAxisMax(30.2)).toBe(32);
    const calls = lineChart({ id: 'c', title: 'calls', xs: [0, 1], ys: [7, 15], color: '#000', limit: { value: 15, label: 'budget 15' }, counts: true });
    for (const v of ticks(calls)) expect(v).toMatch(/^\d+$/);
  });

  it('the verdict legend leaves room for each label before the next swatch', () => {
    const svg = verdictBars('v', 'verdicts', [{ x: 0, PASS: 1, NEEDS_FIX: 1, DROP: 1 }]);
    const swatches = [...svg.matchAll(/<rect class="swatch" x="([\d.]+)"/g)].map((m) => Number(m[1]));
    const labels = [...svg.matchAll(/<text class="label" x="([\d.]+)"[^>]*>([^<]*)</g)].map((m) => ({ x: Number(m[1]), text: m[2]! }));
    expect(labels.map((l) => l.text)).toEqual(['PASS', 'NEEDS_FIX', 'DROP']);
    for (let i = 0; i + 1 < swatches.length; i++) expect(labels[i]!.x + labels[i]!.text.length * LEGEND_CHAR_PX).toBeLessThan(swatches[i + 1]!);
    expect(labels.at(-1)!.x + 'DROP'.length * LEGEND_CHAR_PX).toBeLessThanOrEqual(460);
  });

  it('a heatmap cell with no gap is white, a cell the plan never asks for is grey, and the legend says both', () => {
    const svg = heatmaps({
      iter: 0,
      zones: ['recall', 'mastery'],
      levels: ['L1', 'L4'],
      maxPriority: 2,
      tracks: [
        {
          track: 'cloud',
          cells: [
            { zone: 'recall', level: 'L1', priority: 0, actual: 3, expected: 3 },
            { zone: 'recall', level: 'L4', priority: 2, actual: 0, expected: 2 },
            { zone: 'mastery', level: 'L1', priority: 0, actual: 0, expected: 0 },
            { zone: 'mastery', level: 'L4', priority: 1, actual: 1, expected: 2 },
          ],
        },
      ],
    });
    expect(svg).toMatch(/fill="rgb\(255,255,255\)"><title>cloud recall L1: priority 0.00 \(no gap\)/);
    expect(svg).toContain(`class="not-planned" x="92" y="52" width="41" height="17" fill="${NOT_PLANNED_FILL}"><title>cloud mastery L1: not planned`);
    expect(svg).toContain('>not planned</text>');
    expect(svg).toContain('>0 (no gap)</text>');
  });
});
