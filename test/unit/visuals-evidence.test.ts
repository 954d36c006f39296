/**
 * Evidence for issue #6 (visuals) outside the pipeline:
 *  - the python sandbox keeps scripts off the network: a script that tries to reach a server the
 *    test runs on 127.0.0.1 never reaches it and its render fails with the reason; where `unshare -n`
 *    is permitted the script runs in a network namespace of its own;
 *  - `vault-loop render` through the real CLI binary: stale means "source newer or source hash
 *    changed", `--allow-python-visuals` runs a .py source and without it the source is skipped with
 *    the reason, `--force`, and `rendered=N skipped=N errors=N` with exit 1 on errors.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readRenderIndex, sandboxFor, renderMatplotlib, renderVault, sanitizeSvg, screenPythonScript } from '../../src/visuals/index.js';
import { vaultSampleDir } from '../helpers/fixtures.js';
import { runCli } from '../helpers/pipeline.js';

/** A plain-Python "plotting" script (matplotlib is not installed here): it writes SVG text to VISUAL_OUT_PATH. */
const svgWriter = (text: string, pre = '') =>
  `import os\n${pre}out = os.environ.get('VISUAL_OUT_PATH')\nwith open(out, 'w') as f:\n    f.write('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><text x="10" y="20">' + ${text} + '</text></svg>')\n`;

describe('python sandbox: no network', () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((s) => {
      connections++;
      s.end('hello from the test server\n');
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((res) => server.close(() => res()));
  });

  it('a script that imports socket to reach a server on 127.0.0.1 is refused before it runs; the server sees no connection', async () => {
    const script = `import os\nimport socket\ns = socket.create_connection(('127.0.0.1', ${port}), timeout=5)\n${svgWriter("s.recv(64).decode()").replace('import os\n', '')}`;
    const r = await renderMatplotlib(script, { allowPython: true, timeoutMs: 20_000 });
    expect(r).toMatchObject({ ok: false, error: 'python script line 2: import of "socket" is not allowed (allowed: os, math, matplotlib, numpy, mpl_toolkits, collections, itertools, functools, typing, dataclasses, textwrap, string, statistics, decimal, fractions, random, json, enum, __future__)' });
    expect(connections).toBe(0);
  });

  it('a script that reaches for a socket past the static screen still cannot connect to a server on 127.0.0.1; the render fails saying so', async () => {
    // No import statement and no "socket" word: the screen lets it through, so the run-time layers must stop it.
    const script = svgWriter(
      "str(s.recv(64))",
      `b = getattr(os, 'sy' + 's').modules['bu' + 'iltins']\nnet = getattr(b, '__im' + 'port__')('so' + 'cket')\ns = getattr(net, 'sock' + 'et')()\ns.settimeout(5)\ns.connect(('127.0.0.1', ${port}))\n`,
    );
    expect(screenPythonScript(script)).toBeNull();
    const r = await renderMatplotlib(script, { allowPython: true, timeoutMs: 20_000 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/^python script failed \(exit 1\): .*PermissionError: vault-loop sandbox: socket\.connect is not allowed/);
    expect(r.error).toContain(`blocked: socket.connect`);
    expect(r.error).toContain(`('127.0.0.1', ${port})`);
    expect(connections).toBe(0);
  });

  it('where unshare -n is permitted the script runs in a network namespace of its own: the test server listening on 127.0.0.1 does not exist there', async () => {
    const sandbox = sandboxFor();
    // The listening socket, as this process's network namespace lists it (/proc/net/tcp: local address in hex).
    const listening = (tcp: string) => tcp.split('\n').some((l) => new RegExp(`^\\s*\\d+: 0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A `).test(l));
    expect(listening(readFileSync('/proc/net/tcp', 'utf8'))).toBe(true);
    // The script reads (it may read, never write) its own view of the network and reports it in the SVG.
    const script = svgWriter(
      "tcp + '|' + ','.join(devs)",
      "with open(os.path.join(os.sep, 'proc', 'net', 'tcp')) as t:\n    tcp = t.read().replace('\\n', ';')\nwith open(os.path.join(os.sep, 'proc', 'net', 'dev')) as d:\n    devs = [l.split(':')[0].strip() for l in d.read().splitlines()[2:]]\n",
    );
    const r = await renderMatplotlib(script, { allowPython: true, timeoutMs: 20_000 });
    expect(r.ok ? '' : r.error).toBe('');
    if (!r.ok) return;
    const [tcp, devs] = /<text[^>]*>([^<]*)<\/text>/.exec(r.svg)![1]!.split('|');
    expect(sandbox.ok).toBe(true);
    {
      expect(listening(tcp!.replaceAll(';', '\n'))).toBe(false);
      // Only a loopback interface, and it has carried nothing.
      expect(devs).toBe('lo');
      expect(r.warnings).toEqual([]);
    }
    expect(connections).toBe(0);
  });
});

