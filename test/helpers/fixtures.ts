/** Where the shared fixtures are: ../shared/fixtures beside the project, or VAULT_SAMPLE_DIR for the real vault sample. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_FIXTURES = resolve(PROJECT_ROOT, '..', 'shared', 'fixtures');

function required(dir: string, what: string): string {
  if (!existsSync(dir)) throw new Error(`${what} not found at ${dir} (set VAULT_SAMPLE_DIR or place ../shared/fixtures beside the project)`);
  return dir;
}

export const vaultSampleDir = (): string => required(process.env.VAULT_SAMPLE_DIR ?? join(SHARED_FIXTURES, 'vault-sample'), 'the real vault sample');
export const synthetic1kDir = (): string => required(join(SHARED_FIXTURES, 'synthetic-1k'), 'the synthetic-1k corpus');
export const referenceReportsDir = (): string => required(join(SHARED_FIXTURES, 'reference-reports'), 'the reference reports');
