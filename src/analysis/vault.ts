/**
 * analyzeVault: list `questions/**\/*.yaml`, read what changed, analyze.
 *
 * What is remembered (on disk in `<vault>/.vault-loop/analysis-index.bin`, see vault-index.ts, and
 * in memory by a VaultAnalyzer for a long-running process):
 * - per directory: its stat and listing. A create, delete or rename inside a directory changes its
 *   mtime, so an unchanged directory is not listed again, only stat'ed.
 * - per file: size, mtimeMs, ctimeMs and inode, and what the analyzer read from it. An in-place
 *   edit changes no directory, so every file is still stat'ed on every run; only files whose stat
 *   differs are read again. The inode catches temp-file-and-rename writes, ctime catches an edit
 *   whose mtime was set back (cp -p, rsync -t).
 * - racy entries: a file or directory whose mtime/ctime is within RACY_MS of the scan that
 *   recorded it may have changed again within the same timestamp tick after we looked; it is not
 *   trusted and is read (or listed) again until it is older than that (git's "racy clean" rule).
 *   Since any write also moves ctime, a change made after the recording scan is caught twice:
 *   by this rule and by the recorded-stat comparison (the tests break only when both go).
 * Everything is a cache: the index is safe to delete, versioned and checksummed; a corrupt or
 * foreign one is ignored and rebuilt, and a stale entry can only cause a re-read, never a wrong count.
 *
 * Counting is done over distinct records with multiplicities (a few thousand tuples for 10k files).
 *
 * I/O is synchronous on purpose: on this workload (10k small files, 2 cores) one thread of
 * statSync/readFileSync beat libuv's pool (any UV_THREADPOOL_SIZE) and promise pools: the
 * per-request callback cost on the main thread exceeds the syscall itself (measured again for #14:
 * 10k `fs.stat` callbacks 78–337 ms against 45–65 ms of statSync, see docs/benchmarks.md).
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Dirent, type Stats } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Applicability, isTrack, type Track } from '../corpus/taxonomy.js';
import { analyzeTally, resolveOptions } from './analyze.js';
import { CONTROL_CHARACTER, DEFAULT_MAX_FILE_BYTES, NotRegularFileError, readRegularFileSync } from '../util/files.js';
import { internId } from '../util/intern.js';
import { parseCoverage, type SkipReason } from './scan.js';
import { statMany } from './stat-many.js';
import { addToTally, emptyTally } from './tally.js';
import type { AnalyzeOptions, CoverageRecord, CoverageReport } from './types.js';
import { DirWatchers, watchable, type WatchBatch } from './vault-watch.js';
import { decodeIndex, encodeIndex, INDEX_DIR, INDEX_FILE, INDEX_VERSION, LEGACY_INDEX_FILE, RECORD_FIELDS, visualKind, type IndexData, type IndexDir, type IndexRecord, type IndexTaxonomy } from './vault-index.js';

export { INDEX_DIR, INDEX_FILE, INDEX_VERSION };

/**
 * How close (ms) to the recording scan an mtime/ctime must be to count as racy. Covers coarse
 * kernel timestamp ticks and 2-second FAT timestamps.
 */
export const RACY_MS = 2000;

/** Default write debt (see the VaultAnalyzer constructor): a few ms of re-reading at most. */
export const WRITE_DEBT = 32;

/**
 * Whether analyzeVault's same-process analyzers watch `questions/` (see VaultAnalyzer's `watch`).
 * Set from measurements in bench/analyze.bench.ts.
 */
export const WATCH_DEFAULT = true;

const immediate = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface SkippedFile {
  path: string;
  reason: SkipReason | 'too-large' | 'io' | 'control-character';
  message: string;
}

export interface AnalyzeVaultStats {
  files: number;
  records: number;
  skipped: SkippedFile[];
  /**
   * Symlinked `.yaml` files under questions/ that are never read (pointing outside the vault, or
   * broken), sorted by path; found by the same listing, so no second walk is needed to name them.
   */
  links: SkippedLink[];
  /** Files read and parsed in this run (all of them when cold). */
  read: number;
  /** Of those, how many the fast scanner settled (the rest went to the YAML parser). */
  fastPath: number;
  /** Files taken from the index (or the in-memory state) unchanged. */
  fromIndex: number;
  /** Index entries dropped because their file is gone. */
  dropped: number;
  /** Directories listed (the rest were known unchanged from their stat). */
  dirsListed: number;
  /**
   * Where the previous state came from: 'memory' = this process's VaultAnalyzer, 'loaded' = the
   * index file; otherwise why there was none.
   */
  index: 'disabled' | 'absent' | 'loaded' | 'corrupt' | 'stale-version' | 'memory';
  /**
   * 'events': files were stat'ed only where a watcher event named them; 'full': every file was
   * stat'ed although watching is on (first call, re-armed, untrusted events); 'off': not watching.
   */
  watch: 'off' | 'full' | 'events';
  /**
   * Where the taxonomy's applicability came from (balanced strategy): 'parsed' from the file now,
   * 'index' or 'memory' while the file's stat is unchanged; 'given' in the options; 'none' (reference).
   */
  taxonomy: 'parsed' | 'index' | 'memory' | 'given' | 'none';
  indexWritten: boolean;
  ms: number;
}

