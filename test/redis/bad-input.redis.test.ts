/**
 * Bad input to `run` (real Redis): each bad question file is named in a warning before the run
 * starts, the run goes on without it, and no question file (the bad one included) changes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { freshVault, vaultSnapshot } from '../helpers/pipeline.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { BAD_FILES, questionDir } from '../helpers/bad-files.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await useTestRedis('bad-input');
});
afterAll(async () => {
  await redis.cleanup();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], { env: { ...process.env, VAULT_LOOP_LOG_LEVEL: 'error' }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('bad question files: run', () => {
  for (const bad of BAD_FILES) {
    it(`${bad.name}: run warns about the file by name, completes, and changes no question file`, async () => {
      const vault = await freshVault(40, 8);
      const abs = join(questionDir(vault), bad.file);
      bad.write(abs);
      const rel = abs.slice(vault.length + 1);
      const before = vaultSnapshot(join(vault, 'questions'));
      const badBytes = readFileSync(abs);
      const r = await cli(['run', '--vault', vault, '--redis', redis.url, '--prefix', redis.prefix, '--dry-run', '--max-iters', '1', '--progress', 'none']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`vault-loop: warning: skipping ${rel}: `);
      expect(r.stderr).not.toMatch(/unexpected error/);
      expect(vaultSnapshot(join(vault, 'questions'))).toBe(before);
      expect(readFileSync(abs).equals(badBytes)).toBe(true);
    });
  }
});
