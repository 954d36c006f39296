/**
 * One writer per real vault. A vault is named by what it is, not by how it was reached: its real
 * path plus the device and inode of its folder, so a symlinked path, a `..` detour or a bind mount
 * of the same folder all name one vault.
 *
 * The lock lives in two places:
 *   - in the vault itself, `<vault>/.vault-loop/lock` (JSON: owner, pid, host, heartbeat). This is
 *     the one every process sees whatever Redis server or key prefix it uses, so two prefixes or
 *     two Redis servers cannot run one vault twice;
 *   - in Redis, `{prefix}:lock:<vault identity>` with the same token, so the dashboard and the
 *     workers of that prefix see who holds the vault.
 * The owner rewrites the file's heartbeat every HEARTBEAT_MS and renews the Redis key's TTL. A lock
 * whose heartbeat is older than `staleMs` belongs to a dead host and is taken over; so is one whose
 * owner is a process of this machine and PID namespace that no longer exists (a host restarted
 * right after a crash does not have to wait). Hazards: the file is replaced by rename, never
 * rewritten in place, so a reader never sees half a record; taking over a stale lock renames it
 * aside first and checks that what it moved is still the stale record, so two hosts racing for one
 * stale lock cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { link, lstat, mkdir, readFile, realpath, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../redis/index.js';
import { z } from 'zod';
import { VaultLockedError } from '../errors.js';

/** How a vault is named for locking: its real path and the device and inode of its folder. */
export interface VaultIdentity {
  real: string;
  dev: number;
  ino: number;
}

export async function vaultIdentity(dir: string): Promise<VaultIdentity> {
  const real = await realpath(dir);
  const st = await stat(real);
  return { real, dev: st.dev, ino: st.ino };
}

/** The string hashed into the Redis lock key. */
export const identityKey = (id: VaultIdentity): string => `${id.real}\u0000${id.dev}:${id.ino}`;

export const LOCK_DIR = '.vault-loop';
export const LOCK_FILE = 'lock';
/** How often the owner proves it is alive. */
export const HEARTBEAT_MS = 2_000;
/** A heartbeat older than this means the owner is dead (several missed beats, for a loaded machine). */
export const DEFAULT_STALE_MS = 15_000;

const LockRecordSchema = z.object({
  token: z.string().min(1),
  command: z.string(),
  pid: z.number().int(),
  host: z.string(),
  pidNs: z.string().nullable(),
  vault: z.string(),
  dev: z.number(),
  ino: z.number(),
  startedAt: z.string(),
  heartbeatAt: z.number(),
});
export type LockRecord = z.infer<typeof LockRecordSchema>;

export { VaultLockedError };

