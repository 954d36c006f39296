/**
 * Only regular files inside the real vault: FIFOs (directly or through a symlink) are reported,
 * never waited on; questions/ or visuals/ that resolve outside the vault stop a command before it
 * reads or spends anything; NUL and other control characters in fields are validation errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeVault } from '../../src/analysis/index.js';
import { vaultFoldersProblem } from '../../src/corpus/loader.js';
import { validateVault } from '../../src/corpus/validate.js';
import { NotRegularFileError, readRegularFile } from '../../src/util/files.js';
import { freshVault } from '../helpers/pipeline.js';

function firstQuestion(vault: string): { dir: string; file: string } {
  const track = readdirSync(join(vault, 'questions'))[0]!;
  const area = readdirSync(join(vault, 'questions', track))[0]!;
  const dir = join(vault, 'questions', track, area);
  return { dir, file: readdirSync(dir).find((f) => f.endsWith('.yaml'))! };
}

function mkfifo(path: string): void {
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
}

describe('FIFOs, devices and sockets are never opened for reading', () => {
  it('readRegularFile refuses a FIFO, a symlink to one and a device without blocking', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vl-fifo-'));
    mkfifo(join(dir, 'pipe'));
    symlinkSync(join(dir, 'pipe'), join(dir, 'link'));
    for (const p of [join(dir, 'pipe'), join(dir, 'link'), '/dev/zero']) {
      await expect(readRegularFile(p)).rejects.toBeInstanceOf(NotRegularFileError);
    }
  });

  it('validate and analyze finish on a vault holding a symlink to a FIFO and a FIFO named .yaml, and name them', async () => {
    const vault = await freshVault(12, 4);
    const { dir } = firstQuestion(vault);
    const outside = mkdtempSync(join(tmpdir(), 'vl-fifo-'));
    mkfifo(join(outside, 'pipe'));
    mkfifo(join(vault, 'pipe-in-vault'));
    symlinkSync(join(vault, 'pipe-in-vault'), join(dir, 'linked-pipe.yaml'));
    mkfifo(join(dir, 'plain-pipe.yaml'));
    const v = await validateVault(vault);
    expect(v.problems.find((p) => p.path.endsWith('linked-pipe.yaml'))).toMatchObject({ severity: 'error', code: 'not-a-file' });
    const a = await analyzeVault(vault, { useIndex: false });
    expect(a.stats.skipped.map((s) => s.path).join(' ')).not.toMatch(/plain-pipe/);
  });
});

describe('questions/ and visuals/ must really be inside the vault', () => {
  it('a questions/ symlink out of the vault is refused before anything is read', async () => {
    const vault = await freshVault(6, 2);
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'vl-out-')), 'questions');
    renameSync(join(vault, 'questions'), elsewhere);
    symlinkSync(elsewhere, join(vault, 'questions'));
    expect(vaultFoldersProblem(vault)).toMatch(/questions resolves to .*, outside the vault .*make questions\/ a real folder/);
  });

  it('a symlink inside the vault is fine', async () => {
    const vault = await freshVault(6, 2);
    renameSync(join(vault, 'questions'), join(vault, 'q-real'));
    symlinkSync('q-real', join(vault, 'questions'));
    expect(vaultFoldersProblem(vault)).toBeNull();
  });
});

describe('control characters in fields', () => {
  it('a NUL byte in a field is a validation error naming the field and line, and analysis does not count the file', async () => {
    const vault = await freshVault(6, 2);
    const { dir, file } = firstQuestion(vault);
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    const withNul = text.replace(/^(title: .*?)$/m, '$1\u0000hidden');
    expect(withNul).not.toBe(text);
    writeFileSync(path, withNul);
    const v = await validateVault(vault);
    const p = v.problems.find((x) => path.endsWith(x.path));
    expect(p).toMatchObject({ severity: 'error', code: 'control-character', message: expect.stringMatching(/field title contains the control character U\+0000/) });
    expect(p!.line).toBeGreaterThan(0);
    const a = await analyzeVault(vault, { useIndex: false });
    expect(a.stats.skipped).toContainEqual(expect.objectContaining({ reason: 'control-character' }));
  });

  it('an escaped control character in a quoted field is caught too', async () => {
    const vault = await freshVault(6, 2);
    const { dir, file } = firstQuestion(vault);
    const path = join(dir, file);
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^title: .*$/m, 'title: "bell \\a here"'));
    const v = await validateVault(vault);
    expect(v.problems.find((x) => path.endsWith(x.path))).toMatchObject({ code: 'control-character', message: expect.stringMatching(/U\+0007/) });
  });
});
