import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVault } from '../../src/corpus/loader.js';
import { apportion, synthesizeQuestions, synthesizeVault, TRACK_SHARES, type SynthResult } from '../../src/corpus/synth.js';
import { Applicability, LEVELS, TRACKS, ZONES, TOPIC_AREA } from '../../src/corpus/taxonomy.js';
import { validateVault } from '../../src/corpus/validate.js';
import { serializeQuestion } from '../../src/corpus/writer.js';
import { createRng, mulberry32, seedFrom } from '../../src/util/random.js';
import { fixtureVaultDir, synthetic1kDir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-corpus-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function treeDigest(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

/**
 * Re-checks every "a op b … = c" line of a napkin-math block: units are dropped, `×` `/` `+` and `%`
 * evaluated; the result must hold to half a unit of its last digit shown (synthetic-1k writes
 * "32 GB / 0.2048 TB/s = 156.2 ms", so `=` too is read as "equal to the digits shown").
 */
export function napkinErrors(napkin: string): string[] {
  const errors: string[] = [];
  for (const raw of napkin.split('\n')) {
    const m = /^- (?:[^:]+: )?(.+?) (=|≈) (-?\d+(?:\.\d+)?)\b/.exec(raw.trim());
    if (!m) continue;
    const lhs = m[1]!.replace(/[A-Za-zµ]+(?:\/[A-Za-z]+)?/g, ' ');
    if (!/[×/+]/.test(lhs)) continue;
    const value = lhs.split('+').reduce((sum, term) => {
      const tokens = term.trim().split(/\s*([×/])\s*/);
      let acc = NaN;
      let op = '×';
      for (const t of tokens) {
        if (t === '×' || t === '/') {
          op = t;
          continue;
        }
        const x = t.trim().endsWith('%') ? Number.parseFloat(t) / 100 : Number.parseFloat(t);
        acc = Number.isNaN(acc) ? x : op === '×' ? acc * x : acc / x;
      }
      return sum + acc;
    }, 0);
    const shown = Number(m[3]);
    const decimals = m[3]!.split('.')[1]?.length ?? 0;
    const tol = 0.5 * 10 ** -decimals + 1e-9;
    if (!(Math.abs(value - shown) <= tol)) errors.push(`${raw.trim()} (computed ${value})`);
  }
  return errors;
}

describe('the seeded PRNG', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(mulberry32(43)()).not.toBe(xs[0]);
    expect(seedFrom('42')).toBe(seedFrom(42));
  });
  it('helpers stay in range and shuffle is a permutation', () => {
    const r = createRng('s');
    for (let i = 0; i < 1000; i++) {
      const x = r.int(3, 7);
      expect(x >= 3 && x <= 7 && Number.isInteger(x)).toBe(true);
    }
    const items = Array.from({ length: 50 }, (_, i) => i);
    const s = r.shuffle(items);
    expect(s).not.toEqual(items);
    expect([...s].sort((p, q) => p - q)).toEqual(items);
    expect(r.weighted(['a', 'b'], [0, 1])).toBe('b');
    expect(() => r.pick([])).toThrow(RangeError);
    expect(createRng(1).fork('x').next()).toBe(createRng(1).fork('x').next());
    expect(createRng(1).fork('x').next()).not.toBe(createRng(1).fork('y').next());
  });
});

describe('apportion (largest remainder)', () => {
  it('sums to exactly N for every N', () => {
    for (const n of [0, 1, 2, 5, 17, 99, 500, 1000, 1001, 9113, 10_000, 123_457]) {
      const a = apportion(n, TRACK_SHARES);
      expect(Object.values(a).reduce((s, x) => s + x, 0), String(n)).toBe(n);
      for (const t of TRACKS) expect(Math.abs(a[t] - (n * TRACK_SHARES[t]) / 9113)).toBeLessThan(1);
    }
  });
  it("gives synthetic-1k's track counts for 1,000", () => {
    expect(apportion(1000, TRACK_SHARES)).toEqual({ cloud: 445, edge: 215, mobile: 179, tinyml: 127, global: 34 });
  });
});

describe('napkinErrors (the test checker itself)', () => {
  it("accepts synthetic-1k's arithmetic and catches a wrong result", async () => {
    const { files } = await loadVault(synthetic1kDir());
    let checked = 0;
    for (const f of files.slice(0, 200)) {
      const napkin = (f.doc?.details as { napkin_math?: string } | undefined)?.napkin_math;
      if (!napkin) continue;
      checked++;
      expect(napkinErrors(napkin), f.relPath).toEqual([]);
    }
    expect(checked).toBeGreaterThan(150);
    expect(napkinErrors('- Time: 61 GB / 2.0 TB/s = 31.5 ms.')).toHaveLength(1);
    expect(napkinErrors('- Avg: 55 mW × 5% + 0.1 mW × 95% = 2.845 mW.')).toEqual([]);
    expect(napkinErrors('- Life: 1000 mWh / 2.845 mW ≈ 351.5 h.')).toEqual([]);
    expect(napkinErrors('- Life: 1000 mWh / 2.845 mW ≈ 352.5 h.')).toHaveLength(1);
  });
});