export const lockPathOf = (real: string): string => join(real, LOCK_DIR, LOCK_FILE);

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** True when the record's owner is a process of this machine and PID namespace that is gone. */
function ownerIsGone(rec: LockRecord): boolean {
  if (rec.host !== hostname() || rec.pidNs === null || rec.pidNs !== pidNamespace()) return false;
  if (rec.pid === process.pid) return false;
  try {
    process.kill(rec.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function readRecord(path: string): Promise<LockRecord | null | 'unreadable'> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  // Never open a FIFO or device planted where the lock should be.
  if (!st.isFile() || st.size > 64 * 1024) return 'unreadable';
  try {
    const parsed = LockRecordSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return parsed.success ? parsed.data : 'unreadable';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return 'unreadable';
  }
}

export function describeHolder(rec: LockRecord, now = Date.now()): string {
  const age = Math.max(0, Math.round((now - rec.heartbeatAt) / 1000));
  return `\`vault-loop ${rec.command}\` (pid ${rec.pid} on ${rec.host}, since ${rec.startedAt}, last heartbeat ${age} s ago)`;
}

/** Redis half of the lock: the same token, under the prefix, keyed on the vault identity. */
export interface RedisLockSide {
  redis: RedisClient;
  key: string;
}

// Take the key when it is free or still holds the token of a dead owner whose file lock we took over.
const TAKE = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[2] or cur == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) return 1 end
return 0`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface AcquireOptions {
  /** The vault folder as given (any path to it). */
  vault: string;
  /** Which command holds the lock, shown to whoever is refused. */
  command: string;
  /** Also hold the lock in Redis under this key. */
  redis?: RedisLockSide;
  /** How long to wait for a live-looking holder's heartbeat to go stale (0: refuse at once). */
  waitMs?: number;
  staleMs?: number;
  heartbeatMs?: number;
  /** Told once, when the lock is held by another process and we wait for it. */
  onWait?: (message: string) => void;
  /** Told when the lock was taken from us (another process decided we were dead). */
  onLost?: (message: string) => void;
}

export class VaultLock {
  #timer: NodeJS.Timeout | null = null;
  #released = false;
  /** The heartbeat in flight: release waits for it, or a late rename would put the lock file back. */
  #beating: Promise<void> | null = null;

  private constructor(
    readonly identity: VaultIdentity,
    readonly record: LockRecord,
    readonly redisSide: RedisLockSide | undefined,
    readonly ttlMs: number,
    readonly onLost: ((m: string) => void) | undefined,
  ) {}

  get path(): string {
    return lockPathOf(this.identity.real);
  }

  /** Takes the lock on the vault, waiting up to `waitMs` for a holder's heartbeat to go stale; throws VaultLockedError when it cannot. */
  static async acquire(o: AcquireOptions): Promise<VaultLock> {
    const identity = await vaultIdentity(o.vault);
    const staleMs = o.staleMs ?? DEFAULT_STALE_MS;
    const heartbeatMs = o.heartbeatMs ?? HEARTBEAT_MS;
    const waitMs = o.waitMs ?? 0;
    const path = lockPathOf(identity.real);
    const dirSt = await lstat(join(identity.real, LOCK_DIR)).catch(() => null);
    if (dirSt && !dirSt.isDirectory()) throw new VaultLockedError(`${join(identity.real, LOCK_DIR)} is not a folder; vault-loop keeps its lock there`);
    await mkdir(join(identity.real, LOCK_DIR), { recursive: true });
    const token = randomBytes(12).toString('hex');
    const deadline = Date.now() + waitMs;
    let told = false;
    for (;;) {
      const now = Date.now();
      const rec: LockRecord = {
        token,
        command: o.command,
        pid: process.pid,
        host: hostname(),
        pidNs: pidNamespace(),
        vault: identity.real,
        dev: identity.dev,
        ino: identity.ino,
        startedAt: new Date(now).toISOString(),
        heartbeatAt: now,
      };
      const held = await tryCreate(path, rec);
      let replaced: string | undefined;
      let holder: LockRecord | undefined;
      if (!held) {
        const cur = await readRecord(path);
        if (cur === null) continue; // released between our attempt and the read
        if (cur === 'unreadable' || now - cur.heartbeatAt > staleMs || ownerIsGone(cur)) {
          // Dead owner (or a broken record): move it aside, then create ours.
          if (await moveAsideIfUnchanged(path, cur)) {
            replaced = cur === 'unreadable' ? undefined : cur.token;
            if (!(await tryCreate(path, rec))) continue;
          } else continue;
        } else holder = cur;
      }
      if (!holder) {
        // The file is ours; now the Redis side, which a dead owner may still hold.
        if (o.redis) {
          const ok = await o.redis.redis.eval(TAKE, 1, o.redis.key, token, replaced ?? '', String(staleMs)).catch(async (e: unknown) => {
            await unlinkIfOurs(path, token);
            throw e;
          });
          if (ok !== 1) {
            await unlinkIfOurs(path, token);
            const msg = `another vault-loop host holds the Redis lock ${o.redis.key} on ${identity.real} (its file lock is gone: a host of an older version, or one that lost its vault); it lapses within ${Math.round(staleMs / 1000)} s if that host is dead`;
            if (Date.now() >= deadline) throw new VaultLockedError(msg);
            if (!told) o.onWait?.(`${msg}; waiting up to ${Math.ceil((deadline - Date.now()) / 1000)} s`);
            told = true;
            await sleep(Math.min(500, heartbeatMs));
            continue;
          }
        }
        const lock = new VaultLock(identity, rec, o.redis, staleMs, o.onLost);
        lock.#start(heartbeatMs);
        return lock;
      }
      if (Date.now() >= deadline) {
        throw new VaultLockedError(
          `vault ${identity.real} is locked by ${describeHolder(holder)} (lock file ${path}); ` +
            `wait for it to finish, or stop it (vault-loop stop RUN). A host that died loses the lock when its heartbeat is ${Math.round(staleMs / 1000)} s old.`,
          holder,
        );
      }
      if (!told) {
        o.onWait?.(
          `vault ${identity.real} is locked by ${describeHolder(holder)}; waiting for it to end or for its heartbeat to go stale ` +
            `(${Math.round(staleMs / 1000)} s without one), at most ${Math.ceil((deadline - Date.now()) / 1000)} s`,
        );
        told = true;
      }
      await sleep(Math.min(500, heartbeatMs));
    }
  }

  #start(heartbeatMs: number): void {
    this.#timer = setInterval(() => {
      if (this.#beating) return;
      this.#beating = this.#beat().finally(() => (this.#beating = null));
    }, heartbeatMs);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    if (this.#released) return;
    const cur = await readRecord(this.path).catch(() => null);
    if (cur === null || cur === 'unreadable' || cur.token !== this.record.token) {
      this.#stop();
      this.onLost?.(`lost the lock on ${this.identity.real}: ${cur && cur !== 'unreadable' ? `now held by ${describeHolder(cur)}` : 'the lock file was removed'}`);
      return;
    }
    const next = { ...this.record, heartbeatAt: Date.now() };
    const tmp = `${this.path}.${this.record.token}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(next), { mode: 0o644 });
      await rename(tmp, this.path);
    } catch {
      await unlink(tmp).catch(() => {});
    }
    if (this.redisSide) {
      await this.redisSide.redis.eval(RENEW, 1, this.redisSide.key, this.record.token, String(this.ttlMs)).catch(() => 0);
    }
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Releases both halves (only if still ours). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#stop();
    await this.#beating;
    await unlinkIfOurs(this.path, this.record.token);
    // Leave no trace in a vault that had no .vault-loop folder (fails, as wanted, when it holds anything else).
    await rmdir(join(this.identity.real, LOCK_DIR)).catch(() => {});
    if (this.redisSide) await this.redisSide.redis.eval(UNLOCK, 1, this.redisSide.key, this.record.token).catch(() => {});
  }
}

