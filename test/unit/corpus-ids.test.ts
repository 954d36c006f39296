import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatId, parseId, scanMaxIds } from '../../src/corpus/ids.js';
import { fixtureVaultDir, synthetic1kDir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-corpus-ids-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function touch(vault: string, rel: string): void {
  mkdirSync(join(vault, rel, '..'), { recursive: true });
  writeFileSync(join(vault, rel), 'id: x\n');
}

describe('formatId / parseId', () => {
  it.each([
    ['cloud', 7, 'cloud-0007'],
    ['tinyml', 1535, 'tinyml-1535'],
    ['edge', 0, 'edge-0000'],
    ['global', 12345, 'global-12345'],
  ] as const)('%s %d → %s', (track, n, id) => {
    expect(formatId(track, n)).toBe(id);
    expect(parseId(id)).toEqual({ track, n });
  });
  it.each([[-1], [1.5], [Number.NaN]])('refuses %d', (n) => {
    expect(() => formatId('cloud', n)).toThrow(RangeError);
  });
  it.each([['cloud-chain-001'], ['server-0001'], ['cloud-'], ['cloud-12a']])('%s is not an id', (id) => {
    expect(parseId(id)).toBeNull();
  });
});

describe('scanMaxIds', () => {
  it('finds the highest N per track at every depth (the original only looked flat)', async () => {
    const vault = join(tmp, 'mixed');
    touch(vault, 'questions/cloud/cloud-0100.yaml'); // flat, legacy layout
    touch(vault, 'questions/cloud/memory/cloud-4528.yaml'); // nested
    touch(vault, 'questions/cloud/memory/deeper/cloud-0999.yaml');
    touch(vault, 'questions/edge/latency/edge-0002.yaml');
    touch(vault, 'questions/edge/latency/edge-9999-draft.yaml'); // not <track>-<digits>
    touch(vault, 'questions/mobile/networking/cloud-5000.yaml'); // misfiled: still reserves cloud-5000
    touch(vault, 'questions/tinyml/power/tinyml-10001.yaml');
    touch(vault, 'questions/LICENSE');
    expect(await scanMaxIds(vault)).toEqual({ cloud: 5000, edge: 2, mobile: 0, tinyml: 10001, global: 0 });
  });

  it('reads the fixtures', async () => {
    // The bad files count too: their names reserve their ids whatever their content.
    expect(await scanMaxIds(fixtureVaultDir())).toEqual({ cloud: 109, edge: 9000, mobile: 9001, tinyml: 9002, global: 506 });
    const s = await scanMaxIds(synthetic1kDir());
    expect(s.cloud).toBe(9002);
  });

  it('an empty or missing vault gives zeros', async () => {
    expect(await scanMaxIds(join(tmp, 'nothing'))).toEqual({ cloud: 0, edge: 0, mobile: 0, tinyml: 0, global: 0 });
  });
});
