/** The CLI on hostile vault files: a symlink to a FIFO does not hang `validate`; a questions/ link out of the vault stops `validate`, `analyze` and `run` before any call. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, renameSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshVault, runCli } from '../helpers/pipeline.js';

describe('vault files through the CLI', () => {
  it('validate names a symlink to a FIFO and exits 1 instead of hanging', async () => {
    const vault = await freshVault(12, 4);
    const track = readdirSync(join(vault, 'questions'))[0]!;
    const area = readdirSync(join(vault, 'questions', track))[0]!;
    expect(spawnSync('mkfifo', [join(vault, 'pipe')]).status).toBe(0);
    symlinkSync(join(vault, 'pipe'), join(vault, 'questions', track, area, 'linked-pipe.yaml'));
    const r = await runCli(['validate', '--vault', vault]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/linked-pipe\.yaml: error: not a regular file/);
  });

  it('a questions/ symlink out of the vault stops validate, analyze and run with one clear line', async () => {
    const vault = await freshVault(6, 2);
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'vl-out-')), 'questions');
    renameSync(join(vault, 'questions'), elsewhere);
    symlinkSync(elsewhere, join(vault, 'questions'));
    for (const args of [['validate'], ['analyze'], ['run', '--dry-run', '--progress', 'none']]) {
      const r = await runCli([...args, '--vault', vault]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/questions resolves to .*, outside the vault/);
    }
  });
});
