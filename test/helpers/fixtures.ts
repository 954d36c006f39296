/**
 * Where the test data is. `npm test` reads only the repository's own fixtures (test/fixtures/):
 * a clone with nothing beside it passes. The real vault sample is read by the sample suite alone
 * (`npm run test:sample`, test/sample/), from VAULT_SAMPLE_DIR or ../shared/fixtures.
 */
import { existsSync } from 'node:fs';
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