describe('synthesizeVault', () => {
  const N = 600;
  let a: string;
  let result: SynthResult;
  beforeAll(async () => {
    a = join(tmp, 'a');
    result = await synthesizeVault({ outDir: a, questions: N, seed: 'seed-1' });
  });

  it('same seed → byte-identical tree; another seed → a different one', async () => {
    const b = join(tmp, 'b');
    await synthesizeVault({ outDir: b, questions: N, seed: 'seed-1' });
    const da = treeDigest(a);
    expect(da.size).toBe(N + result.visuals + 1);
    expect(treeDigest(b)).toEqual(da);
    const c = join(tmp, 'c');
    await synthesizeVault({ outDir: c, questions: N, seed: 'seed-2' });
    const dc = treeDigest(c);
    expect([...dc.keys()].filter((k) => dc.get(k) === da.get(k)).length).toBeLessThan(N / 10);
  });

  it('validates with zero errors', async () => {
    const v = await validateVault(a);
    expect(v.files).toBe(N);
    expect(v.errors).toBe(0);
    expect(v.problems.every((p) => p.code === 'affinity')).toBe(true);
    // Mostly in affinity, like the real vault.
    expect(v.warnings).toBeLessThan(N * 0.15);
  });

  it('has the track shares, every level and zone, applicable topics and the nested layout', async () => {
    const { files } = await loadVault(a);
    const docs = files.map((f) => f.doc!);
    const count = (k: string) => docs.reduce<Record<string, number>>((acc, d) => ((acc[d[k] as string] = (acc[d[k] as string] ?? 0) + 1), acc), {});
    expect(count('track')).toEqual(apportion(N, TRACK_SHARES));
    expect(Object.keys(count('level')).sort()).toEqual([...LEVELS].sort());
    expect(Object.keys(count('zone')).sort()).toEqual([...ZONES].sort());
    const app = Applicability.forVault(fixtureVaultDir());
    for (const f of files) {
      const d = f.doc!;
      expect(app.applies(d.topic as string, d.track as never), `${d.topic} on ${d.track}`).toBe(true);
      expect(d.competency_area).toBe(TOPIC_AREA.get(d.topic as string));
      expect(f.relPath).toBe(`questions/${d.track}/${d.competency_area}/${d.id}.yaml`);
    }
    // The synthetic vault carries the same applicability facts as the fixture vault's taxonomy file
    // (the sample suite compares them with the real taxonomy too).
    const ours = Applicability.forVault(a);
    expect(ours.toRecord()).toEqual(Applicability.forVault(fixtureVaultDir()).toRecord());
    expect(ours.listedTopicCount).toBe(80);
  });

  it('mixes statuses like synthetic-1k and its napkin math is right', async () => {
    const { files } = await loadVault(a);
    const statuses = files.map((f) => f.doc!.status as string);
    const share = (s: string) => statuses.filter((x) => x === s).length / statuses.length;
    expect(share('published')).toBeGreaterThan(0.8);
    expect(share('draft')).toBeGreaterThan(0.03);
    expect(share('draft')).toBeLessThan(0.15);
    const templates = new Set<string>();
    for (const f of files) {
      const d = f.doc!;
      const napkin = (d.details as { napkin_math: string }).napkin_math;
      expect(napkinErrors(napkin), f.relPath).toEqual([]);
      expect(napkin).toMatch(/\d/);
      templates.add(napkin.split('**Calculations:**')[1]!.split(':')[0]!.trim());
      if (d.status === 'deleted') expect(d.deletion_reason).toBeTruthy();
      if (d.status === 'draft') expect(d.tags).toEqual(['gemini-generated', `target-${d.zone}-${d.level}`]);
      if (d.visual) expect(statSync(join(a, 'visuals', d.track as string, (d.visual as { path: string }).path)).size).toBeGreaterThan(0);
    }
    expect(templates.size).toBeGreaterThanOrEqual(5);
  });

  it('refuses a folder that already holds questions', async () => {
    await expect(synthesizeVault({ outDir: a, questions: 5 })).rejects.toThrow(/already holds files/);
  });

  it('builds 10,000 documents and their YAML in memory', () => {
    const items = synthesizeQuestions(10_000, 1, Applicability.forVault(fixtureVaultDir()));
    let bytes = 0;
    for (const it of items) bytes += serializeQuestion(it.doc).length;
    expect(items).toHaveLength(10_000);
    expect(bytes).toBeGreaterThan(10_000 * 1000);
  });
});
