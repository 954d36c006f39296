import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorpusHost, VaultLockedError } from '../../src/host/corpus-host.js';
import { identityKey, vaultIdentity } from '../../src/state/lock.js';
import { Keys } from '../../src/state/run-state.js';
import { freshVault, openHost, testConfig } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';

const redis = fileRedis('vault-lock');
const other = fileRedis('vault-lock-other');

describe('the corpus host lock is one per real vault', () => {
  it('refuses a second host on the same vault reached through a symlink, and one on another prefix', async () => {
    const vault = await freshVault(20, 3);
    const alias = join(mkdtempSync(join(tmpdir(), 'vl-alias-')), 'alias');
    symlinkSync(vault, alias);
    const first = await openHost(redis, testConfig(redis, vault));
    try {
      // Held in Redis too, keyed on the vault's identity, with the token of the file lock.
      const key = new Keys(redis.prefix).lock(identityKey(await vaultIdentity(vault)));
      expect(await redis.client.get(key)).toMatch(/^[0-9a-f]{24}$/);
      for (const [r, path] of [[redis, alias], [other, vault], [other, alias]] as const) {
        const e = await openHost(r, testConfig(r, path)).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(VaultLockedError);
        expect((e as Error).message).toMatch(/is locked by `vault-loop run` \(pid \d+ on .*lock file .*\.vault-loop\/lock/);
      }
    } finally {
      await first.close();
    }
    // Released: the alias path now opens, and names the real vault.
    const second: CorpusHost = await openHost(other, testConfig(other, alias));
    expect(second.vault).toBe((await vaultIdentity(vault)).real);
    await second.close();
  });
});
