/**
 * The python visual sandbox against a hostile script that gets past the static screen (paths built
 * with chr(47), reads rather than writes): nothing of the machine, the parent process or its
 * environment reaches the SVG; memory is capped; the network is gone; no launcher, no run.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderMatplotlib, sandboxFor, screenPythonScript } from '../../src/visuals/index.js';

const FAKE_KEY = 'sk-test-FAKE-0123456789abcdef';

/** A script that tries `attempts` (python expressions yielding text) and writes every answer into its SVG. */
function spy(attempts: Record<string, string>): string {
  const lines = ['import os', 'S = chr(47)', 'found = []', 'def grab(name, f):', '    try:', '        found.append(name + "=" + str(f()))', '    except Exception as e:', '        found.append(name + "!" + type(e).__name__)'];
  for (const [name, expr] of Object.entries(attempts)) lines.push(`grab(${JSON.stringify(name)}, lambda: ${expr})`);
  lines.push(
    "out = os.environ.get('VISUAL_OUT_PATH')",
    "text = ' | '.join(found).replace('&', '&amp;').replace('<', '&lt;').replace('\\x00', ' ')",
    "with open(out, 'w') as f:",
    "    f.write('<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 680 460\"><text>' + text + '</text></svg>')",
  );
  return lines.join('\n') + '\n';
}

const read = (path: string) => `open(${path}, 'rb').read().decode('latin-1')`;
const p = (...parts: string[]) => `S + S.join([${parts.map((x) => JSON.stringify(x)).join(', ')}])`;

describe('the bubblewrap sandbox holds against reads, environment leaks and memory bombs', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = FAKE_KEY;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved;
  });

  it('leaks neither /etc/passwd, /proc/<parent>/environ, /proc/1/environ nor the environment, though the screen lets the script through', async () => {
    const script = spy({
      passwd: read(p('etc', 'passwd')),
      parentEnviron: read(`S + 'proc' + S + str(os.getppid()) + S + 'environ'`),
      hostParent: read(p('proc', String(process.pid), 'environ')),
      pid1Environ: read(p('proc', '1', 'environ')),
      allEnvirons: `[open(S + 'proc' + S + d + S + 'environ', 'rb').read() for d in os.listdir(S + 'proc') if d.isdigit()]`,
      env: 'dict(os.environ)',
      root: 'sorted(os.listdir(S))',
      etc: `sorted(os.listdir(S + 'etc'))`,
      home: `os.listdir(S + 'root')`,
      cwdParent: `os.listdir(os.path.join(os.getcwd(), os.pardir))`,
      pids: `sorted(d for d in os.listdir(S + 'proc') if d.isdigit())`,
      netdev: read(p('proc', 'net', 'dev')),
    });
    // The screen cannot see these paths: the OS sandbox is what holds.
    expect(screenPythonScript(script)).toBeNull();
    const r = await renderMatplotlib(script, { allowPython: true, timeoutMs: 30_000 });
    expect(r.ok ? '' : r.error).toBe('');
    if (!r.ok) return;
    const svg = r.svg;
    expect(svg).not.toContain(FAKE_KEY);
    expect(svg).not.toContain('OPENAI_API_KEY');
    expect(svg).not.toMatch(/root:x:0:0/);
    expect(svg).toContain('passwd!FileNotFoundError');
    expect(svg).toContain('hostParent!FileNotFoundError');
    // PID 1 in the sandbox is bubblewrap's, started with an empty environment.
    expect(svg).toMatch(/pid1Environ= \|/);
    // Only the sandbox's own processes are visible.
    const pids = /pids=\[([^\]]*)\]/.exec(svg)![1]!.split(',').map((s) => Number(s.trim().replaceAll("'", '')));
    expect(Math.max(...pids)).toBeLessThan(10);
    expect(svg).toMatch(/etc=\['alternatives', 'ld\.so\.cache'(, 'matplotlibrc')?\]/);
    expect(svg).toContain('home!FileNotFoundError');
    // The work folder's parent is the sandbox root, not the host's temp folder.
    expect(svg).not.toMatch(/vault-loop-visual-/);
    // No network but loopback.
    expect(/netdev=([^|]*)/.exec(svg)![1]).not.toMatch(/eth|ens|enp|wlan|docker|veth/);
  });

  it('caps memory: a 1 GiB allocation fails with a clear error', async () => {
    const script = "import os\nb = bytearray(1024**3)\nwith open(os.environ.get('VISUAL_OUT_PATH'), 'w') as f:\n    f.write('<svg/>')\n";
    expect(screenPythonScript(script)).toBeNull();
    const r = await renderMatplotlib(script, { allowPython: true, timeoutMs: 30_000 });
    expect(r).toMatchObject({ ok: false, error: 'python script ran out of memory; the limit is 1024 MiB' });
  });

  it('caps CPU time', async () => {
    const r = await renderMatplotlib('import os\nwhile True:\n    pass\n', { allowPython: true, timeoutMs: 1000 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/CPU time|ran past the 1000 ms limit/);
  });

  it('refuses to run anything, and says why, where the launcher is missing', async () => {
    const r = await renderMatplotlib("import os\nopen(os.environ.get('VISUAL_OUT_PATH'), 'w').write('<svg/>')\n", { allowPython: true, sandbox: '/nonexistent/bwrap' });
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/^python visual not run: python visuals need the bubblewrap sandbox, and "\/nonexistent\/bwrap" was not found/) });
    const s = sandboxFor('/nonexistent/bwrap');
    expect(s.ok).toBe(false);
  });

  it('refuses where the launcher cannot create a sandbox', async () => {
    // A launcher that exists but fails as bwrap does where user namespaces are forbidden.
    const r = await renderMatplotlib("import os\nopen(os.environ.get('VISUAL_OUT_PATH'), 'w').write('<svg/>')\n", { allowPython: true, sandbox: '/bin/false' });
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/could not start one here/) });
  });
});
