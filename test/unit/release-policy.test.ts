import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorpusFileError } from '../../src/errors.js';
import { DEFAULT_POLICY, isPublished, loadPolicy, parsePolicy } from '../../src/release/index.js';
import { fixtureVaultDir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'release-policy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function vaultWith(policyText: string | null): string {
  const dir = mkdtempSync(join(tmp, 'v-'));
  if (policyText !== null) writeFileSync(join(dir, 'release-policy.yaml'), policyText);
  return dir;
}

describe('release policy', () => {
  it('defaults when the file is absent', async () => {
    const p = await loadPolicy(vaultWith(null));
    expect(p.path).toBeNull();
    expect(p.raw).toBeNull();
    expect(p.policy).toMatchObject({ policy_version: 1, include: { status: ['published'], require_validated: false }, exclude_topics: [], exclude_ids: [] });
  });

  it("reads a vault's release-policy.yaml, notes and all", async () => {
    const p = await loadPolicy(fixtureVaultDir());
    expect(p.policy.policy_version).toBe(1);
    expect(p.policy.include.status).toEqual(['published']);
    expect((p.raw as Record<string, unknown>).notes).toContain('policy_version 1');
  });

  it('treats null lists as empty and fills missing keys', () => {
    const p = parsePolicy({ policy_version: 3, exclude_ids: null, include: { require_validated: true } }, 'x.yaml');
    expect(p).toMatchObject({ policy_version: 3, exclude_ids: [], exclude_topics: [], include: { status: ['published'], require_validated: true } });
  });

  it('rejects bad values with the file and the field', async () => {
    await expect(loadPolicy(vaultWith('policy_version: 0\n'))).rejects.toThrow(/release-policy\.yaml: invalid release policy at policy_version/);
    await expect(loadPolicy(vaultWith('include:\n  status: [live]\n'))).rejects.toThrow(/at include\.status\.0/);
    await expect(loadPolicy(vaultWith('exclude_ids: cloud-0001\n'))).rejects.toThrow(/at exclude_ids/);
    await expect(loadPolicy(vaultWith('- a\n- b\n'))).rejects.toThrow(/expected a mapping/);
    await expect(loadPolicy(vaultWith('a: [\n'))).rejects.toBeInstanceOf(CorpusFileError);
  });

  it('isPublished is status, validated-when-required, and the two exclusions', () => {
    const q = { id: 'edge-0001', topic: 'tail-latency', status: 'published', validated: false };
    expect(isPublished(q, DEFAULT_POLICY)).toBe(true);
    expect(isPublished({ ...q, status: 'draft' }, DEFAULT_POLICY)).toBe(false);
    expect(isPublished({ ...q, status: undefined }, DEFAULT_POLICY)).toBe(false);
    const strict = parsePolicy({ include: { status: ['published', 'flagged'], require_validated: true } }, 'x');
    expect(isPublished(q, strict)).toBe(false);
    expect(isPublished({ ...q, validated: true, status: 'flagged' }, strict)).toBe(true);
    expect(isPublished(q, parsePolicy({ exclude_ids: ['edge-0001'] }, 'x'))).toBe(false);
    expect(isPublished(q, parsePolicy({ exclude_topics: ['tail-latency'] }, 'x'))).toBe(false);
  });
});
