import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVault } from '../../src/corpus/loader.js';
import { buildManifest, contentHash, loadReleaseSet, manifestText, staleFields } from '../../src/release/index.js';
import { PROJECT_ROOT, vaultSampleDir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'release-manifest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The published questions of the sample, counted without the release module. */
async function expectedCounts(dir: string) {
  const { files } = await loadVault(dir);
  const pub = files.filter((f) => f.doc?.status === 'published').map((f) => f.doc!);
  const tally = (k: string) => pub.reduce<Record<string, number>>((acc, d) => ({ ...acc, [String(d[k])]: (acc[String(d[k])] ?? 0) + 1 }), {});
  const chains = new Set(pub.flatMap((d) => (Array.isArray(d.chains) ? d.chains.map((c: { id: string }) => c.id) : [])));
  return { docs: pub, count: pub.length, tracks: tally('track'), levels: tally('level'), chains: chains.size };
}

// python3 (stdlib) recomputes the release root of the sample from the same parsed documents.
const PY_ROOT = String.raw`
import hashlib, json, sys, unicodedata
WL = {"id","title","track","level","zone","topic","competency_area","bloom_level","phase","chains","status","scenario","question","details","tags","provenance"}
def norm(o):
    if isinstance(o, str): return unicodedata.normalize("NFC", o).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    if isinstance(o, dict): return {k: norm(v) for k, v in o.items()}
    if isinstance(o, list): return [norm(v) for v in o]
    return o
h = lambda o: hashlib.sha256(json.dumps(norm(o), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()
inp = json.load(sys.stdin)
leaves = sorted((d["id"], h({k: d[k] for k in WL if d.get(k) is not None})) for d in inp["docs"])
leaves += [("__taxonomy__", h({})), ("__chains__", h({})), ("__zones__", h({})), ("__policy__", h(inp["policy"])), ("__canon_version__", hashlib.sha256(b"canon-v2").hexdigest())]
print(hashlib.sha256(b"\n".join(("%s:%s" % l).encode() for l in leaves)).hexdigest())
`;

describe('manifest over fixtures/vault-sample', () => {
  it('gives the same release hash twice, the Python root, and counts of the published questions', async () => {
    const a = await loadReleaseSet(vaultSampleDir());
    const b = await loadReleaseSet(vaultSampleDir());
    expect(a.releaseHash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.releaseHash).toBe(a.releaseHash);

    const exp = await expectedCounts(vaultSampleDir());
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
    expect(exp.count).toBe(42);
    expect(m.trackDistribution).toEqual(exp.tracks);
    expect(m.levelDistribution).toEqual(exp.levels);
    expect(a.questions.map((q) => q.contentHash)).toEqual(a.questions.map((q) => contentHash(q.doc)));

    const py = spawnSync('python3', ['-c', PY_ROOT], { input: JSON.stringify({ docs: exp.docs, policy: a.policy.raw }), encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.stdout.trim()).toBe(a.releaseHash);

    // Byte format: Python's json.dumps(indent=2) + "\n".
    const text = manifestText(m);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "questionCount": 42,\n');
    expect(staleFields(JSON.parse(text), m)).toEqual([]);
    expect(staleFields({ ...JSON.parse(text), questionCount: 41 }, m)).toEqual(['questionCount']);
    expect(staleFields({ ...JSON.parse(text), buildDate: 'x', releaseId: 'v9' }, m)).toEqual([]);
    expect(staleFields({ ...JSON.parse(text), releaseId: 'v9' }, m, { compareReleaseId: true })).toEqual(['releaseId']);
  });
});

describe('release hash changes exactly when the published set or a leaf changes', () => {
  let dir: string;
  let h0: string;
  beforeAll(async () => {
    dir = join(tmp, 'vault');
    cpSync(vaultSampleDir(), dir, { recursive: true });
    h0 = (await loadReleaseSet(dir)).releaseHash;
  });
  const edit = (rel: string, f: (s: string) => string) => writeFileSync(join(dir, rel), f(readFileSync(join(dir, rel), 'utf8')));
  const hash = async () => (await loadReleaseSet(dir)).releaseHash;
  const DRAFT = 'questions/tinyml/power/tinyml-1535.yaml';
  const PUB = 'questions/cloud/architecture/cloud-0231.yaml';

  it('ignores drafts and non-hashed fields of published questions', async () => {
    edit(DRAFT, (s) => s.replace(/^title: .*$/m, "title: 'Edited draft title'"));
    edit(PUB, (s) => s.replace(/^validation_model: .*$/m, "validation_model: 'someone-else'").replace(/\n/g, '\r\n'));
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
    edit('release-policy.yaml', (s) => s.replace('exclude_ids: []', 'exclude_ids: [cloud-0231]'));
    const h2 = await hash();
    expect(h2).not.toBe(h0);
    expect((await loadReleaseSet(dir)).questions.length).toBe(41);
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
    const missing = cli('manifest', '--vault', vaultSampleDir(), '--out', out, '--check');
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(/stale: .* does not exist/);

    const w = cli('manifest', '--vault', vaultSampleDir(), '--out', out);
    expect(w.status, w.stderr).toBe(0);
    const written = JSON.parse(readFileSync(out, 'utf8'));
    expect(written.questionCount).toBe(42);
    expect(written.releaseHash).toBe((await loadReleaseSet(vaultSampleDir())).releaseHash);

    expect(cli('manifest', '--vault', vaultSampleDir(), '--out', out, '--check').status).toBe(0);
    writeFileSync(out, JSON.stringify({ ...written, chainCount: written.chainCount + 1 }));
    const stale = cli('manifest', '--vault', vaultSampleDir(), '--out', out, '--check');
    expect(stale.status).toBe(1);
    expect(stale.stdout).toContain('differs in chainCount');
  });

  it('refuses a folder that is not a vault in one line', () => {
    const r = cli('manifest', '--vault', join(tmp, 'nope'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^vault-loop: --vault .*nope: not a folder; expected a vault folder/);
  });
});