/** Runs `fn` holding the vault's file lock (commands that change the vault outside a run: promote, render, fix-areas, manifest, export). */
export async function withVaultLock<T>(vault: string, command: string, fn: () => Promise<T>): Promise<T> {
  const lock = await VaultLock.acquire({ vault, command });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function tryCreate(path: string, rec: LockRecord): Promise<boolean> {
  // Write the whole record to a private name, then link it into place: link fails if the lock
  // exists, and a reader never sees a half-written record.
  const tmp = `${path}.${rec.token}.new`;
  await writeFile(tmp, JSON.stringify(rec), { mode: 0o644 });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function moveAsideIfUnchanged(path: string, seen: LockRecord | 'unreadable'): Promise<boolean> {
  const aside = `${path}.stale.${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const moved = await readRecord(aside);
  const same = seen === 'unreadable' ? moved === 'unreadable' : moved !== null && moved !== 'unreadable' && moved.token === seen.token;
  if (!same) {
    // We moved a lock someone took in between: put it back (link fails if yet another appeared).
    await link(aside, path).catch(() => {});
  }
  await unlink(aside).catch(() => {});
  return same;
}

async function unlinkIfOurs(path: string, token: string): Promise<void> {
  const cur = await readRecord(path).catch(() => null);
  if (cur && cur !== 'unreadable' && cur.token === token) await unlink(path).catch(() => {});
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
