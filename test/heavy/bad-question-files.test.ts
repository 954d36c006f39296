/**
 * Each kind of bad question file alone in a fresh vault (the fast suite puts them all in one vault):
 * validate names it and exits 1, analyze skips it and says so, `run` warns about it by name and
 * completes, and no question file (the bad one included) changes. A CLI process per case.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAD_FILES, execCli, questionDir } from '../helpers/bad-files.js';
import { freshVault, vaultSnapshot } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-bad-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const redis = fileRedis('bad-files');

describe('each bad question file alone: validate and analyze', () => {
  let template: string;
  beforeAll(async () => {
    template = await freshVault(40, 5);
  });

  for (const bad of BAD_FILES) {
    it(`${bad.name}: validate names the file and exits 1; analyze skips it and says so; the vault is unchanged`, async () => {
      const vault = await freshVault(40, 5);
      bad.write(join(questionDir(vault), bad.file));
      const before = vaultSnapshot(vault);

      const v = await execCli(['validate', '--vault', vault, '--errors-only'], { cwd: tmp, env: { REDIS_URL: '' } });
      expect(v.code, v.stderr).toBe(1);
      expect(v.stdout).toMatch(bad.validate);
      expect(v.stdout).toMatch(/validated 41 files: \d+ errors? in 1 file/);
      expect(v.stderr).toBe('');

      const a = await execCli(['analyze', '--vault', vault, '--no-index', '--out', join(tmp, `report-${bad.file}`)], { cwd: tmp, env: { REDIS_URL: '' } });
      expect(a.code, a.stderr).toBe(0);
      expect(a.stdout).toMatch(bad.analyze);
      expect(a.stderr).not.toMatch(/unexpected error/);

      expect(vaultSnapshot(vault)).toBe(before);
      expect(template).not.toBe(vault);
    });
  }
});

describe('each bad question file alone: run', () => {
  for (const bad of BAD_FILES) {
    it(`${bad.name}: run warns about the file by name, completes, and changes no question file`, async () => {
      const vault = await freshVault(40, 8);
      const abs = join(questionDir(vault), bad.file);
      bad.write(abs);
      const rel = abs.slice(vault.length + 1);
      const before = vaultSnapshot(join(vault, 'questions'));
      const badBytes = readFileSync(abs);
      const r = await execCli(['run', '--vault', vault, '--redis', redis.url, '--prefix', redis.prefix, '--dry-run', '--max-iters', '1', '--progress', 'none'], { env: { VAULT_LOOP_LOG_LEVEL: 'error' } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`vault-loop: warning: skipping ${rel}: `);
      expect(r.stderr).not.toMatch(/unexpected error/);
      expect(vaultSnapshot(join(vault, 'questions'))).toBe(before);
      expect(readFileSync(abs).equals(badBytes)).toBe(true);
    });
  }
});