export interface AnalyzeVaultOptions extends Partial<AnalyzeOptions> {
  /** Use and refresh the index in `<vault>/.vault-loop/` (default true). */
  useIndex?: boolean;
  /**
   * Keep this vault's state in memory for the next call in the same process (default true;
   * validated by stat on every call, or by watcher events, see `watch`). Ignored when useIndex is false.
   */
  memoryCache?: boolean;
  /** Let the in-memory analyzer watch `questions/` (default WATCH_DEFAULT; only with memoryCache). */
  watch?: boolean;
}

export interface AnalyzeVaultResult {
  report: CoverageReport;
  stats: AnalyzeVaultStats;
  /**
   * One record per parsed file, in sorted path order. Files with equal values share one frozen
   * object: treat records as read-only.
   */
  records: CoverageRecord[];
}

// ---------------------------------------------------------------------------------------------
// Listing

interface Listing {
  subdirs: string[];
  files: string[];
  volatile: boolean;
  /** Symlinked .yaml files that are not read: pointing outside the vault, or broken. */
  links: SkippedLink[];
}

/** A symlinked `.yaml` under questions/ that is never read, and why. */
export interface SkippedLink {
  path: string;
  reason: 'symlink-outside' | 'broken-symlink';
  message: string;
}

/**
 * One directory of `questions/**\/*.yaml` as Python's `Path.glob` saw it (hidden names included):
 * subdirectories (symlinked ones not followed) and .yaml files; symlinked files count unless they
 * resolve outside the vault or to a non-file.
 */
function listDir(vaultDir: string, absDir: string, relDir: string, realRoot: { value?: string }): Listing {
  const out: Listing = { subdirs: [], files: [], volatile: false, links: [] };
  let list: Dirent[];
  try {
    list = readdirSync(absDir, { withFileTypes: true });
  } catch {
    out.volatile = true; // unreadable now; try again next time
    return out;
  }
  for (const d of list) {
    if (d.isDirectory()) out.subdirs.push(d.name);
    else if (d.name.endsWith('.yaml') && (d.isFile() || d.isSymbolicLink())) {
      if (d.isSymbolicLink()) {
        // A folder holding a symlink is listed again on every scan (its target can change without
        // the folder changing), so what is said about its links below is always current.
        out.volatile = true;
        const path = `${relDir}/${d.name}`;
        let target: string;
        try {
          realRoot.value ??= realpathSync.native(vaultDir);
          target = realpathSync.native(join(absDir, d.name));
        } catch (e) {
          out.links.push({ path, reason: 'broken-symlink', message: `broken symbolic link (${(e as Error).message})` });
          continue;
        }
        const back = relative(realRoot.value, target);
        if (back === '' || back.startsWith('..') || back.startsWith(sep)) {
          out.links.push({ path, reason: 'symlink-outside', message: `symbolic link points outside the vault (${target}); not read` });
          continue;
        }
        try {
          if (!statSync(target).isFile()) continue;
        } catch {
          continue;
        }
      }
      out.files.push(`${relDir}/${d.name}`);
    }
  }
  out.subdirs.sort();
  return out;
}

