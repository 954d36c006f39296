import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fg from 'fast-glob';
import { describe, expect, it } from 'vitest';
import { parseCoverageFull, scanCoverageFast } from '../../src/analysis/index.js';
import { fixtureVaultDir, synthetic1kDir } from '../helpers/fixtures.js';

const fixtureTexts = (): { path: string; text: string }[] =>
  [fixtureVaultDir(), synthetic1kDir()].flatMap((root) =>
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
    expect(files.length).toBe(1038);
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
    expect(n).toBe(4 * 1038);
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

// The index and warm runs are tested in analysis-warm.test.ts.
