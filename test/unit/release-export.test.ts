import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { exportCorpus, loadReleaseSet, slugTitle } from '../../src/release/index.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'release-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function q(id: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const track = id.split('-')[0]!;
  return {
    schema_version: '1.0',
    id,
    track,
    level: 'L3',
    zone: 'analyze',
    topic: 'tail-latency',
    competency_area: 'latency',
    bloom_level: 'apply',
    title: `Synthetic ${id}`,
    scenario: `Synthetic scenario for ${id} with café and 漢字.`,
    details: { realistic_solution: `Solution ${id}`, common_mistake: null, napkin_math: `Math ${id}` },
    status: 'published',
    provenance: 'human',
    ...over,
  };
}

function writeQ(vault: string, doc: Record<string, unknown>): void {
  const dir = join(vault, 'questions', doc.track as string, doc.competency_area as string);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${doc.id}.yaml`), stringify(doc));
}

// Python reads what we wrote and re-dumps it the way the original exporter did.
const PY_REDUMP = String.raw`
import json, sys
corpus = json.load(open(sys.argv[1], encoding="utf-8"))
summary = json.load(open(sys.argv[2], encoding="utf-8"))
sys.stdout.write(json.dumps({
  "corpus": json.dumps(corpus, sort_keys=True, ensure_ascii=False, indent=2) + "\n",
  "summary": json.dumps(summary, ensure_ascii=False) + "\n",
}))
`;

describe('export', () => {
  let vault: string;
  let out: string;
  beforeAll(async () => {
    vault = join(tmp, 'vault');
    writeQ(vault, q('edge-0002', { phase: 'inference', question: 'Why?', chains: [{ id: 'inline-chain', position: 4 }] }));
    writeQ(
      vault,
      q('cloud-0007', {
        bloom_level: null,
        visual: { kind: 'svg', path: 'cloud-0007.svg', alt: 'A diagram', caption: 'Cap' },
        details: { realistic_solution: 'R', common_mistake: 'C', options: ['a', 'b', 'c', 'd'], correct_index: 1, resources: [{ name: 'Doc', url: 'https://example.org', extra: 1 }] },
        validated: true,
        math_verified: false,
        human_reviewed: { status: 'verified', by: 'alice', date: '2026-04-20', notes: 'private' },
      }),
    );
    writeQ(vault, q('mobile-0003', { human_reviewed: { status: 'not-reviewed', by: null } }));
    writeQ(vault, q('tinyml-0001', { status: 'draft' }));
    writeQ(vault, q('global-0001', { status: 'deleted' }));
    writeFileSync(
      join(vault, 'chains.json'),
      JSON.stringify([
        { chain_id: 'chain-b', tier: 'secondary', questions: [{ id: 'tinyml-0001' }, { id: 'edge-0002' }] },
        { id: 'chain-a', questions: [{ id: 'edge-0002' }, { id: 'cloud-0007' }] },
      ]),
    );
    mkdirSync(join(vault, 'schema'), { recursive: true });
    writeFileSync(
      join(vault, 'schema', 'topic_chapter_map.yaml'),
      stringify({ 'tail-latency': { primary: { vol: 2, chapter: 'ml_ops' }, also_see: [{ vol: 1, chapter: 'serving' }], why: 'Queues.' } }),
    );
    out = join(tmp, 'site');
    await exportCorpus(await loadReleaseSet(vault), out);
  });

  const read = (f: string) => readFileSync(join(out, f), 'utf8');

  it('writes only published questions, sorted by id, in the site item shape', () => {
    const corpus = JSON.parse(read('corpus.json'));
    expect(corpus.map((i: { id: string }) => i.id)).toEqual(['cloud-0007', 'edge-0002', 'mobile-0003']);
    const [cloud, edge, mobile] = corpus;
    expect(cloud.bloom_level).toBe('');
    expect(cloud.visual).toEqual({ kind: 'svg', path: 'cloud-0007.svg', alt: 'A diagram', caption: 'Cap' });
    expect(cloud.details).toEqual({ common_mistake: 'C', realistic_solution: 'R', options: ['a', 'b', 'c', 'd'], correct_index: 1, resources: [{ name: 'Doc', url: 'https://example.org' }] });
    expect(cloud.validated).toBe(true);
    expect(cloud.math_verified).toBe(false);
    expect(cloud.human_reviewed).toEqual({ status: 'verified', by: 'alice', date: '2026-04-20' });
    expect(cloud.chain_ids).toEqual(['chain-a']);
    expect(cloud.chain_positions).toEqual({ 'chain-a': 1 });
    // chains.json wins over the YAML's inline chains; tier defaults to primary.
    expect(edge.chain_ids).toEqual(['chain-a', 'chain-b']);
    expect(edge.chain_positions).toEqual({ 'chain-b': 1, 'chain-a': 0 });
    expect(edge.chain_tiers).toEqual({ 'chain-b': 'secondary', 'chain-a': 'primary' });
    expect(edge).toMatchObject({ phase: 'inference', question: 'Why?', details: { common_mistake: '', napkin_math: 'Math edge-0002' } });
    expect(edge).not.toHaveProperty('visual');
    expect(mobile).not.toHaveProperty('human_reviewed');
    expect(mobile).not.toHaveProperty('chain_ids');
    expect(mobile.book_refs).toEqual([
      { vol: 2, chapter: 'ml_ops', title: 'Ml Ops', url: 'https://mlsysbook.ai/vol2/contents/vol2/ml_ops/ml_ops.html', role: 'primary', why: 'Queues.' },
      { vol: 1, chapter: 'serving', title: 'Serving', url: 'https://mlsysbook.ai/vol1/contents/vol1/serving/serving.html', role: 'also_see' },
    ]);
  });

  it('stubs the summary and keeps MCQ options', () => {
    const summary = JSON.parse(read('corpus-summary.json'));
    expect(summary).toHaveLength(3);
    expect(summary[0].scenario).toBe('');
    expect(summary[0].details).toEqual({ common_mistake: '', realistic_solution: '', napkin_math: '', options: ['a', 'b', 'c', 'd'], correct_index: 1 });
    expect(summary[1].details).toEqual({ common_mistake: '', realistic_solution: '', napkin_math: '' });
    expect(summary[2].book_refs).toHaveLength(2);
  });

  it('is byte-identical to what Python json.dumps writes for the same data', () => {
    const r = spawnSync('python3', ['-c', PY_REDUMP, join(out, 'corpus.json'), join(out, 'corpus-summary.json')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const py = JSON.parse(r.stdout);
    expect(read('corpus.json')).toBe(py.corpus);
    expect(read('corpus-summary.json')).toBe(py.summary);
    expect(read('corpus.json')).toContain('café and 漢字');
  });

  it('titles chapters like Python str.title', () => {
    expect(slugTitle('ml_systems')).toBe('Ml Systems');
    expect(slugTitle('data2vec_intro')).toBe('Data2Vec Intro');
  });

  it('runs from the CLI', () => {
    const out2 = join(tmp, 'site2');
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), 'export', '--vault', vault, '--out', out2], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('3 published questions (chains from chains.json)');
    expect(readFileSync(join(out2, 'corpus.json'), 'utf8')).toBe(read('corpus.json'));
  });
});
