/**
 * One reference case: the reference strategy over a corpus reproduces the original's report.json
 * (`reference-reports/<corpus>/<case>.json`). Shared by the unit suite (synthetic-1k, the repository's
 * copy) and the sample suite (the real vault sample).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { analyzeVault } from '../../src/analysis/index.js';
import type { Area } from '../../src/corpus/taxonomy.js';
import { referenceReportsDir } from './fixtures.js';

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

/** The case files of a corpus (`default.json`, `total120.json`, ...). */
export const referenceCases = (corpus: string): string[] => readdirSync(join(referenceReportsDir(), corpus)).filter((f) => f.endsWith('.json')).sort();

export const readReference = (corpus: string, file: string): Json => JSON.parse(readFileSync(join(referenceReportsDir(), corpus, file), 'utf8')) as Json;

export async function expectReferenceCase(corpus: string, vaultDir: string, file: string): Promise<void> {
  const want = readReference(corpus, file);
  const opts = argsToOptions(String(want._args));
  const { report } = await analyzeVault(vaultDir, { ...opts, strategy: 'reference', useIndex: false });
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
  gp.forEach((cell, i) => {
    const w = wp[i]!;
    expect(Object.keys(cell)).toEqual(Object.keys(w));
    if (opts.visual) {
      // The topic depended on set order; everything else must match.
      expect({ ...cell, topic: undefined }).toStrictEqual({ ...w, topic: undefined });
      expect(typeof cell.topic).toBe('string');
    } else {
      expect(cell).toStrictEqual(w);
    }
  });
}
