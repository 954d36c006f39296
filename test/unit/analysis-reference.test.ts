import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeVault } from '../../src/analysis/index.js';
import type { Area } from '../../src/corpus/taxonomy.js';
import { referenceReportsDir, synthetic1kDir, vaultSampleDir } from '../helpers/fixtures.js';

type Json = Record<string, unknown>;

/** `_args` of a reference report → analyzer options. */
function argsToOptions(args: string): { total: number; visual: boolean; publishedOnly: boolean; includeAreas: Area[] } {
  const a = args.split(/\s+/).filter(Boolean);
  const val = (flag: string): string | undefined => {
    const i = a.indexOf(flag);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return {
    total: Number(val('--total') ?? 60),
    visual: a.includes('--visual'),
    publishedOnly: a.includes('--published-only'),
    includeAreas: (val('--include-areas') ?? '').split(',').filter(Boolean) as Area[],
  };
}

const corpora: [string, () => string][] = [
  ['vault-sample', vaultSampleDir],
  ['synthetic-1k', synthetic1kDir],
];

describe('reference strategy reproduces the original report.json', () => {
  for (const [corpus, dir] of corpora) {
    const cases = readdirSync(join(referenceReportsDir(), corpus)).filter((f) => f.endsWith('.json'));
    it(`has the 5 cases for ${corpus}`, () => {
      expect(cases.sort()).toEqual(['areas.json', 'default.json', 'published.json', 'total120.json', 'visual.json']);
    });
    for (const file of cases) {
      it(`${corpus}/${file}`, async () => {
        const want = JSON.parse(readFileSync(join(referenceReportsDir(), corpus, file), 'utf8')) as Json;
        const opts = argsToOptions(String(want._args));
        const { report } = await analyzeVault(dir(), { ...opts, strategy: 'reference', useIndex: false });
        const got = JSON.parse(JSON.stringify(report)) as Json;

        // Key order: the original's keys, then our `strategy`.
        const wantKeys = Object.keys(want).filter((k) => k !== '_args');
        expect(Object.keys(got)).toEqual(['generated_at', ...wantKeys, 'strategy']);
        expect(got.strategy).toBe('reference');
        expect(got.generated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);

        expect(got.n_records).toBe(want.n_records);
        expect(got.include_drafts).toBe(want.include_drafts);
        for (const list of ['track_area_gaps', 'track_zone_level_gaps'] as const) {
          const g = got[list] as Json[];
          const w = want[list] as Json[];
          expect(g.length).toBe(w.length);
          // toStrictEqual ignores key order; compare it separately row by row.
          expect(g).toStrictEqual(w);
          g.forEach((row, i) => expect(Object.keys(row)).toEqual(Object.keys(w[i]!)));
        }
        // The original's visual keys came from a Python set (hash-seed order): compare as a mapping.
        expect(got.visual_topic_counts).toStrictEqual(want.visual_topic_counts);

        const gp = got.recommended_plan as Json[];
        const wp = want.recommended_plan as Json[];
        expect(gp.length).toBe(wp.length);
        const isVisual = opts.visual;
        gp.forEach((cell, i) => {
          const w = wp[i]!;
          expect(Object.keys(cell)).toEqual(Object.keys(w));
          if (isVisual) {
            // The topic depended on set order; everything else must match.
            expect({ ...cell, topic: undefined }).toStrictEqual({ ...w, topic: undefined });
            expect(typeof cell.topic).toBe('string');
          } else {
            expect(cell).toStrictEqual(w);
          }
        });
      });
    }
  }
});
