/**
 * The real vault sample (60 files of the original vault, unchanged), read from VAULT_SAMPLE_DIR or
 * ../shared/fixtures/vault-sample: `npm run test:sample`. The unit suite checks the same behaviour on
 * the repository's own fixture vault; this suite checks that it holds on the original's data too.
 * Without the sample the run fails at once (vitest.sample.config.ts); nothing here is skipped.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fg from 'fast-glob';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { analyzeVault } from '../../src/analysis/index.js';
import { checkArithmetic } from '../../src/checks/arithmetic.js';
import { scanMaxIds } from '../../src/corpus/ids.js';
import { loadVault } from '../../src/corpus/loader.js';
import { validateQuestion } from '../../src/corpus/schema.js';
import { BUNDLED_TAXONOMY_FILE } from '../../src/corpus/synth.js';
import { Applicability } from '../../src/corpus/taxonomy.js';
import { serializeQuestion } from '../../src/corpus/writer.js';
import { buildManifest, loadPolicy, loadReleaseSet } from '../../src/release/index.js';
import { renderMatplotlib, renderVisual, sanitizeSvg, screenPythonScript } from '../../src/visuals/index.js';
import { PROJECT_ROOT, vaultSampleDir } from '../helpers/fixtures.js';
import { expectReferenceCase, readReference, referenceCases } from '../helpers/reference-reports.js';
import { expectedCounts, PY_ROOT } from '../helpers/release.js';

const sample = vaultSampleDir();
const tmp = mkdtempSync(join(tmpdir(), 'vl-sample-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (...args: string[]) => spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], { cwd: PROJECT_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

describe('loading and validating the real sample', () => {
  it('all 53 real questions load and validate with zero errors, including the three that end early', async () => {
    const { files, problems } = await loadVault(sample);
    expect(files).toHaveLength(53);
    expect(problems).toEqual([]);
    for (const f of files) {
      const errors = validateQuestion(f.doc, f.relPath).filter((p) => p.severity === 'error');
      expect(errors, f.relPath).toEqual([]);
    }
    // They stop after provenance / human_reviewed.status: no optional tail, yet valid.
    for (const id of ['cloud-1820', 'edge-0972', 'mobile-0678']) {
      const f = files.find((x) => x.relPath.endsWith(`/${id}.yaml`))!;
      expect(f.doc).not.toBeNull();
      expect(Object.keys(f.doc!)).not.toContain('tags');
    }
  });

  it('vault-loop validate loads all 53 real questions and exits 0, listing the off-affinity warnings', () => {
    const r = cli('validate', '--vault', sample);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/validated 53 files: 0 errors in 0 files, \d+ warnings\n$/);
    expect(r.stdout).toMatch(/^questions\/mobile\/networking\/mobile-1871\.yaml:\d+: warning: level L4 is outside zone mastery/m);
  });

  it('scanMaxIds finds the highest id per track', async () => {
    expect(await scanMaxIds(sample)).toEqual({ cloud: 2846, edge: 2337, mobile: 1871, tinyml: 1535, global: 439 });
  });

  it('every napkin-math statement re-checks: none is wrong, at most 8 hold no computation', async () => {
    const counts = { passed: 0, failed: 0, 'not-run': 0 };
    const failed: string[] = [];
    for (const f of (await loadVault(sample)).files) {
      const nm = (f.doc?.details as Record<string, unknown> | undefined)?.napkin_math;
      if (typeof nm !== 'string') continue;
      const r = checkArithmetic(nm);
      counts[r.status]++;
      if (r.status === 'failed') failed.push(`${f.relPath}: ${r.failures.join('; ')}`);
    }
    expect(failed).toEqual([]);
    expect(counts.passed).toBeGreaterThanOrEqual(44);
    expect(counts['not-run']).toBeLessThanOrEqual(8);
  });

  it('every document round-trips through the writer in both key orders', async () => {
    const { files } = await loadVault(sample);
    for (const f of files) {
      for (const keyOrder of ['generator', 'preserve'] as const) {
        expect(isDeepStrictEqual(parse(serializeQuestion(f.doc!, { keyOrder })), f.doc), `${f.relPath} (${keyOrder})`).toBe(true);
      }
    }
    expect(files).toHaveLength(53);
  });
});

describe('the real taxonomy', () => {
  it('lists 80 topics, and the applicability data the project ships carries the same facts', () => {
    const real = Applicability.forVault(sample);
    expect(real.listedTopicCount).toBe(80);
    // Synthetic vaults and the fixture vault are built on the shipped file: it must say what the original says.
    const bundledVault = join(tmp, 'bundled');
    cpSync(BUNDLED_TAXONOMY_FILE, join(bundledVault, 'schema', 'taxonomy_data.yaml'));
    expect(Applicability.forVault(bundledVault).toRecord()).toEqual(real.toRecord());
  });

  it('the reference strategy plans cells the taxonomy rules out (tinyml/queueing-theory); balanced never does', async () => {
    const app = Applicability.forVault(sample);
    const ref = await analyzeVault(sample, { strategy: 'reference', total: 36, useIndex: false });
    expect(ref.report.recommended_plan.some((c) => !app.applies(c.topic, c.track))).toBe(true);
    const bal = await analyzeVault(sample, { strategy: 'balanced', total: 150, useIndex: false, applicability: app });
    expect(bal.report.recommended_plan.length).toBeGreaterThan(0);
    for (const c of bal.report.recommended_plan) expect(app.applies(c.topic, c.track), `${c.track}/${c.topic}`).toBe(true);
  });
});

describe('the original analyzer reports over the real sample', () => {
  const cases = referenceCases('vault-sample');
  it('has the 5 cases', () => {
    expect(cases).toEqual(['areas.json', 'default.json', 'published.json', 'total120.json', 'visual.json']);
  });
  for (const file of cases) it(`vault-sample/${file}`, () => expectReferenceCase('vault-sample', sample, file));

  it('vault-loop analyze writes the same report.json and the original report.md facts', () => {
    const vault = join(tmp, 'analyze');
    cpSync(sample, vault, { recursive: true });
    const out = join(tmp, 'analyze-out');
    const r = cli('analyze', '--vault', vault, '--strategy', 'reference', '--total', '36', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const want = readReference('vault-sample', 'default.json');
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, unknown>;
    expect(report.track_zone_level_gaps).toStrictEqual(want.track_zone_level_gaps);
    expect(report.recommended_plan).toStrictEqual(want.recommended_plan);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('**Corpus state**: 53 questions (42 published, 8 draft). **Visual**: 3 total, 2 published.');
    expect(md).toContain('| global | realization | L6+ | 0 | 0.2 | 3.15 | 3.15 |');
  });
});

describe('release over the real sample', () => {
  it('reads the original release-policy.yaml, notes and all', async () => {
    const p = await loadPolicy(sample);
    expect(p.policy.policy_version).toBe(1);
    expect(p.policy.include.status).toEqual(['published']);
    expect((p.raw as Record<string, unknown>).notes).toContain('policy_version 1');
  });

  it('gives the same release hash twice, the Python root, and 42 published questions', async () => {
    const a = await loadReleaseSet(sample);
    expect((await loadReleaseSet(sample)).releaseHash).toBe(a.releaseHash);
    const exp = await expectedCounts(sample);
    expect(exp.count).toBe(42);
    const m = buildManifest(a, { now: new Date('2026-04-25T10:20:30.456Z') });
    expect(m).toMatchObject({ questionCount: 42, chainCount: exp.chains, conceptCount: 87, areaCount: 13 });
    expect(m.trackDistribution).toEqual(exp.tracks);
    expect(m.levelDistribution).toEqual(exp.levels);
    const py = spawnSync('python3', ['-c', PY_ROOT], { input: JSON.stringify({ docs: exp.docs, policy: a.policy.raw }), encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.stdout.trim()).toBe(a.releaseHash);
  });
});

describe('the real visuals', () => {
  it('the stored graphviz render of mobile-1871 passes the checker byte for byte (but the DOCTYPE)', () => {
    const input = readFileSync(join(sample, 'visuals/mobile/mobile-1871.svg'), 'utf8');
    const r = sanitizeSvg(input, { source: 'dot' });
    expect(r.errors).toEqual([]);
    expect(r.svg).toContain('<!-- Title: G Pages: 1 -->');
    expect(r.svg).toBe(input.replace(/<!DOCTYPE[^>]*>\n/, ''));
    expect(r.warnings).toEqual([expect.stringContaining('viewBox width 413')]);
  });

  it('the three dot sources render to SVGs that pass the checker', async () => {
    const dots = fg.sync('visuals/*/*.dot', { cwd: sample }).sort();
    expect(dots).toEqual(['visuals/cloud/cloud-2846.dot', 'visuals/edge/edge-2273.dot', 'visuals/mobile/mobile-1871.dot']);
    for (const rel of dots) {
      const [, track, file] = rel.split('/');
      const r = await renderVisual({ id: file!.replace('.dot', ''), track: track!, kind: 'dot', source: readFileSync(join(sample, rel), 'utf8'), allowPython: false });
      expect(r.ok ? '' : r.error, rel).toBe('');
      if (r.ok) expect(sanitizeSvg(r.svg, { source: 'dot' }).errors, rel).toEqual([]);
    }
  });

  it('edge-2337.py renders with real matplotlib in the sandbox', async () => {
    const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import matplotlib'], { stdio: 'ignore' }).status === 0);
    if (!python) throw new Error("no python3 with matplotlib here: install Debian's python3-matplotlib (.ci/run does)");
    const script = readFileSync(join(sample, 'visuals/edge/edge-2337.py'), 'utf8');
    expect(screenPythonScript(script)).toBeNull();
    const r = await renderMatplotlib(script, { allowPython: true, python });
    expect(r.ok ? '' : r.error).toBe('');
    if (r.ok) {
      expect(r.svg).toContain('Orin Max (204.8 GB/s)');
      expect(sanitizeSvg(r.svg, { source: 'matplotlib' }).errors).toEqual([]);
    }
  });
});
