import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectSandbox, PYTHON_DISABLED, renderMatplotlib, renderVisual, sanitizeSvg, screenPythonScript } from '../../src/visuals/index.js';
import { fixtureVaultDir } from '../helpers/fixtures.js';

/** A plotting script without matplotlib (not installed everywhere): plain file I/O to VISUAL_OUT_PATH, through the same sandbox. */
const writer = (body: string) =>
  `import os\nout = os.environ.get('VISUAL_OUT_PATH')\nwith open(out, 'w') as f:\n    f.write(${body})\n`;
const SVG = `'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><rect fill="#cfe2f3" width="10" height="10"/></svg>'`;
const escapeName = `vault-loop-escape-${process.pid}.txt`;

afterAll(async () => {
  await rm(join(tmpdir(), escapeName), { force: true });
});

describe('renderMatplotlib', () => {
  it('refuses to run anything unless python visuals are enabled', async () => {
    expect(await renderMatplotlib(writer(SVG), { allowPython: false })).toEqual({ ok: false, error: PYTHON_DISABLED });
    expect(PYTHON_DISABLED).toBe('python visuals disabled (--allow-python-visuals)');
  });

  it('runs a script in the sandbox and returns what it wrote to VISUAL_OUT_PATH, checked', async () => {
    const r = await renderVisual({ id: 'edge-9001', track: 'edge', kind: 'matplotlib', source: writer(SVG), allowPython: true });
    expect(r.ok ? '' : r.error).toBe('');
    if (r.ok) expect(r.svg).toContain('font-family="Helvetica Neue');
  });

  it('gives the script a minimal environment with HOME and cwd in its temp folder', async () => {
    process.env.VAULT_LOOP_TEST_SECRET = 'do-not-leak';
    try {
      const body = `'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><text>' + ','.join(sorted(os.environ)) + '|' + str(os.getcwd() == os.environ.get('HOME')) + '|' + str(out.startswith(os.getcwd())) + '</text></svg>'`;
      const r = await renderMatplotlib(writer(body), { allowPython: true });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const text = /<text>(.*)<\/text>/.exec(r.svg)![1]!;
      const [names, homeIsCwd, outInCwd] = text.split('|');
      expect(names!.split(',').filter((n) => n !== 'LC_CTYPE')).toEqual(['HOME', 'LANG', 'MPLBACKEND', 'MPLCONFIGDIR', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'TMPDIR', 'VISUAL_OUT_PATH']);
      expect([homeIsCwd, outInCwd]).toEqual(['True', 'True']);
    } finally {
      delete process.env.VAULT_LOOP_TEST_SECRET;
    }
  });

  it('detects a write outside the temp folder that the static screen cannot see, and blocks it', async () => {
    const script = `import os\np = os.path.join(os.getcwd(), os.pardir, '${escapeName}')\nwith open(p, 'w') as f:\n    f.write('escaped')\n`;
    expect(screenPythonScript(script)).toBeNull();
    const r = await renderMatplotlib(script, { allowPython: true });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(new RegExp(`tried to write outside its temp folder: .*${escapeName}`));
    expect(existsSync(join(tmpdir(), escapeName))).toBe(false);
  });

  it('still fails a script that swallows the blocked write and then renders', async () => {
    const script = `import os\ntry:\n    open(os.path.join(os.getcwd(), os.pardir, '${escapeName}'), 'a')\nexcept OSError:\n    pass\n${writer(SVG).replace('import os\n', '')}`;
    const r = await renderMatplotlib(script, { allowPython: true });
    expect(r.ok ? 'rendered' : r.error).toMatch(/tried to write outside/);
  });

  it('kills a script that runs past the limit, with its process group', async () => {
    const started = Date.now();
    const r = await renderMatplotlib('import os\nwhile True:\n    pass\n', { allowPython: true, timeoutMs: 800 });
    expect(r).toMatchObject({ ok: false, error: 'python script ran past the 800 ms limit; its process group was killed' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('errors when the script writes nothing, fails, or writes more than the cap', async () => {
    expect(await renderMatplotlib('import os\nx = 1\n', { allowPython: true })).toMatchObject({ ok: false, error: 'python script did not write VISUAL_OUT_PATH' });
    expect(await renderMatplotlib('import os\nraise ValueError("boom")\n', { allowPython: true })).toMatchObject({ ok: false, error: expect.stringMatching(/exit 1.*ValueError: boom/) });
    const big = await renderMatplotlib(writer(`'x' * 5000`), { allowPython: true, maxOutputBytes: 1000 });
    expect(big).toMatchObject({ ok: false, error: expect.stringMatching(/the limit is 1000/) });
  });

  it('isolates the network with unshare where permitted, else says so', () => {
    const s = detectSandbox();
    if (s.prefix.length > 0) expect(s.prefix[0]).toBe('unshare');
    else expect(s.warning).toMatch(/network isolation unavailable/);
  });

  it('renders the fixture cloud-0109.py with real matplotlib in the sandbox, to an SVG that passes the checker', async () => {
    // CI installs Debian's python3-matplotlib; the python3 first on PATH may be another interpreter.
    const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import matplotlib'], { stdio: 'ignore' }).status === 0);
    if (!python) throw new Error('no python3 with matplotlib here: install Debian\'s python3-matplotlib (.ci/run does)');
    const script = readFileSync(join(fixtureVaultDir(), 'visuals/cloud/cloud-0109.py'), 'utf8');
    expect(screenPythonScript(script)).toBeNull();
    const r = await renderMatplotlib(script, { allowPython: true, python });
    expect(r.ok ? '' : r.error).toBe('');
    if (!r.ok) return;
    expect(r.svg).toMatch(/<svg[^>]*viewBox=/);
    // The script's own labels, drawn by matplotlib.
    expect(r.svg).toContain('90% utilisation');
    const checked = sanitizeSvg(r.svg, { source: 'matplotlib' });
    expect(checked.errors).toEqual([]);
    expect(checked.svg).toContain('font-family');
  });
});

describe('screenPythonScript refuses obviously hostile scripts with a reason', () => {
  const cases: [string, string, RegExp][] = [
    ['subprocess', 'import os\nimport subprocess\nsubprocess.run(["ls"])\n', /line 2: import of "subprocess" is not allowed/],
    ['from-import of socket', 'from socket import socket\n', /import of "socket"/],
    ['os.system', 'import os\nos.system("rm -rf ~")\n', /line 2: calls a process/],
    ['shutil.rmtree', 'import os\nshutil.rmtree("x")\n', /shutil/],
    ["open('/", "import os\nopen('/etc/passwd').read()\n", /opens an absolute path/],
    ['a .. path', "import os\nopen('../../escape.txt', 'w')\n", /uses a "\.\." path/],
    ['eval', 'import os\neval("1+1")\n', /evaluates dynamic code/],
    ['__import__', 'import os\nm = __import__("o" + "s")\n', /import machinery/],
    ['patching os', 'import os\nos.path.realpath = lambda p: p\n', /assigns to a module attribute/],
    ['reading another env var', "import os\nk = os.environ['AWS_SECRET_ACCESS_KEY']\n", /environment variables other than VISUAL_OUT_PATH/],
  ];
  for (const [name, script, reason] of cases) {
    it(name, async () => {
      expect(screenPythonScript(script)).toMatch(reason);
      const r = await renderMatplotlib(script, { allowPython: true });
      expect(r).toMatchObject({ ok: false, error: expect.stringMatching(reason) });
    });
  }

  it('ignores comments and allows the usual plotting imports', () => {
    expect(screenPythonScript('import os  # no subprocess here\nimport numpy as np\nimport matplotlib.pyplot as plt\nfrom matplotlib import patches\n')).toBeNull();
  });
});