describe('vault-loop render (CLI)', () => {
  let vault: string;
  const cli = (...args: string[]) => runCli(['render', '--vault', vault, ...args]);
  const abs = (rel: string) => join(vault, rel);
  const at = (year: number) => new Date(Date.UTC(year, 0, 1));
  const DOT = 'visuals/cloud/cloud-2846.dot';
  const DOT_SVG = 'visuals/cloud/cloud-2846.svg';
  const DOT2 = 'visuals/mobile/mobile-1871.dot';
  const DOT2_SVG = 'visuals/mobile/mobile-1871.svg';
  const PY = 'visuals/edge/edge-2337.py';
  const PY_SVG = 'visuals/edge/edge-2337.svg';

  beforeEach(() => {
    vault = join(mkdtempSync(join(tmpdir(), 'vault-loop-render-cli-')), 'vault');
    cpSync(join(vaultSampleDir(), 'questions'), join(vault, 'questions'), { recursive: true });
    cpSync(join(vaultSampleDir(), 'visuals'), join(vault, 'visuals'), { recursive: true });
    // The sample's edge-2337.py needs matplotlib; this one writes its SVG with plain Python.
    writeFileSync(abs(PY), svgWriter("'60 GB/s of ' + str(204.8) + ' GB/s'"));
  });
  afterEach(() => rmSync(join(vault, '..'), { recursive: true, force: true }));

  it('a source whose mtime is newer than its SVG is re-rendered even with the same content; an older source with the same hash is skipped', async () => {
    // Rendered once already (the same code the command runs), so every dot visual has its SVG and its render record.
    expect(await renderVault({ vault })).toMatchObject({ rendered: 2, errors: 0 });
    const svg = readFileSync(abs(DOT2_SVG), 'utf8');
    // cloud-2846: same bytes, source older than its SVG. mobile-1871: same bytes, source touched after its SVG.
    utimesSync(abs(DOT), at(2001), at(2001));
    utimesSync(abs(DOT_SVG), at(2002), at(2002));
    utimesSync(abs(DOT2_SVG), at(2002), at(2002));
    utimesSync(abs(DOT2), at(2003), at(2003));
    const r = await cli();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^rendered=1 skipped=2 errors=0$/m);
    expect(statSync(abs(DOT_SVG)).mtime.toISOString()).toBe(at(2002).toISOString());
    expect(statSync(abs(DOT2_SVG)).mtimeMs).toBeGreaterThan(at(2003).getTime());
    expect(readFileSync(abs(DOT2_SVG), 'utf8')).toBe(svg);
  });

  it('a .py source renders only with --allow-python-visuals; without it it is skipped with the reason', async () => {
    const without = await cli('--id', 'edge-2337');
    expect(without.code, without.out).toBe(0);
    expect(without.out).toContain('note edge-2337: skipped, python visuals disabled (--allow-python-visuals)');
    expect(without.out).toMatch(/^rendered=0 skipped=1 errors=0$/m);
    expect(existsSync(abs(PY_SVG))).toBe(false);

    const allowed = await cli('--id', 'edge-2337', '--allow-python-visuals');
    expect(allowed.code, allowed.out).toBe(0);
    expect(allowed.out).toMatch(/^rendered=1 skipped=0 errors=0$/m);
    expect(allowed.out).not.toContain('python visuals disabled');
    const svg = readFileSync(abs(PY_SVG), 'utf8');
    expect(svg).toContain('60 GB/s of 204.8 GB/s');
    expect(sanitizeSvg(svg, { source: 'svg' }).errors).toEqual([]);
    expect((await readRenderIndex(vault)).entries[PY_SVG]).toMatchObject({ source: PY, kind: 'matplotlib' });
  });

  it('--force re-renders up-to-date visuals; a source that fails to render is one error line, the counts say errors=1, and the exit code is 1', async () => {
    expect(await renderVault({ vault })).toMatchObject({ rendered: 2, errors: 0 });
    utimesSync(abs(DOT_SVG), at(2002), at(2002));
    writeFileSync(abs(PY), 'import os\nraise ValueError("no plot today")\n');
    const r = await cli('--force', '--allow-python-visuals');
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/^error edge-2337 \(visuals\/edge\/edge-2337\.svg\): python script failed \(exit 1\): .*ValueError: no plot today/m);
    expect(r.out).toMatch(/^rendered=2 skipped=0 errors=1$/m);
    expect(existsSync(abs(PY_SVG))).toBe(false);
    // The up-to-date dot visuals were rendered again all the same.
    expect(statSync(abs(DOT_SVG)).mtimeMs).toBeGreaterThan(at(2002).getTime());
  });
});
