import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fg from 'fast-glob';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeVault, INDEX_DIR, INDEX_FILE, parseCoverageFull, scanCoverageFast } from '../../src/analysis/index.js';
import { synthetic1kDir, vaultSampleDir } from '../helpers/fixtures.js';

const fixtureTexts = (): { path: string; text: string }[] =>
  [vaultSampleDir(), synthetic1kDir()].flatMap((root) =>
    fg.sync('questions/**/*.yaml', { cwd: root }).map((p) => ({ path: `${root}/${p}`, text: readFileSync(join(root, p), 'utf8') })),
  );

/** Deterministic PRNG so the mutation corpus is the same on every run. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

const INSERTS = ["'", '"', ':', ': ', '#', ' #', '-', '- ', '\n', '\n  ', '\n ', '{', '[', '|', '>', '  ', '\\', '&a ', '*a', '!x ', '---\n', '\t', 'key: v\n', 'track: edge\n', '  x: y\n', 'visual:\n  kind: svg\n', 'status: published\n'];

function agree(text: string): { decided: boolean } {
  const fast = scanCoverageFast(text);
  if (!fast) return { decided: false };
  const full = parseCoverageFull(text);
  const norm = (r: typeof full) => (r.ok ? { ok: true, record: r.record } : { ok: false, reason: r.reason });
  expect(norm(fast), text.slice(0, 200)).toStrictEqual(norm(full));
  return { decided: true };
}

describe('fast scanner agrees with the full YAML parser', () => {
  it('on every fixture file, and settles almost all of them itself', () => {
    const files = fixtureTexts();
    expect(files.length).toBe(1056);
    let decided = 0;
    for (const f of files) if (agree(f.text).decided) decided++;
    expect(decided).toBeGreaterThan(1000);
  });

  it('on thousands of truncated and mutated copies (decides or defers, never disagrees)', () => {
    const rnd = lcg(42);
    let decided = 0;
    let n = 0;
    for (const { text } of fixtureTexts()) {
      for (let k = 0; k < 4; k++) {
        const p = Math.floor(rnd() * text.length);
        const variant =
          k === 0
            ? text.slice(0, p)
            : k === 1
              ? text.slice(0, p) + text.slice(p + 1 + Math.floor(rnd() * 20))
              : text.slice(0, p) + INSERTS[Math.floor(rnd() * INSERTS.length)]! + text.slice(p);
        n++;
        if (agree(variant).decided) decided++;
      }
    }
    expect(n).toBe(4224);
    expect(decided).toBeGreaterThan(1500); // the comparison above really ran on many
  });

  it.each([
    ['empty', ''],
    ['only comments', '# nothing\n\n   # here\n'],
    ['unclosed flow', "id: 'x\ntrack: [unclosed\n"],
    ['unclosed quote at the end', "track: cloud\nscenario: 'never closed\n"],
    ['bad indentation', 'track: cloud\n  zone: recall\n'],
    ['plain yes', 'track: yes\n'],
    ['quoted yes', "track: 'yes'\n"],
    ['visual mapping', 'track: edge\nvisual:\n  kind: svg\n  path: x.svg\n'],
    ['visual null', 'track: edge\nvisual:\n'],
    ['visual flow {}', 'track: edge\nvisual: {}\n'],
    ['duplicate read key', 'track: edge\ntrack: cloud\n'],
    ['mapping value in plain', 'track: edge\ntitle: a: b\n'],
    ['indentless sequence', 'tags:\n- a\n- b\ntrack: mobile\n'],
    ['block scalar then key', 'notes: |\n  line one\n\n  line: two\ntrack: tinyml\n'],
    ['folded dedent error', 'notes: >\n    a\n  b\ntrack: x\n'],
    ['document start', '---\ntrack: cloud\n'],
    ['a list', '- a\n- b\n'],
    ['a scalar', 'hello\n'],
  ])('%s', (_name, text) => {
    agree(text);
    expect(parseCoverageFull(text).ok !== undefined).toBe(true);
  });

  it('reads what the analyzer needs', () => {
    expect(scanCoverageFast("track: 'cloud'\nlevel: L6+\nzone: recall\nvisual:\n  kind: svg\nstatus: draft\n")).toStrictEqual({
      ok: true,
      record: { track: 'cloud', zone: 'recall', level: 'L6+', status: 'draft', visual: {} },
    });
    expect(scanCoverageFast('')).toMatchObject({ ok: false, reason: 'empty' });
    expect(parseCoverageFull("id: 'x\ntrack: [unclosed\n")).toMatchObject({ ok: false, reason: 'yaml' });
    expect(parseCoverageFull('{}\n')).toMatchObject({ ok: false, reason: 'empty' }); // Python: `if not d`
    expect(parseCoverageFull('- a\n')).toMatchObject({ ok: false, reason: 'not-a-mapping' });
    expect(parseCoverageFull('track: !x cloud\n')).toMatchObject({ ok: false, reason: 'yaml' }); // safe_load refuses unknown tags
    expect(parseCoverageFull('track: cloud\ntrack: edge\n')).toMatchObject({ ok: true, record: { track: 'edge' } }); // last wins
  });
});

describe('analysis index (warm runs)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vl-analysis-index-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const q = (track: string, id: number, zone = 'recall', level = 'L1') =>
    `schema_version: '1.0'\nid: ${track}-${id}\ntrack: ${track}\nlevel: ${level}\nzone: ${zone}\ntopic: duty-cycling\ncompetency_area: power\nstatus: published\n`;

  it('re-reads only changed and new files, drops deleted ones, and gives the cold answer', async () => {
    const dir = join(tmp, 'v1');
    mkdirSync(join(dir, 'questions', 'edge', 'power'), { recursive: true });
    for (let i = 0; i < 30; i++) writeFileSync(join(dir, 'questions', 'edge', 'power', `edge-${i}.yaml`), q('edge', i));
    writeFileSync(join(dir, 'questions', 'edge', 'power', 'broken.yaml'), "id: 'x\ntrack: [\n");

    const cold = await analyzeVault(dir, { strategy: 'reference', total: 10 });
    expect(cold.stats.index).toBe('absent');
    expect(cold.stats.read).toBe(31);
    expect(cold.stats.records).toBe(30);
    expect(cold.stats.skipped.map((s) => s.reason)).toEqual(['yaml']);
    expect(cold.stats.indexWritten).toBe(true);

    const same = await analyzeVault(dir, { strategy: 'reference', total: 10 });
    expect(same.stats).toMatchObject({ index: 'loaded', read: 0, fromIndex: 31, indexWritten: false });

    // Change one (new content and mtime), add one, delete one.
    const f3 = join(dir, 'questions', 'edge', 'power', 'edge-3.yaml');
    writeFileSync(f3, q('edge', 3, 'mastery', 'L6+'));
    utimesSync(f3, new Date(), new Date(Date.now() + 5000));
    writeFileSync(join(dir, 'questions', 'edge', 'power', 'mobile-99.yaml'), q('mobile', 99));
    unlinkSync(join(dir, 'questions', 'edge', 'power', 'edge-7.yaml'));
    const warm = await analyzeVault(dir, { strategy: 'reference', total: 10 });
    expect(warm.stats).toMatchObject({ index: 'loaded', read: 2, fromIndex: 29, dropped: 1, indexWritten: true });

    const fresh = await analyzeVault(dir, { strategy: 'reference', total: 10, useIndex: false });
    expect(fresh.stats.index).toBe('disabled');
    const strip = (r: typeof fresh.report) => ({ ...r, generated_at: '' });
    expect(strip(warm.report)).toStrictEqual(strip(fresh.report));
    const mastery = warm.report.track_zone_level_gaps.find((r) => r.track === 'edge' && r.zone === 'mastery' && r.level === 'L6+');
    expect(mastery?.actual).toBe(1);
  });

  it('ignores a corrupt or foreign-version index and rebuilds it', async () => {
    const dir = join(tmp, 'v2');
    mkdirSync(join(dir, 'questions', 'cloud'), { recursive: true });
    writeFileSync(join(dir, 'questions', 'cloud', 'a.yaml'), q('cloud', 1));
    mkdirSync(join(dir, INDEX_DIR));
    const indexFile = join(dir, INDEX_DIR, INDEX_FILE);
    writeFileSync(indexFile, '{ not json');
    const a = await analyzeVault(dir, { strategy: 'reference' });
    expect(a.stats).toMatchObject({ index: 'corrupt', read: 1, records: 1, indexWritten: true });
    expect(JSON.parse(readFileSync(indexFile, 'utf8')).version).toBe(1);

    writeFileSync(indexFile, JSON.stringify({ version: 1, entries: { 'questions/cloud/a.yaml': ['bogus'] } }));
    expect((await analyzeVault(dir, { strategy: 'reference' })).stats).toMatchObject({ index: 'corrupt', read: 1 });

    writeFileSync(indexFile, JSON.stringify({ version: 999, entries: {} }));
    expect((await analyzeVault(dir, { strategy: 'reference' })).stats).toMatchObject({ index: 'stale-version', read: 1 });
    expect((await analyzeVault(dir, { strategy: 'reference' })).stats).toMatchObject({ index: 'loaded', read: 0 });
  });
});
