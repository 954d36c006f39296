/**
 * Where the test data is. `npm test` reads only the repository's own fixtures (test/fixtures/):
 * a clone with nothing beside it passes. The real vault sample is read by the sample suite alone
 * (`npm run test:sample`, test/sample/), from VAULT_SAMPLE_DIR or ../shared/fixtures.
 */
import { cpSync, existsSync, statSync, utimesSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures');

/** The fixture vault (test/fixtures/vault): every track, level, zone and status, and the files a loader must survive. */
export const fixtureVaultDir = (): string => join(FIXTURES, 'vault');
/** 1,000 synthetic questions shaped like the vault, plus three bad files (cloud-9000..9002). */
export const synthetic1kDir = (): string => join(FIXTURES, 'synthetic-1k');
/** The original analyzer's reports: `<corpus>/<case>.json` for synthetic-1k and the real vault sample. */
export const referenceReportsDir = (): string => join(FIXTURES, 'reference-reports');

/** The problem files of the fixture vault (broken YAML, empty, off-enum). */
export const FIXTURE_BAD_FILES = [
  'questions/edge/latency/edge-9000.yaml',
  'questions/mobile/memory/mobile-9001.yaml',
  'questions/tinyml/power/tinyml-9002.yaml',
] as const;

/** Raised when the sample suite runs without the real vault sample: it fails, it never skips. */
export class VaultSampleMissingError extends Error {
  override name = 'VaultSampleMissingError';
}

/**
 * The real vault sample: VAULT_SAMPLE_DIR, else ../shared/fixtures/vault-sample beside the project.
 * `env` and `root` are parameters so the failure path can be tested without moving anything.
 */
export function vaultSampleDir(env: NodeJS.ProcessEnv = process.env, root: string = PROJECT_ROOT): string {
  const fromEnv = env.VAULT_SAMPLE_DIR;
  const dir = fromEnv ? resolve(fromEnv) : resolve(root, '..', 'shared', 'fixtures', 'vault-sample');
  if (!existsSync(join(dir, 'questions'))) {
    throw new VaultSampleMissingError(
      `the real vault sample is missing: no questions/ folder in ${dir} (${fromEnv ? 'from VAULT_SAMPLE_DIR' : 'VAULT_SAMPLE_DIR is unset'}). ` +
        'The sample suite needs it: set VAULT_SAMPLE_DIR to the vault-sample folder, or place shared/fixtures/ beside the project.',
    );
  }
  return dir;
}

/** The original's specification (SEED-SPEC.md) beside the shared fixtures: SEED_SPEC, else ../shared/SEED-SPEC.md. */
export function seedSpecFile(env: NodeJS.ProcessEnv = process.env, root: string = PROJECT_ROOT): string {
  const file = env.SEED_SPEC ? resolve(env.SEED_SPEC) : resolve(root, '..', 'shared', 'SEED-SPEC.md');
  if (!existsSync(file)) throw new VaultSampleMissingError(`the original's specification is missing: no ${file} (set SEED_SPEC, or place shared/ beside the project)`);
  return file;
}

/**
 * Copies the fixture vault's questions/ and visuals/ (or the parts named) to `dest`. A checkout
 * gives files arbitrary mtimes, so the stored render (mobile-0304.svg) is dated after its source,
 * as it was when it was rendered: render staleness then depends on the test, not on the checkout.
 */
export function copyFixtureVault(dest: string, parts: readonly string[] = ['questions', 'visuals']): string {
  for (const part of parts) cpSync(join(fixtureVaultDir(), part), join(dest, part), { recursive: true });
  const svg = join(dest, 'visuals', 'mobile', 'mobile-0304.svg');
  if (existsSync(svg)) {
    const t = statSync(join(dest, 'visuals', 'mobile', 'mobile-0304.dot')).mtime;
    const later = new Date(t.getTime() + 60_000);
    utimesSync(svg, later, later);
  }
  return dest;
}