/** `questions/**\/*.yaml`, sorted (UTF-16 order, as JS sorts), with forward slashes. */
export function listVaultQuestionFiles(vaultDir: string): string[] {
  const out: string[] = [];
  const realRoot: { value?: string } = {};
  const walk = (abs: string, rel: string): void => {
    const l = listDir(vaultDir, abs, rel, realRoot);
    out.push(...l.files);
    for (const s of l.subdirs) walk(join(abs, s), `${rel}/${s}`);
  };
  walk(join(vaultDir, 'questions'), 'questions');
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Records

const skipMessages: Record<string, string> = {
  empty: 'empty (no content)',
  yaml: 'not parseable as YAML',
  'not-a-mapping': 'top level is not a mapping',
  encoding: 'not valid UTF-8',
  'too-large': `larger than ${DEFAULT_MAX_FILE_BYTES} bytes (the loader's limit); not read`,
  io: 'could not be read (or not a regular file)',
  'control-character': 'contains a control character (NUL or another); validate names the field',
};
const skipMessage = (reason: string): string => skipMessages[reason] ?? reason;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The record as the index stores it: every read key present (null when absent or not a string). */
function normalize(rec: CoverageRecord): CoverageRecord {
  const out: CoverageRecord = {
    track: str(rec.track),
    zone: str(rec.zone),
    level: str(rec.level),
    topic: str(rec.topic),
    competency_area: str(rec.competency_area),
    status: str(rec.status),
  };
  if ('visual' in rec) out.visual = rec.visual !== null && typeof rec.visual === 'object' ? {} : null;
  return Object.freeze(out);
}

const NUL = '\u0000';
function recordKey(r: IndexRecord): string {
  if (!r.record) return `!${r.skip}`;
  const x = r.record;
  let key = String(visualKind(x));
  for (const k of RECORD_FIELDS) key += `${NUL}${x[k] === null ? '\u0001' : (x[k] as string)}`;
  return key;
}

// ---------------------------------------------------------------------------------------------
// The analyzer

interface State extends IndexData {
  /** Distinct record key → index in `records`; built on first need (a re-read file). */
  recordIds: Map<string, number> | undefined;
}

/** A file's record before and after this scan (null: none, or skipped). */
type Delta = [CoverageRecord | null, CoverageRecord | null];

const emptyState = (): State => ({
  scanStartMs: 0,
  records: [],
  recordIds: new Map(),
  tallies: {},
  dirs: [],
  files: [],
  size: new Float64Array(0),
  mtimeMs: new Float64Array(0),
  ctimeMs: new Float64Array(0),
  ino: new Float64Array(0),
  record: new Int32Array(0),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A timestamp this close to (or after) the scan that recorded it may hide a same-tick change. */
const racy = (mtimeMs: number, ctimeMs: number, scanStartMs: number, racyMs = RACY_MS): boolean => Math.max(mtimeMs, ctimeMs) >= scanStartMs - racyMs;

/**
 * Analyzes one vault repeatedly, keeping what it learned in memory (and, unless `persist` is
 * false, in the vault's index file). Every call stats every file, so an edit made between calls
 * is always seen. Not safe for concurrent calls on one instance (calls are synchronous inside).
 */
export class VaultAnalyzer {
  readonly vaultDir: string;
  readonly #persist: boolean;
  readonly #racyMs: number;
  readonly #writeDebt: number;
  /** Files read and directories listed since the index file was last written (or loaded). */
  #debt = 0;
  #state: State | undefined;
  /** The taxonomy as this analyzer last parsed or loaded it. */
  #taxonomy: KnownTaxonomy | undefined;
  /** Identity of the index file as we last read or wrote it, to notice it being deleted. */
  #diskStamp = '';
  readonly #watch: boolean;
  #watchers: DirWatchers | undefined;
  /**
   * The watchers covered every directory of #state from before the scan that produced it until
   * now, so their events name every change since: the next async call may trust them.
   */
  #trusted = false;

  /**
   * persist: read and write the index file (default true). racyMs: the racy window (default
   * RACY_MS; tests that need exact re-read counts on files they just wrote lower it).
   * writeDebt: how many files may be read (or directories listed) beyond what the index file
   * knows before it is rewritten (default WRITE_DEBT; 0 = rewrite on every change).
   * watch: keep one fs.watch per directory of `questions/` so that a warm `analyze()` stats and
   * reads only the files events named (default false; only on local Linux file systems, else
   * ignored). `analyzeSync` cannot wait for pending events and always stats every file. Call
   * close() when done (the watchers are unref'd: they never keep a process alive).
   */
  constructor(vaultDir: string, opts: { persist?: boolean; racyMs?: number; writeDebt?: number; watch?: boolean } = {}) {
    this.vaultDir = vaultDir;
    this.#persist = opts.persist ?? true;
    this.#racyMs = opts.racyMs ?? RACY_MS;
    this.#writeDebt = opts.writeDebt ?? WRITE_DEBT;
    this.#watch = (opts.watch ?? false) && watchable(vaultDir);
  }

  /** Forgets the in-memory state (the next call loads the index file, if any). */
  reset(): void {
    this.#state = undefined;
    this.#taxonomy = undefined;
    this.#diskStamp = '';
    this.#trusted = false;
  }

  /** Closes the watchers (the analyzer stays usable; a later call re-arms them). */
  close(): void {
    this.#watchers?.close();
    this.#watchers = undefined;
    this.#trusted = false;
  }

  /** The watchers, for tests that need to break them; undefined when not watching. */
  get watchers(): DirWatchers | undefined {
    return this.#watchers;
  }

  async analyze(opts: Partial<AnalyzeOptions> = {}): Promise<AnalyzeVaultResult> {
    if (this.#watch && this.#watchers) {
      // inotify queues an event when the write happens; libuv hands it to us in a poll phase.
      // Two turns of the loop include at least one poll: every write that finished before this
      // call is in the batch taken below (also on a full pass, so they are not re-read next time).
      await immediate();
      await immediate();
      return this.#run(opts, true);
    }
    return this.#run(opts, false);
  }

  analyzeSync(opts: Partial<AnalyzeOptions> = {}): AnalyzeVaultResult {
    return this.#run(opts, false);
  }

  #run(opts: Partial<AnalyzeOptions>, eventsDelivered: boolean): AnalyzeVaultResult {
    const t0 = performance.now();
    const resolved = resolveOptions(opts);
    const indexFile = join(this.vaultDir, INDEX_DIR, INDEX_FILE);
    let status: AnalyzeVaultStats['index'];
    let prev: State;
    if (this.#state) {
      status = 'memory';
      prev = this.#state;
    } else if (this.#persist) {
      const loaded = loadIndex(indexFile);
      status = loaded.status;
      prev = loaded.state;
      this.#diskStamp = loaded.stamp;
      this.#debt = 0;
    } else {
      status = 'disabled';
      prev = emptyState();
    }
    // Watching: take this interval's events before looking at any file (later events are the
    // next call's). Trust them only if the watchers covered the whole interval since the scan
    // that produced `prev`, and all of them have been delivered.
    let batch: WatchBatch | undefined;
    if (this.#watch) {
      const w = (this.#watchers ??= new DirWatchers(resolve(this.vaultDir)));
      const b = w.take();
      if (b.invalid) {
        w.close(); // error, possible overflow, a folder moved: start again from nothing
        this.#trusted = false;
      }
      if (eventsDelivered && this.#trusted && status === 'memory') batch = b;
      // Arm before the scan so that the scan's results are covered by events from now on.
      if (prev.dirs.length > 0 && w.sync(prev.dirs) > 0) batch = undefined;
    }
    this.#trusted = false;
    let scanned = batch ? scan(this.vaultDir, prev, this.#racyMs, batch) : undefined;
    scanned ??= scan(this.vaultDir, prev, this.#racyMs);
    const { state, stats, changed, deltas } = scanned;
    stats.index = status;
    stats.watch = !this.#watch ? 'off' : batch && scanned.usedEvents ? 'events' : 'full';
    if (this.#watchers) {
      // Folders first seen now were armed after they were listed: not covered, so the next call
      // stats everything once more.
      const armed = this.#watchers.sync(state.dirs);
      this.#trusted = armed === 0 && this.#watchers.size === state.dirs.length;
    }

    const records: CoverageRecord[] = [];
    for (let i = 0; i < state.files.length; i++) {
      const id = state.record[i]!;
      const r = id >= 0 ? state.records[id]!.record : null;
      if (r) records.push(r);
    }
    stats.records = records.length;
    // Counts: the previous call's (or the index file's), updated by the files that changed; or
    // counted afresh, only the set these options need. They are updated in place, so forget the
    // previous state until the new one is complete: a throw in between means a reload, not
    // counts that disagree with the rows.
    this.#state = undefined;
    const tallies = prev.tallies;
    const published = (r: CoverageRecord): boolean => r.status === 'published';
    for (const [before, after] of deltas) {
      if (tallies.all) {
        if (before) addToTally(tallies.all, before, -1);
        if (after) addToTally(tallies.all, after, 1);
      }
      if (tallies.published) {
        if (before && published(before)) addToTally(tallies.published, before, -1);
        if (after && published(after)) addToTally(tallies.published, after, 1);
      }
    }
    const which = resolved.publishedOnly ? 'published' : 'all';
    let t = tallies[which];
    if (!t) {
      t = emptyTally();
      const counts = new Int32Array(state.records.length);
      for (let i = 0; i < state.record.length; i++) if (state.record[i]! >= 0) counts[state.record[i]!]!++;
      for (let id = 0; id < counts.length; id++) {
        const r = state.records[id]!.record;
        if (r && counts[id]! > 0 && (which === 'all' || published(r))) addToTally(t, r, counts[id]!);
      }
      tallies[which] = t;
    }
    state.tallies = tallies;
    // The taxonomy (balanced strategy): from memory or the index while its file's stat is unchanged.
    let applicability = resolved.applicability;
    let taxonomyChanged = false;
    state.taxonomy = prev.taxonomy;
    if (applicability) stats.taxonomy = 'given';
    else if (resolved.strategy === 'balanced') {
      const a = applicabilityFor(this.vaultDir, this.#taxonomy, prev.taxonomy, this.#racyMs);
      this.#taxonomy = { entry: a.entry, app: a.app };
      applicability = a.app;
      stats.taxonomy = a.from;
      taxonomyChanged = a.entry.stamp !== prev.taxonomy?.stamp || a.entry.parsedAtMs !== prev.taxonomy.parsedAtMs;
      state.taxonomy = a.entry;
    }
    let indexWritten = false;
    if (this.#persist) {
      // Write when there is no good index file (absent, corrupt, foreign version, or ours was
      // deleted or replaced since we read or wrote it), or when the changes it lacks exceed the
      // write debt. Below that, the next process re-reads those few files (about 0.1 ms each)
      // instead of this one rewriting the whole index (about 10 ms for 10k files): the index is
      // a cache validated by stat, so lagging behind costs time, never correctness.
      const fresh = status === 'loaded' || (status === 'memory' && this.#diskStamp !== '' && fileStamp(indexFile) === this.#diskStamp);
      if (changed) this.#debt += stats.read + stats.dirsListed + stats.dropped;
      if (!fresh || (changed && this.#debt > this.#writeDebt) || taxonomyChanged) {
        try {
          this.#diskStamp = writeIndex(this.vaultDir, state, status !== 'loaded' && status !== 'memory');
          this.#debt = 0;
          indexWritten = true;
        } catch {
          // A read-only vault still gets analyzed; the next process simply starts cold.
        }
      }
    }
    stats.indexWritten = indexWritten;
    this.#state = state;
    const report = analyzeTally(t, { ...resolved, applicability });
    stats.ms = performance.now() - t0;
    return { report, stats, records };
  }
}

function fileStamp(file: string): string {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '';
}

function loadIndex(file: string): { state: State; status: AnalyzeVaultStats['index']; stamp: string } {
  let raw: Buffer;
  let stamp: string;
  try {
    raw = readFileSync(file);
    stamp = fileStamp(file);
  } catch {
    return { state: emptyState(), status: 'absent', stamp: '' };
  }
  const d = decodeIndex(raw);
  if (d.status !== 'loaded') return { state: emptyState(), status: d.status, stamp };
  return { state: { ...d.data, recordIds: undefined }, status: 'loaded', stamp };
}

function writeIndex(vaultDir: string, state: State, dropLegacy: boolean): string {
  const dir = join(vaultDir, INDEX_DIR);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, INDEX_FILE);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, encodeIndex(state));
  renameSync(tmp, file); // atomic: a concurrent reader sees the old or the new index, never half
  if (dropLegacy) rmSync(join(dir, LEGACY_INDEX_FILE), { force: true });
  return fileStamp(file);
}

const STAT_OPTS = { throwIfNoEntry: false } as const;

interface Scanned {
  state: State;
  stats: AnalyzeVaultStats;
  changed: boolean;
  deltas: Delta[];
  usedEvents: boolean;
}

/**
 * One pass over the vault against the previous state. Pure apart from reading the file system.
 *
 * With `events` (watcher events covering everything since `prev` was scanned): directories are
 * still all stat'ed (about 1 ms), as a check on the events; files are stat'ed and read only when
 * an event named them, they are new rows, their last read failed, or their folder holds symlinks.
 * A folder whose stat changed although no event named it means the events missed something:
 * returns undefined, and the caller does the full pass.
 */
function scan(vaultDir: string, prev: State, racyMs: number): Scanned;
function scan(vaultDir: string, prev: State, racyMs: number, events: WatchBatch): Scanned | undefined;
function scan(vaultDir: string, prev: State, racyMs: number, events?: WatchBatch): Scanned | undefined {
  const scanStartMs = Date.now();
  const stats: AnalyzeVaultStats = {
    files: 0,
    records: 0,
    skipped: [],
    links: [],
    read: 0,
    fastPath: 0,
    fromIndex: 0,
    dropped: 0,
    dirsListed: 0,
    index: 'disabled',
    watch: 'off',
    taxonomy: 'none',
    indexWritten: false,
    ms: 0,
  };
  // Plain concatenation: path.join's normalization cost more than the stat itself at 10k files.
  const base = vaultDir.endsWith(sep) ? vaultDir : vaultDir + sep;
  const absOf = sep === '/' ? (rel: string): string => base + rel : (rel: string): string => base + rel.split('/').join(sep);

  const deltas: Delta[] = [];
  const recordAt = (j: number): CoverageRecord | null => (j >= 0 && prev.record[j]! >= 0 ? prev.records[prev.record[j]!]!.record : null);

  // 1. Directories: stat each; list only those whose stat changed (or that are racy/volatile).
  const prevDirs = new Map(prev.dirs.map((d) => [d.rel, d]));
  const dirs: IndexDir[] = [];
  const fresh = new Map<string, string[]>(); // relDir → files of a directory listed now
  let dirsChanged = false;
  let settled = false;
  let missed = false;
  const realRoot: { value?: string } = {};
  const visit = (rel: string): void => {
    let st: Stats | undefined;
    try {
      st = statSync(absOf(rel), { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st?.isDirectory()) {
      if (prevDirs.has(rel)) dirsChanged = true;
      return;
    }
    const old = prevDirs.get(rel);
    const same = old !== undefined && old.mtimeMs === st.mtimeMs && old.ctimeMs === st.ctimeMs && old.ino === st.ino;
    if (events) {
      const named = events.dirs.has(rel);
      if (old && !same && !named) missed = true;
      // No racy re-listing: a change after the listing that produced `old` raised an event.
      if (missed || (same && !named && !old.volatile)) {
        dirs.push(old!);
        if (!missed) for (const s of old!.subdirs) visit(`${rel}/${s}`);
        return;
      }
    } else if (old && !old.volatile && same && !racy(old.mtimeMs, old.ctimeMs, prev.scanStartMs, racyMs)) {
      dirs.push(old);
      for (const s of old.subdirs) visit(`${rel}/${s}`);
      return;
    }
    // Stat before listing: a change racing the listing leaves a newer mtime than the one kept.
    const l = listDir(vaultDir, absOf(rel), rel, realRoot);
    stats.dirsListed++;
    stats.links.push(...l.links);
    const entry: IndexDir = { rel, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, volatile: l.volatile, subdirs: l.subdirs };
    // A racy listing re-made with the same result still counts as a change once it is no longer
    // racy, so the index stops sending every later run back to list it.
    if (!racy(entry.mtimeMs, entry.ctimeMs, scanStartMs, racyMs)) settled = true;
    if (!old || old.mtimeMs !== entry.mtimeMs || old.ctimeMs !== entry.ctimeMs || old.ino !== entry.ino || old.volatile !== entry.volatile || old.subdirs.join('/') !== entry.subdirs.join('/')) {
      dirsChanged = true;
    }
    dirs.push(entry);
    fresh.set(rel, l.files);
    for (const s of l.subdirs) visit(`${rel}/${s}`);
  };
  visit('questions');
  if (missed) return undefined;
  if (dirs.length !== prevDirs.size) dirsChanged = true;
  // With events: which rows must be stat'ed although no event named them.
  let mustStat: Set<string> | undefined;
  if (events) {
    mustStat = events.files;
    for (const d of dirs) if (d.volatile) for (const f of fresh.get(d.rel) ?? []) mustStat.add(f);
  }

  // Distinct records a row stopped using: only these can have lost their last file.
  const left: number[] = [];

  // 2. The file list: the previous one when no directory was listed again.
  let files: string[];
  let slots: Map<string, number> | undefined; // prev row of a path; undefined: same rows as prev
  if (fresh.size === 0 && !dirsChanged) {
    files = prev.files;
  } else {
    const kept = new Set(dirs.map((d) => d.rel));
    for (const rel of fresh.keys()) kept.delete(rel);
    const list: string[] = [];
    for (const f of prev.files) if (kept.has(f.slice(0, f.lastIndexOf('/')))) list.push(f);
    for (const l of fresh.values()) for (const f of l) list.push(f);
    files = list.sort();
    if (files.length === prev.files.length && files.every((f, i) => f === prev.files[i])) {
      files = prev.files;
    } else {
      dirsChanged = true;
      slots = new Map<string, number>();
      for (let i = 0; i < prev.files.length; i++) slots.set(prev.files[i]!, i);
      const now = new Set(files);
      prev.files.forEach((f, j) => {
        if (now.has(f)) return;
        stats.dropped++;
        if (prev.record[j]! >= 0) left.push(prev.record[j]!);
        const before = recordAt(j);
        if (before) deltas.push([before, null]);
      });
    }
  }

  // 3. Files: stat all; read those whose stat differs from what was recorded, or that are racy.
  const n = files.length;
  const size = new Float64Array(n);
  const mtimeMs = new Float64Array(n);
  const ctimeMs = new Float64Array(n);
  const ino = new Float64Array(n);
  const record = new Int32Array(n);
  const records = prev.records.slice();
  let recordIds: Map<string, number> | undefined;
  let changed = dirsChanged;
  // A fresh process that re-reads a few files finds their records by comparing fields, instead
  // of building a key for every distinct record first; a map is built once more are re-read.
  let searched = 0;
  const intern = (r: IndexRecord): number => {
    if (!recordIds && !prev.recordIds && searched < LINEAR_INTERN) {
      searched++;
      const id = findRecord(records, r);
      if (id >= 0) return id;
      records.push(r);
      return records.length - 1;
    }
    recordIds ??= prev.recordIds ? new Map(prev.recordIds) : new Map(records.map((x, i) => [recordKey(x), i]));
    return internId(recordIds, records, recordKey(r), r);
  };
  const ps = prev.scanStartMs;
  // Every row's stat in one call when the native addon is built (see stat-many.ts); not with
  // events, which name the few rows to stat, nor on Windows (its paths are joined differently).
  const batch = !mustStat && sep === '/' ? statMany(base, files) : undefined;
  for (let i = 0; i < n; i++) {
    const rel = files[i]!;
    const j = slots ? (slots.get(rel) ?? -1) : i;
    if (mustStat && j >= 0 && prev.record[j]! >= 0 && !mustStat.has(rel)) {
      // No event since it was recorded: unchanged (see scan's comment).
      size[i] = prev.size[j]!;
      mtimeMs[i] = prev.mtimeMs[j]!;
      ctimeMs[i] = prev.ctimeMs[j]!;
      ino[i] = prev.ino[j]!;
      record[i] = prev.record[j]!;
      stats.fromIndex++;
      const id = record[i]!;
      if (!records[id]!.record) stats.skipped.push({ path: rel, reason: records[id]!.skip as SkipReason, message: skipMessage(records[id]!.skip) });
      continue;
    }
    // The four numbers kept per file: from the batch when the addon made one, else statSync.
    let found = true;
    if (batch) {
      found = batch[i * 4]! >= 0;
      size[i] = batch[i * 4]!;
      mtimeMs[i] = batch[i * 4 + 1]!;
      ctimeMs[i] = batch[i * 4 + 2]!;
      ino[i] = batch[i * 4 + 3]!;
    } else {
      let st: Stats | undefined;
      try {
        st = statSync(absOf(rel), STAT_OPTS);
      } catch {
        st = undefined;
      }
      found = st !== undefined;
      if (st) {
        size[i] = st.size;
        mtimeMs[i] = st.mtimeMs;
        ctimeMs[i] = st.ctimeMs;
        ino[i] = st.ino;
      }
    }
    if (!found) {
      // Gone since the listing, or unreadable: keep the path, remember nothing, retry next time.
      size[i] = -1;
      record[i] = -1;
      stats.skipped.push({ path: rel, reason: 'io', message: skipMessage('io') });
      if (j < 0 || prev.record[j] !== -1) changed = true;
      if (j >= 0 && prev.record[j]! >= 0) left.push(prev.record[j]!);
      const before = recordAt(j);
      if (before) deltas.push([before, null]);
      continue;
    }
    // With events, a named file is read even when its stat looks the same (same-tick edits).
    if (!mustStat && j >= 0 && prev.record[j]! >= 0 && prev.size[j] === size[i] && prev.mtimeMs[j] === mtimeMs[i] && prev.ctimeMs[j] === ctimeMs[i] && prev.ino[j] === ino[i] && !racy(mtimeMs[i]!, ctimeMs[i]!, ps, racyMs)) {
      record[i] = prev.record[j]!;
      stats.fromIndex++;
    } else {
      stats.read++;
      const r = readRecord(absOf(rel), size[i]!, stats);
      record[i] = r ? intern(r) : -1;
      if (j >= 0 && prev.record[j]! >= 0 && record[i] !== prev.record[j]) left.push(prev.record[j]!);
      if (!r) stats.skipped.push({ path: rel, reason: 'io', message: skipMessage('io') });
      const before = recordAt(j);
      const after = r?.record ? records[record[i]!]!.record : null;
      if (before !== after) deltas.push([before, after]);
      if (j < 0 || record[i] !== prev.record[j] || size[i] !== prev.size[j] || mtimeMs[i] !== prev.mtimeMs[j] || ctimeMs[i] !== prev.ctimeMs[j] || ino[i] !== prev.ino[j]) changed = true;
      else if (!racy(mtimeMs[i]!, ctimeMs[i]!, scanStartMs, racyMs)) settled = true; // same answer, and trusted from now on
    }
    const id = record[i]!;
    if (id >= 0 && !records[id]!.record) stats.skipped.push({ path: rel, reason: records[id]!.skip as SkipReason, message: skipMessage(records[id]!.skip) });
  }
  stats.files = n;
  stats.links.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const state: State = { scanStartMs, records, recordIds: recordIds ?? prev.recordIds, tallies: {}, dirs, files, size, mtimeMs, ctimeMs, ino, record };
  // Settled racy entries are worth a write even when nothing else changed: otherwise every later
  // process would re-read them, since the index on disk still has the old scan time.
  changed ||= settled;
  if (changed && lostLastFile(state.record, left)) compactRecords(state);
  return { state, stats, changed, deltas, usedEvents: events !== undefined };
}

/** Whether any of `ids` (records some row stopped using) is used by no row now. */
function lostLastFile(record: Int32Array, ids: number[]): boolean {
  if (ids.length === 0) return false;
  const open = new Set(ids);
  for (let i = 0; i < record.length && open.size > 0; i++) if (record[i]! >= 0) open.delete(record[i]!);
  return open.size > 0;
}

/**
 * How many re-read files find their record by search before a key map of all records is built:
 * as many as the write debt leaves for a fresh process to re-read.
 */
const LINEAR_INTERN = WRITE_DEBT;

/** The index of a distinct record equal to `r` (same values as recordKey compares), or -1. */
function findRecord(records: readonly IndexRecord[], r: IndexRecord): number {
  const x = r.record;
  for (let id = 0; id < records.length; id++) {
    const y = records[id]!.record;
    if (!x || !y) {
      if (!x && !y && records[id]!.skip === r.skip) return id;
      continue;
    }
    // The topic first: it tells most records apart, so the full comparison runs on few.
    if (x.topic === y.topic && visualKind(x) === visualKind(y) && RECORD_FIELDS.every((k) => x[k] === y[k])) return id;
  }
  return -1;
}

/** Drops distinct records no file uses any more, so edits over a long run do not pile them up. */
function compactRecords(s: State): void {
  const used = new Int32Array(s.records.length).fill(-1);
  for (let i = 0; i < s.record.length; i++) if (s.record[i]! >= 0) used[s.record[i]!] = 0;
  const records: IndexRecord[] = [];
  for (let id = 0; id < used.length; id++) {
    if (used[id] === 0) {
      used[id] = records.length;
      records.push(s.records[id]!);
    }
  }
  if (records.length === s.records.length) return;
  for (let i = 0; i < s.record.length; i++) if (s.record[i]! >= 0) s.record[i] = used[s.record[i]!]!;
  s.records = records;
  s.recordIds = undefined;
}

/**
 * A file's distinct record, or null when it could not be read at all (I/O error). A file over the
 * loader's size limit is not read: the run's loader skips it too, so it is counted by neither.
 */
function readRecord(abs: string, size: number, stats: AnalyzeVaultStats): IndexRecord | null {
  if (size > DEFAULT_MAX_FILE_BYTES) return { record: null, skip: 'too-large' };
  let bytes: Buffer;
  try {
    bytes = readRegularFileSync(abs);
  } catch (e) {
    // A FIFO, device or socket is skipped as unreadable, never waited on.
    if (e instanceof NotRegularFileError) return { record: null, skip: 'io' };
    return null;
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { record: null, skip: 'encoding' };
  }
  // As the loader: a control character (NUL among them) makes the file invalid, not counted.
  if (CONTROL_CHARACTER.test(text)) return { record: null, skip: 'control-character' };
  const r = parseCoverage(text);
  if (r.fast) stats.fastPath++;
  return r.ok ? { record: normalize(r.record), skip: '' } : { record: null, skip: r.reason };
}

// ---------------------------------------------------------------------------------------------
// Applicability (balanced strategy): parsed once per version of the vault's taxonomy file, kept
// by the analyzer and in the index with the file's stat, so a fresh process skips the YAML parser.

interface KnownTaxonomy {
  entry: IndexTaxonomy;
  app: Applicability;
}

const taxonomyStamp = (st: Stats | undefined): string => (st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : '');

function applicabilityOf(file: string, entry: IndexTaxonomy): Applicability {
  if (entry.topics === null) return Applicability.builtin();
  const map = new Map<string, Set<Track>>();
  for (const [topic, tracks] of Object.entries(entry.topics)) map.set(topic, new Set(tracks.filter(isTrack)));
  return new Applicability(map, file);
}

/**
 * The vault's applicability and the entry the index keeps for it. An entry is trusted while the
 * file's stat equals the one taken before it was parsed and the file was not racy then (a
 * same-tick edit could hide behind an equal stat); otherwise the file is parsed again.
 */
function applicabilityFor(
  vaultDir: string,
  memory: KnownTaxonomy | undefined,
  stored: IndexTaxonomy | undefined,
  racyMs: number,
): KnownTaxonomy & { from: 'parsed' | 'index' | 'memory' } {
  const file = join(vaultDir, 'schema', 'taxonomy_data.yaml');
  const parsedAtMs = Date.now();
  let st: Stats | undefined;
  try {
    st = statSync(file, { throwIfNoEntry: false });
  } catch {
    st = undefined;
  }
  const stamp = taxonomyStamp(st);
  const trusted = (e: IndexTaxonomy): boolean => e.stamp === stamp && (!st || !racy(st.mtimeMs, st.ctimeMs, e.parsedAtMs, racyMs));
  if (memory && trusted(memory.entry)) return { ...memory, from: 'memory' };
  if (stored && trusted(stored)) return { entry: stored, app: applicabilityOf(file, stored), from: 'index' };
  const app = st ? Applicability.forVault(vaultDir) : Applicability.builtin();
  return { entry: { stamp, parsedAtMs, topics: st ? app.toRecord() : null }, app, from: 'parsed' };
}

// ---------------------------------------------------------------------------------------------
// The entry point

/** Same-process state per vault, for hosts that re-analyze every iteration. Small LRU. */
const analyzers = new Map<string, VaultAnalyzer>();
const MAX_CACHED_VAULTS = 8;

/** Drops the same-process state of every vault (tests; memory pressure). */
export function clearVaultAnalyzerCache(): void {
  for (const a of analyzers.values()) a.close();
  analyzers.clear();
}

/** Analyzes a vault's questions, using the index (and this process's memory of it) when allowed. */
export async function analyzeVault(vaultDir: string, opts: AnalyzeVaultOptions = {}): Promise<AnalyzeVaultResult> {
  const { useIndex = true, memoryCache = true, watch = WATCH_DEFAULT, ...analyzeOpts } = opts;
  if (!useIndex) return new VaultAnalyzer(vaultDir, { persist: false }).analyzeSync(analyzeOpts);
  if (!memoryCache) return new VaultAnalyzer(vaultDir).analyzeSync(analyzeOpts);
  const key = resolve(vaultDir);
  let a = analyzers.get(key);
  if (a) analyzers.delete(key);
  else a = new VaultAnalyzer(key, { watch });
  analyzers.set(key, a); // most recently used last
  if (analyzers.size > MAX_CACHED_VAULTS) {
    const oldest = analyzers.keys().next().value!;
    analyzers.get(oldest)!.close();
    analyzers.delete(oldest);
  }
  return a.analyze(analyzeOpts);
}
