import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vaultSampleDir, VaultSampleMissingError } from '../helpers/fixtures.js';

// The sample suite's global setup calls vaultSampleDir(): these are the two ways it fails, and the way it finds the sample.
describe('locating the real vault sample for the sample suite', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vl-sample-location-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('fails with a clear message when VAULT_SAMPLE_DIR names a folder without questions/', () => {
    const missing = join(tmp, 'no-sample');
    expect(() => vaultSampleDir({ VAULT_SAMPLE_DIR: missing }, tmp)).toThrow(VaultSampleMissingError);
    expect(() => vaultSampleDir({ VAULT_SAMPLE_DIR: missing }, tmp)).toThrow(`the real vault sample is missing: no questions/ folder in ${missing} (from VAULT_SAMPLE_DIR)`);
  });

  it('fails with a clear message when VAULT_SAMPLE_DIR is unset and nothing is beside the project', () => {
    const root = join(tmp, 'clone', 'p');
    mkdirSync(root, { recursive: true });
    expect(() => vaultSampleDir({}, root)).toThrow(/no questions\/ folder in .*clone\/shared\/fixtures\/vault-sample \(VAULT_SAMPLE_DIR is unset\)\. The sample suite needs it: set VAULT_SAMPLE_DIR/);
  });

  it('finds ../shared/fixtures/vault-sample beside the project, and prefers VAULT_SAMPLE_DIR', () => {
    const root = join(tmp, 'beside', 'p');
    mkdirSync(join(tmp, 'beside', 'shared', 'fixtures', 'vault-sample', 'questions'), { recursive: true });
    mkdirSync(root, { recursive: true });
    expect(vaultSampleDir({}, root)).toBe(join(tmp, 'beside', 'shared', 'fixtures', 'vault-sample'));
    const other = join(tmp, 'other');
    mkdirSync(join(other, 'questions'), { recursive: true });
    expect(vaultSampleDir({ VAULT_SAMPLE_DIR: other }, root)).toBe(other);
  });
});
