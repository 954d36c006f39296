import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildManifest, contentHash, loadReleaseSet, manifestText, staleFields } from '../../src/release/index.js';
import { fixtureVaultDir, PROJECT_ROOT } from '../helpers/fixtures.js';
import { expectedCounts, PY_ROOT } from '../helpers/release.js';

const tmp = mkdtempSync(join(tmpdir(), 'release-manifest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('manifest over the fixture vault', () => {
  it('gives the same release hash twice, the Python root, and counts of the published questions', async () => {
    const a = await loadReleaseSet(fixtureVaultDir());
    const b = await loadReleaseSet(fixtureVaultDir());
    expect(a.releaseHash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.releaseHash).toBe(a.releaseHash);

    const exp = await expectedCounts(fixtureVaultDir());
    const m = buildManifest(a, { now: new Date('2026-04-25T10:20:30.456Z') });
    expect(m).toMatchObject({
      releaseId: 'dev',
      schemaVersion: '1',
      policyVersion: '1',
      buildDate: '2026-04-25T10:20:30Z',
      questionCount: exp.count,
      chainCount: exp.chains,
      conceptCount: 87,
      areaCount: 13,
      taxonomyVersion: '87-topics',
    });
    expect(exp.count).toBe(23);
    expect(m.trackDistribution).toEqual(exp.tracks);
    expect(m.levelDistribution).toEqual(exp.levels);
    expect(a.questions.map((q) => q.contentHash)).toEqual(a.questions.map((q) => contentHash(q.doc)));

    const py = spawnSync('python3', ['-c', PY_ROOT], { input: JSON.stringify({ docs: exp.docs, policy: a.policy.raw }), encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.stdout.trim()).toBe(a.releaseHash);

    // Byte format: Python's json.dumps(indent=2) + "\n".
    const text = manifestText(m);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "questionCount": 23,\n');
    expect(staleFields(JSON.parse(text), m)).toEqual([]);
    expect(staleFields({ ...JSON.parse(text), questionCount: 22 }, m)).toEqual(['questionCount']);
    expect(staleFields({ ...JSON.parse(text), buildDate: 'x', releaseId: 'v9' }, m)).toEqual([]);
    expect(staleFields({ ...JSON.parse(text), releaseId: 'v9' }, m, { compareReleaseId: true })).toEqual(['releaseId']);
  });
});

describe('release hash changes exactly when the published set or a leaf changes', () => {
  let dir: string;
  let h0: string;
  beforeAll(async () => {
    dir = join(tmp, 'vault');
    cpSync(fixtureVaultDir(), dir, { recursive: true });
    h0 = (await loadReleaseSet(dir)).releaseHash;
  });
  // Every edit must change the file: an edit that matched nothing would prove nothing.
  const edit = (rel: string, f: (s: string) => string) => {
    const before = readFileSync(join(dir, rel), 'utf8');
    const after = f(before);
    expect(after, rel).not.toBe(before);
    writeFileSync(join(dir, rel), after);
  };
  const hash = async () => (await loadReleaseSet(dir)).releaseHash;
  const DRAFT = 'questions/tinyml/deployment/tinyml-0405.yaml';
  const PUB = 'questions/cloud/optimization/cloud-0108.yaml';

  it('ignores drafts and non-hashed fields of published questions', async () => {
    edit(DRAFT, (s) => s.replace(/^title: .*$/m, "title: 'Edited draft title'"));
    edit(PUB, (s) => s.replace(/^math_model: .*$/m, "math_model: 'someone-else'").replace(/\n/g, '\r\n'));
    expect(await hash()).toBe(h0);
  });

  it('changes with a hashed field of a published question, and back', async () => {
    const before = readFileSync(join(dir, PUB), 'utf8');
    edit(PUB, (s) => s.replace(/^question: .*$/m, "question: 'Why is this hard?'"));
    const h1 = await hash();
    expect(h1).not.toBe(h0);
    writeFileSync(join(dir, PUB), before);
    expect(await hash()).toBe(h0);
  });

  it('changes when a draft is published or a question is excluded', async () => {
    edit(DRAFT, (s) => s.replace(/^status: draft$/m, 'status: published'));
    const h1 = await hash();
    expect(h1).not.toBe(h0);
    edit(DRAFT, (s) => s.replace(/^status: published$/m, 'status: draft'));
    expect(await hash()).toBe(h0);
    edit('release-policy.yaml', (s) => s.replace('exclude_ids: []', 'exclude_ids: [cloud-0108]'));
    const h2 = await hash();
    expect(h2).not.toBe(h0);
    expect((await loadReleaseSet(dir)).questions.length).toBe(22);
  });

  it('changes with each structural leaf file', async () => {
    const seen = new Set([h0, await hash()]);
    for (const leaf of ['taxonomy.yaml', 'chains.yaml', 'zones.yaml']) {
      writeFileSync(join(dir, leaf), 'version: 1\n');
      const h = await hash();
      expect(seen.has(h), leaf).toBe(false);
      seen.add(h);
    }
  });
});

describe('vault-loop manifest (CLI)', () => {
  it('writes the manifest, then --check exits 0 when fresh and 1 when stale or missing', async () => {
    const out = join(tmp, 'm', 'vault-manifest.json');
    const missing = cli('manifest', '--vault', fixtureVaultDir(), '--out', out, '--check');
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(/stale: .* does not exist/);

    const w = cli('manifest', '--vault', fixtureVaultDir(), '--out', out);
    expect(w.status, w.stderr).toBe(0);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    expect(written.questionCount).toBe(23);
    expect(written.releaseHash).toBe((await loadReleaseSet(fixtureVaultDir())).releaseHash);

    expect(cli('manifest', '--vault', fixtureVaultDir(), '--out', out, '--check').status).toBe(0);
    writeFileSync(out, JSON.stringify({ ...written, chainCount: written.chainCount + 1 }));
    const stale = cli('manifest', '--vault', fixtureVaultDir(), '--out', out, '--check');
    expect(stale.status).toBe(1);
    expect(stale.stdout).toContain('differs in chainCount');
  });

  it('refuses a folder that is not a vault in one line', () => {
    const r = cli('manifest', '--vault', join(tmp, 'nope'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^vault-loop: --vault .*nope: not a folder; expected a vault folder/);
  });
});
