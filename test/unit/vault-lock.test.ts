import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockPathOf, VaultLock, VaultLockedError, vaultIdentity, withVaultLock, type LockRecord } from '../../src/state/lock.js';

const held: VaultLock[] = [];
afterEach(async () => {
  for (const l of held.splice(0)) await l.release();
});

function vault(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'vl-lock-')), 'vault');
  mkdirSync(join(dir, 'questions'), { recursive: true });
  return dir;
}

async function take(dir: string, extra: Partial<Parameters<typeof VaultLock.acquire>[0]> = {}): Promise<VaultLock> {
  const l = await VaultLock.acquire({ vault: dir, command: 'run', ...extra });
  held.push(l);
  return l;
}

/** A lock record as another host would have written it. */
async function plant(dir: string, rec: Partial<LockRecord>): Promise<void> {
  const id = await vaultIdentity(dir);
  mkdirSync(join(id.real, '.vault-loop'), { recursive: true });
  const full: LockRecord = {
    token: 'f'.repeat(24),
    command: 'run',
    pid: 424242,
    host: 'another-machine',
    pidNs: null,
    vault: id.real,
    dev: id.dev,
    ino: id.ino,
    startedAt: new Date().toISOString(),
    heartbeatAt: Date.now(),
    ...rec,
  };
  writeFileSync(lockPathOf(id.real), JSON.stringify(full));
}

describe('one lock per real vault', () => {
  it('refuses a second holder that reaches the vault through a symlink or a .. detour, naming the holder', async () => {
    const dir = vault();
    const link = join(mkdtempSync(join(tmpdir(), 'vl-lock-link-')), 'alias');
    symlinkSync(dir, link);
    await take(dir);
    for (const path of [link, join(dir, 'questions', '..')]) {
      const e = await VaultLock.acquire({ vault: path, command: 'promote' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(VaultLockedError);
      expect((e as Error).message).toMatch(new RegExp(`vault .*vault is locked by \`vault-loop run\` \\(pid ${process.pid} on `));
    }
  });

  it('keeps its record in the vault with owner and heartbeat, and removes it on release', async () => {
    const dir = vault();
    const l = await take(dir);
    const rec = JSON.parse(readFileSync(join(dir, '.vault-loop', 'lock'), 'utf8')) as LockRecord;
    expect(rec).toMatchObject({ command: 'run', pid: process.pid, token: l.record.token, vault: (await vaultIdentity(dir)).real });
    await l.release();
    expect(existsSync(join(dir, '.vault-loop'))).toBe(false);
    // Free again.
    await take(dir);
  });

  it('takes over a lock whose heartbeat is stale', async () => {
    const dir = vault();
    await plant(dir, { heartbeatAt: Date.now() - 60_000 });
    const l = await take(dir, { staleMs: 15_000 });
    expect(l.record.pid).toBe(process.pid);
  });

  it('takes over at once from a process of this machine that no longer exists', async () => {
    const dir = vault();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const { hostname } = await import('node:os');
    const { readlinkSync } = await import('node:fs');
    await plant(dir, { pid: Number(gone.stdout), host: hostname(), pidNs: readlinkSync('/proc/self/ns/pid'), heartbeatAt: Date.now() });
    const l = await take(dir, { waitMs: 0 });
    expect(l.record.pid).toBe(process.pid);
  });

  it('waits for a live-looking holder, says what it waits for and how long at most, and takes over once the heartbeat is stale', async () => {
    const dir = vault();
    await plant(dir, { heartbeatAt: Date.now() });
    const told: string[] = [];
    const l = await take(dir, { staleMs: 1500, waitMs: 60_000, onWait: (m) => told.push(m) });
    expect(l.record.pid).toBe(process.pid);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/locked by `vault-loop run` \(pid 424242 on another-machine.*waiting for it to end or for its heartbeat to go stale \(2 s without one\), at most \d+ s/);
  });

  it('never lets a second live holder in: a waiting taker gives up with the holder named', async () => {
    const dir = vault();
    await take(dir, { heartbeatMs: 100, staleMs: 1000 });
    const told: string[] = [];
    const e = await VaultLock.acquire({ vault: dir, command: 'run', heartbeatMs: 100, staleMs: 1000, waitMs: 3000, onWait: (m) => told.push(m) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VaultLockedError);
    expect(told[0]).toMatch(/at most \d+ s/);
  });

  it('commands that change the vault outside a run take the lock too', async () => {
    const dir = vault();
    await take(dir);
    const e = await withVaultLock(dir, 'promote', () => Promise.resolve('promoted')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VaultLockedError);
    await held.pop()!.release();
    expect(await withVaultLock(dir, 'promote', () => Promise.resolve('promoted'))).toBe('promoted');
  });

  it('never opens a FIFO planted where the lock should be', async () => {
    const dir = vault();
    mkdirSync(join(dir, '.vault-loop'));
    expect(spawnSync('mkfifo', [join(dir, '.vault-loop', 'lock')]).status).toBe(0);
    // An unreadable record is a broken lock: moved aside and replaced, without blocking on the pipe.
    const l = await take(dir);
    expect(l.record.pid).toBe(process.pid);
  });
});
