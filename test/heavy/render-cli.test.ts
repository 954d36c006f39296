/**
 * `vault-loop render` through the real CLI binary, a process per call: stale means "source newer or
 * source hash changed", `--allow-python-visuals` runs a .py source and without it the source is
 * skipped with the reason, `--force`, and `rendered=N skipped=N errors=N` with exit 1 on errors.
 * (The same command in-process, and one render through the binary: test/unit/visuals-render.test.ts.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readRenderIndex, renderVault, sanitizeSvg } from '../../src/visuals/index.js';
import { copyFixtureVault } from '../helpers/fixtures.js';
import { runCli } from '../helpers/pipeline.js';

/** The fixture's cloud-0109.py needs matplotlib; this one writes its SVG with plain Python, to VISUAL_OUT_PATH. */
const PLAIN_PYTHON_SVG =
  "import os\nout = os.environ.get('VISUAL_OUT_PATH')\nwith open(out, 'w') as f:\n    f.write('<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 680 460\"><text x=\"10\" y=\"20\">' + '60 GB/s of ' + str(204.8) + ' GB/s' + '</text></svg>')\n";

describe('vault-loop render (CLI)', () => {
  let vault: string;
  const cli = (...args: string[]) => runCli(['render', '--vault', vault, ...args]);
  const abs = (rel: string) => join(vault, rel);
  const at = (year: number) => new Date(Date.UTC(year, 0, 1));
  /** Sets the vault file's access and modification times to the first of January `year`. */
  const touch = (rel: string, year: number) => utimesSync(abs(rel), at(year), at(year));
  /** `render` with `args`, which exits 0: its output. */
  const renderOk = async (...args: string[]) => {
    const r = await cli(...args);
    expect(r.code, r.out).toBe(0);
    return r.out;
  };
  const DOT = 'visuals/cloud/cloud-0104.dot';
  const DOT_SVG = 'visuals/cloud/cloud-0104.svg';
  const DOT2 = 'visuals/mobile/mobile-0304.dot';
  const DOT2_SVG = 'visuals/mobile/mobile-0304.svg';
  const PY = 'visuals/cloud/cloud-0109.py';
  const PY_SVG = 'visuals/cloud/cloud-0109.svg';

  beforeEach(() => {
    vault = copyFixtureVault(join(mkdtempSync(join(tmpdir(), 'vault-loop-render-cli-')), 'vault'));
    // The fixture's cloud-0109.py needs matplotlib; this one writes its SVG with plain Python.
    writeFileSync(abs(PY), PLAIN_PYTHON_SVG);
  });
  afterEach(() => rmSync(join(vault, '..'), { recursive: true, force: true }));

  it('a source whose mtime is newer than its SVG is re-rendered even with the same content; an older source with the same hash is skipped', async () => {
    // Rendered once already (the same code the command runs), so every dot visual has its SVG and its render record.
    // The fixture's mobile-0304.svg is removed first: a committed SVG newer than its source would be trusted, not rendered.
    rmSync(abs(DOT2_SVG));
    expect(await renderVault({ vault })).toMatchObject({ rendered: 2, errors: 0 });
    const svg = readFileSync(abs(DOT2_SVG), 'utf8');
    // cloud-0104: same source bytes, source older than its SVG. mobile-0304: same source bytes (the recorded hash),
    // source touched after its SVG, and the SVG on disk no longer what the source renders to.
    writeFileSync(abs(DOT2_SVG), svg.replace('</svg>', '<!-- edited since -->\n</svg>'));
    touch(DOT, 2001);
    touch(DOT_SVG, 2002);
    touch(DOT2_SVG, 2002);
    touch(DOT2, 2003);
    expect(await renderOk()).toMatch(/^rendered=1 skipped=2 errors=0$/m);
    expect(statSync(abs(DOT_SVG)).mtime.toISOString()).toBe(at(2002).toISOString());
    expect(statSync(abs(DOT2_SVG)).mtimeMs).toBeGreaterThan(at(2003).getTime());
    expect(readFileSync(abs(DOT2_SVG), 'utf8')).toBe(svg);

    // Touched again, and the render gives the bytes already on disk: rendered, but not rewritten (nothing to commit).
    touch(DOT2_SVG, 2002);
    touch(DOT2, 2003);
    expect(await renderOk()).toMatch(/^rendered=0 skipped=3 errors=0$/m);
    expect(statSync(abs(DOT2_SVG)).mtime.toISOString()).toBe(at(2002).toISOString());
    expect(readFileSync(abs(DOT2_SVG), 'utf8')).toBe(svg);
  });

  it('a .py source renders only with --allow-python-visuals; without it it is skipped with the reason', async () => {
    const without = await renderOk('--id', 'cloud-0109');
    expect(without).toContain('note cloud-0109: skipped, python visuals disabled (--allow-python-visuals)');
    expect(without).toMatch(/^rendered=0 skipped=1 errors=0$/m);
    expect(existsSync(abs(PY_SVG))).toBe(false);

    const allowed = await renderOk('--id', 'cloud-0109', '--allow-python-visuals');
    expect(allowed).toMatch(/^rendered=1 skipped=0 errors=0$/m);
    expect(allowed).not.toContain('python visuals disabled');
    const svg = readFileSync(abs(PY_SVG), 'utf8');
    expect(svg).toContain('60 GB/s of 204.8 GB/s');
    expect(sanitizeSvg(svg, { source: 'svg' }).errors).toEqual([]);
    expect((await readRenderIndex(vault)).entries[PY_SVG]).toMatchObject({ source: PY, kind: 'matplotlib' });
  });

  it('--force re-renders up-to-date visuals; a source that fails to render is one error line, the counts say errors=1, and the exit code is 1', async () => {
    // The fixture's mobile-0304.svg is removed first: a committed SVG newer than its source would be trusted, not rendered.
    rmSync(abs(DOT2_SVG));
    expect(await renderVault({ vault })).toMatchObject({ rendered: 2, errors: 0 });
    // Both dot visuals up to date (sources older than their SVGs, hashes as recorded), but their SVG bytes edited since:
    // a forced render that gives the bytes already on disk rewrites nothing, so these show it did render.
    for (const [src, svg] of [[DOT, DOT_SVG], [DOT2, DOT2_SVG]] as const) {
      writeFileSync(abs(svg), readFileSync(abs(svg), 'utf8').replace('</svg>', '<!-- edited since -->\n</svg>'));
      touch(src, 2001);
      touch(svg, 2002);
    }
    const unforced = await cli('--dry-run');
    expect(unforced.out).toMatch(/^would render 0.*skipped=3 errors=0/m);
    writeFileSync(abs(PY), 'import os\nraise ValueError("no plot today")\n');
    const r = await cli('--force', '--allow-python-visuals');
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/^error cloud-0109 \(visuals\/cloud\/cloud-0109\.svg\): python script failed \(exit 1\): .*ValueError: no plot today/m);
    expect(r.out).toMatch(/^rendered=2 skipped=0 errors=1$/m);
    expect(existsSync(abs(PY_SVG))).toBe(false);
    // The up-to-date dot visuals were rendered again all the same.
    expect(statSync(abs(DOT_SVG)).mtimeMs).toBeGreaterThan(at(2002).getTime());
  });
});
