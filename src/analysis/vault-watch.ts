/**
 * Directory watchers for a long-lived VaultAnalyzer: one non-recursive fs.watch per directory of
 * `questions/` (Node 20's recursive mode on Linux is a JS layer that arms subfolders
 * asynchronously; per-folder watchers keep arming under our control and synchronous).
 *
 * What they give the analyzer: the paths named by events since the last analysis, so a warm call
 * stats and reads only those. What they cannot promise, and how each case is turned into "do the
 * full stat pass this time" (`invalid`):
 * - a watcher 'error', a watcher that could not be armed, a rename/delete of a watched folder
 *   (a rename event naming a known subfolder, or the folder's own name = a self event);
 * - an inotify queue overflow: libuv drops IN_Q_OVERFLOW silently, but an overflow needs the
 *   whole queue (max_queued_events) filled between two reads, all of which we then receive, so
 *   at least half of it arriving between two analyses counts as "maybe lost some";
 * - file systems whose changes need not reach inotify (NFS, SMB, FUSE, 9p...): not watched at all
 *   (only an allow-list of local ones is).
 * The caller also checks, by stat'ing every folder, that no folder changed without an event.
 */
import { readFileSync, statfsSync, watch, type FSWatcher } from 'node:fs';
import { sep } from 'node:path';

/** statfs magic numbers of local file systems where every change goes through this kernel's inotify. */
const LOCAL_FS = new Set([
  0xef53, // ext2/3/4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0x794c7630, // overlayfs
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
]);

function overflowGuard(): number {
  try {
    const n = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim());
    if (Number.isFinite(n) && n > 0) return Math.max(1, Math.floor(n / 2));
  } catch {
    // not Linux, or /proc hidden: use the kernel default below
  }
  return 8192;
}

/** True when fs.watch events can be trusted to report every change under `dir`. */
export function watchable(dir: string): boolean {
  if (process.platform !== 'linux') return false;
  try {
    return LOCAL_FS.has(Number(statfsSync(dir).type));
  } catch {
    return false;
  }
}

export interface WatchBatch {
  /** rel paths of files named by an event. */
  files: Set<string>;
  /** rel dirs whose listing may have changed (an event naming something other than a .yaml file, or a create/delete). */
  dirs: Set<string>;
  /** The events cannot be trusted: do the full stat pass. */
  invalid: boolean;
}

export class DirWatchers {
  readonly #base: string;
  readonly #guard = overflowGuard();
  readonly #watchers = new Map<string, { w: FSWatcher; ino: number }>();
  /** rel dir → its subfolders as last listed (a rename event naming one is structural). */
  readonly #known = new Map<string, Set<string>>();
  #files = new Set<string>();
  #dirs = new Set<string>();
  #events = 0;
  #invalid = false;

  /** `vaultDir` must be absolute. */
  constructor(vaultDir: string) {
    this.#base = vaultDir.endsWith(sep) ? vaultDir : vaultDir + sep;
  }

  get size(): number {
    return this.#watchers.size;
  }

  /**
   * Watches exactly these directories (rel, with their known subfolders): arms the missing ones,
   * closes the others. Returns how many were newly armed; a failure marks the batch invalid.
   */
  sync(dirs: readonly { rel: string; ino: number; subdirs: readonly string[] }[]): number {
    const want = new Map(dirs.map((d) => [d.rel, d]));
    for (const [rel, x] of this.#watchers) {
      // A folder replaced under the same name (another inode) needs a new watcher.
      if (want.get(rel)?.ino !== x.ino) {
        x.w.close();
        this.#watchers.delete(rel);
        this.#known.delete(rel);
      }
    }
    let armed = 0;
    for (const [rel, d] of want) {
      this.#known.set(rel, new Set(d.subdirs));
      if (this.#watchers.has(rel)) continue;
      const own = rel.slice(rel.lastIndexOf('/') + 1);
      const abs = this.#base + (sep === '/' ? rel : rel.split('/').join(sep));
      try {
        const w = watch(abs, { persistent: false }, (type, name) => this.#event(rel, own, type, name));
        w.on('error', () => {
          this.#invalid = true;
          w.close();
          if (this.#watchers.get(rel)?.w === w) this.#watchers.delete(rel);
        });
        w.unref();
        this.#watchers.set(rel, { w, ino: d.ino });
        armed++;
      } catch {
        this.#invalid = true; // gone already, or out of inotify watches: next call re-arms
      }
    }
    return armed;
  }

  #event(rel: string, own: string, type: string, name: string | Buffer | null): void {
    this.#events++;
    if (name === null || name === undefined) {
      this.#invalid = true;
      return;
    }
    const n = String(name);
    if (n === own || this.#known.get(rel)?.has(n)) {
      // Our folder itself (a self event) or a known subfolder: moved, deleted, or its attributes
      // changed. Listings up the tree may be stale in ways one folder's re-listing does not fix.
      if (type === 'rename' || n === own) this.#invalid = true;
      return;
    }
    if (n.endsWith('.yaml')) this.#files.add(`${rel}/${n}`);
    if (type === 'rename' || !n.endsWith('.yaml')) this.#dirs.add(rel);
  }

  /** Marks the events unusable (the next take() says invalid); for tests and callers that know better. */
  invalidate(): void {
    this.#invalid = true;
  }

  /** Emits 'error' on every watcher, as a failing one would (tests). */
  simulateError(): void {
    for (const x of [...this.#watchers.values()]) x.w.emit('error', new Error('simulated watcher error'));
  }

  /** What arrived since the last take(), then starts a new batch. */
  take(): WatchBatch {
    const out: WatchBatch = { files: this.#files, dirs: this.#dirs, invalid: this.#invalid || this.#events >= this.#guard };
    this.#files = new Set();
    this.#dirs = new Set();
    this.#events = 0;
    this.#invalid = false;
    return out;
  }

  close(): void {
    for (const x of this.#watchers.values()) x.w.close();
    this.#watchers.clear();
    this.#known.clear();
    this.take();
  }
}
