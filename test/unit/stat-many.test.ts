/**
 * The native many-stats addon (native/stat-many.c, src/analysis/stat-many.ts): the numbers it
 * gives are the ones `fs.statSync` gives, so an index written with it is trusted without it and
 * the other way round. Built by `npm ci` where a C compiler is (this machine); without it,
 * statMany answers undefined and the analyzer stats file by file, with the same results.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasNativeStat, statMany } from '../../src/analysis/stat-many.js';
import { fixtureVaultDir, PROJECT_ROOT } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-stat-many-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CLI = join(PROJECT_ROOT, 'bin', 'vault-loop.js');

describe('statMany', () => {
  const dir = join(tmp, 'files');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'a.yaml'), 'track: cloud\n');
  writeFileSync(join(dir, 'sub', 'é-ü-🚀.yaml'), 'x'.repeat(5000));
  writeFileSync(join(dir, `${'long-'.repeat(50)}.yaml`), ''); // a name longer than the addon's first buffer
  symlinkSync(join(dir, 'a.yaml'), join(dir, 'link.yaml'));
  const paths = ['a.yaml', 'sub/é-ü-🚀.yaml', `${'long-'.repeat(50)}.yaml`, 'link.yaml', 'sub', 'missing.yaml', 'a.yaml/not-a-dir', 'nul\u0000.yaml'];

  it('gives, for each path, the size, mtimeMs, ctimeMs and inode statSync gives (size -1 when statSync finds nothing)', () => {
    const got = statMany(`${dir}/`, paths);
    if (!hasNativeStat()) {
      // No compiler where this clone was installed: the analyzer takes statSync's path.
      expect(got).toBeUndefined();
      return;
    }
    expect(got).toBeInstanceOf(Float64Array);
    expect(got!.length).toBe(paths.length * 4);
    paths.forEach((p, i) => {
      let st;
      try {
        st = statSync(join(dir, p), { throwIfNoEntry: false });
      } catch {
        st = undefined; // a NUL in the name: Node refuses the path; the addon reports it not found
      }
      const row = [...got!.subarray(i * 4, i * 4 + 4)];
      expect(row, p).toEqual(st ? [st.size, st.mtimeMs, st.ctimeMs, st.ino] : [-1, 0, 0, 0]);
    });
  });

  it('is built where CI runs (.ci/run installs the compiler): there the tests above take the addon\'s path', () => {
    // A clone installed without a C compiler falls back (the tests above check that case then).
    expect(hasNativeStat() || !process.env.CI).toBe(true);
  });

  it('takes a range of the paths, and refuses arguments of the wrong kind', () => {
    if (!hasNativeStat()) {
      expect(statMany(`${dir}/`, paths, 1, 3)).toBeUndefined();
      return;
    }
    const all = statMany(`${dir}/`, paths)!;
    expect([...statMany(`${dir}/`, paths, 1, 3)!]).toEqual([...all.subarray(4, 12)]);
    expect(statMany(`${dir}/`, paths, 2, 2)!.length).toBe(0);
    expect(() => statMany(`${dir}/`, paths, 3, 2)).toThrow(TypeError);
    expect(() => statMany(`${dir}/`, paths, 0, paths.length + 1)).toThrow(TypeError);
    expect(() => statMany(7 as unknown as string, paths)).toThrow(TypeError);
  });
});

describe('an index written with the addon is trusted without it, and the other way round', () => {
  const analyze = (vault: string, native: '0' | '1') => {
    const r = spawnSync(process.execPath, [CLI, 'analyze', '--vault', vault, '--out', join(tmp, `report-${native}`)], {
      encoding: 'utf8',
      env: { ...process.env, VAULT_LOOP_NATIVE: native, VAULT_LOOP_LOG_LEVEL: 'silent' },
    });
    expect(r.status, r.stderr).toBe(0);
    const m = /\((?:[^;]*); strategy \w+; (\d+) files, (\d+) skipped, (\d+) read, (\d+) from index/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    return { files: Number(m![1]), read: Number(m![3]), fromIndex: Number(m![4]), report: r.stdout.split('\n').slice(1).join('\n') };
  };

  it('reads no file again when a process without the addon follows one with it, and none the other way', async () => {
    const vault = join(tmp, 'vault');
    cpSync(fixtureVaultDir(), vault, { recursive: true });
    await new Promise((r) => setTimeout(r, 2200)); // past the racy window: every file trusted once recorded
    const cold = analyze(vault, '1');
    expect(cold.read).toBe(cold.files);
    const without = analyze(vault, '0');
    expect(without).toMatchObject({ read: 0, fromIndex: cold.files });
    rmSync(join(vault, '.vault-loop'), { recursive: true });
    analyze(vault, '0');
    const withAddon = analyze(vault, '1');
    expect(withAddon).toMatchObject({ read: 0, fromIndex: cold.files });
    expect(withAddon.report.replace(/report-1/g, 'report-0')).toBe(without.report);
  });
});
