/**
 * Warm re-analysis: the on-disk index (a fresh VaultAnalyzer per call = a fresh process) and the
 * in-memory state (one VaultAnalyzer across calls = the pipeline's corpus host). Every warm answer
 * is compared with a cold analysis of the same files (useIndex: false).
 *
 * Most tests use racyMs: 0 so re-read counts are exact on files written a moment ago, and
 * writeDebt: 0 so every change is written at once; the defaults have their own tests.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  analyzeRecords,
  analyzeVault,
  clearVaultAnalyzerCache,
  INDEX_DIR,
  INDEX_FILE,
  INDEX_VERSION,
  VaultAnalyzer,
  watchable,
  type AnalyzeOptions,
  type AnalyzeVaultResult,
} from '../../src/analysis/index.js';
import { crc32, decodeIndex } from '../../src/analysis/vault-index.js';
import { useNativeStat } from '../../src/analysis/stat-many.js';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { DEFAULT_MAX_FILE_BYTES } from '../../src/corpus/loader.js';
import { TOPICS } from '../../src/corpus/taxonomy.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-analysis-warm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const q = (track: string, id: number, zone = 'recall', level = 'L1', status = 'published') =>
  `schema_version: '1.0'\nid: ${track}-${String(id).padStart(4, '0')}\ntrack: ${track}\nlevel: ${level}\nzone: ${zone}\ntopic: duty-cycling\ncompetency_area: power\nstatus: ${status}\n`;

let vaults = 0;
/** 40 questions in two folders plus one unparseable file; returns the vault dir. */
async function makeVault(): Promise<string> {
  const dir = join(tmp, `v${++vaults}`);
  mkdirSync(join(dir, 'questions', 'edge', 'power'), { recursive: true });
  mkdirSync(join(dir, 'questions', 'cloud', 'power'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'questions', 'edge', 'power', `edge-${i}.yaml`), q('edge', i, i % 2 ? 'recall' : 'analyze', `L${1 + (i % 3)}`, i % 4 ? 'published' : 'draft'));
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'questions', 'cloud', 'power', `cloud-${i}.yaml`), q('cloud', i));
  writeFileSync(join(dir, 'questions', 'edge', 'power', 'broken.yaml'), "id: 'x\ntrack: [\n");
  await sleep(5); // racyMs 0: the files must be older than the scan's start
  return dir;
}

const OPTS: Partial<AnalyzeOptions> = { strategy: 'reference', total: 10 };
const strip = (r: AnalyzeVaultResult) => ({ report: { ...r.report, generated_at: '' }, records: r.records, skipped: r.stats.skipped });
const cold = (dir: string, opts: Partial<AnalyzeOptions> = OPTS) => analyzeVault(dir, { ...opts, useIndex: false });
/** A fresh process: nothing in memory, only the index file. */
const EXACT = { racyMs: 0, writeDebt: 0 };
const freshProcess = (dir: string, opts: Partial<AnalyzeOptions> = OPTS) => new VaultAnalyzer(dir, EXACT).analyze(opts);

/** utimes takes whole milliseconds at best: give a file a whole-second mtime it can get back exactly. */
function wholeSecondMtime(file: string): void {
  const t = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  utimesSync(file, t, t);
}

/** `a`'s next answer for `dir`: its stats match `stats`, and it equals a cold analysis of the same files. */
async function expectWarm(a: VaultAnalyzer, dir: string, stats: Partial<AnalyzeVaultResult['stats']>): Promise<AnalyzeVaultResult> {
  const w = await a.analyze(OPTS);
  expect(w.stats).toMatchObject(stats);
  expect(strip(w)).toStrictEqual(strip(await cold(dir)));
  return w;
}

const indexFile = (dir: string) => join(dir, INDEX_DIR, INDEX_FILE);
const f = (dir: string, name: string) => join(dir, 'questions', 'edge', 'power', name);

/** Runs the same scenario against a fresh analyzer per call and against one long-lived analyzer. */
/** A fresh process that stats file by file with statSync, as where the native addon is not built. */
async function freshProcessStatSync(dir: string, o?: Partial<AnalyzeOptions>): Promise<AnalyzeVaultResult> {
  useNativeStat(false);
  try {
    return await freshProcess(dir, o);
  } finally {
    useNativeStat(true);
  }
}

const modes = [
  { name: 'fresh process (index file)', make: () => (dir: string, o?: Partial<AnalyzeOptions>) => freshProcess(dir, o), warmIndex: 'loaded' },
  { name: 'fresh process, statSync file by file (no native addon)', make: () => freshProcessStatSync, warmIndex: 'loaded' },
  {
    name: 'same process (memory)',
    make: () => {
      let a: VaultAnalyzer | undefined;
      return (dir: string, o?: Partial<AnalyzeOptions>) => (a ??= new VaultAnalyzer(dir, EXACT)).analyze(o ?? OPTS);
    },
    warmIndex: 'memory',
  },
  {
    // Primed with a second call on first use, so every later call takes the watcher path.
    name: 'same process (watchers)',
    make: () => {
      let a: VaultAnalyzer | undefined;
      return async (dir: string, o?: Partial<AnalyzeOptions>) => {
        if (a) return a.analyze(o ?? OPTS);
        a = new VaultAnalyzer(dir, { ...EXACT, watch: true });
        analyzersToClose.push(a);
        const first = await a.analyze(o ?? OPTS);
        expect((await a.analyze(o ?? OPTS)).stats.watch).toBe('full');
        return first;
      };
    },
    warmIndex: 'memory',
  },
] as const;
const analyzersToClose: VaultAnalyzer[] = [];
afterAll(() => {
  for (const a of analyzersToClose) a.close();
});

describe.each(modes)('warm re-analysis: $name', ({ make, warmIndex }) => {
  /** A vault analysed once by a new `run`, with `name` given a whole-second mtime before: that file's stat then. */
  async function analysedWithWholeSecond(name: string) {
    const dir = await makeVault();
    const run = make();
    const file = f(dir, name);
    wholeSecondMtime(file);
    await sleep(5);
    await run(dir);
    return { dir, run, file, st: statSync(file) };
  }

  it('re-reads nothing when nothing changed, lists no directory, and does not rewrite the index', async () => {
    const dir = await makeVault();
    const run = make();
    const c = await run(dir);
    expect(c.stats).toMatchObject({ index: 'absent', read: 41, records: 40, dirsListed: 5, indexWritten: true });
    expect(c.stats.skipped.map((s) => s.reason)).toEqual(['yaml']);
    const before = statSync(indexFile(dir));
    const w = await run(dir);
    expect(w.stats).toMatchObject({ index: warmIndex, read: 0, fromIndex: 41, dirsListed: 0, indexWritten: false });
    expect(statSync(indexFile(dir)).mtimeMs).toBe(before.mtimeMs);
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
  });

  it('sees a file edited in place with the same size and a new mtime', async () => {
    const dir = await makeVault();
    const run = make();
    await run(dir);
    const file = f(dir, 'edge-4.yaml');
    const text = readFileSync(file, 'utf8');
    const edited = text.replace('level: L2', 'level: L5').replace('status: draft', 'status: glaft');
    expect(edited.length).toBe(text.length);
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    const t = new Date(statSync(file).mtimeMs + 7000);
    utimesSync(file, t, t);
    await sleep(5);
    const w = await run(dir);
    expect(w.stats).toMatchObject({ index: warmIndex, read: 1, fromIndex: 40, dirsListed: 0, indexWritten: true });
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    expect(w.report.track_zone_level_gaps.find((r) => r.track === 'edge' && r.zone === 'analyze' && r.level === 'L5')?.actual).toBe(1);
  });

  it('sees an edit whose mtime was set back to the old one (same size): ctime changed', async () => {
    const { dir, run, file, st } = await analysedWithWholeSecond('edge-0.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('zone: analyze', 'zone: analyse'));
    utimesSync(file, st.atime, st.mtime); // as cp -p / rsync -t would leave it
    expect(statSync(file).mtimeMs).toBe(st.mtimeMs);
    expect(statSync(file).size).toBe(st.size);
    await sleep(5);
    const w = await run(dir);
    expect(w.stats).toMatchObject({ read: 1, fromIndex: 40 });
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
  });

  it('sees a new file, a deleted file and a renamed file', async () => {
    const dir = await makeVault();
    const run = make();
    await run(dir);
    writeFileSync(f(dir, 'mobile-99.yaml'), q('mobile', 99, 'design', 'L3'));
    unlinkSync(f(dir, 'edge-7.yaml'));
    renameSync(join(dir, 'questions', 'cloud', 'power', 'cloud-3.yaml'), join(dir, 'questions', 'cloud', 'power', 'cloud-3-renamed.yaml'));
    mkdirSync(join(dir, 'questions', 'tinyml', 'new'), { recursive: true });
    writeFileSync(join(dir, 'questions', 'tinyml', 'new', 'tinyml-1.yaml'), q('tinyml', 1));
    await sleep(5);
    const w = await run(dir);
    // New: mobile-99, cloud-3-renamed, tinyml-1. Gone: edge-7, cloud-3.
    expect(w.stats).toMatchObject({ index: warmIndex, read: 3, dropped: 2, fromIndex: 39, files: 42, records: 41, indexWritten: true });
    expect(w.stats.dirsListed).toBe(5); // questions, edge/power, cloud/power, tinyml, tinyml/new
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    // And the next run trusts the new listings again.
    const again = await run(dir);
    expect(again.stats).toMatchObject({ read: 0, dirsListed: 0, indexWritten: false });
  });

  it('sees a file replaced by rename (temp file + rename) with the same size and mtime', async () => {
    const { dir, run, file, st } = await analysedWithWholeSecond('edge-5.yaml');
    expect(st.mtimeMs % 1000).toBe(0);
    writeFileSync(`${file}.tmp`, readFileSync(file, 'utf8').replace('level: L3', 'level: L4'));
    utimesSync(`${file}.tmp`, st.atime, st.mtime);
    renameSync(`${file}.tmp`, file);
    await sleep(5);
    const w = await run(dir);
    expect(w.stats.read).toBe(1);
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
  });

  it('keeps one distinct record per value: a re-read file reuses an existing one, and a record is dropped once its last file leaves it', async () => {
    const dir = await makeVault();
    const run = make();
    await run(dir);
    const distinct = (): number => {
      const d = decodeIndex(readFileSync(indexFile(dir)));
      if (d.status !== 'loaded') throw new Error(`index ${indexFile(dir)}: expected a loadable index, got ${d.status}`);
      return d.data.records.length;
    };
    const r0 = distinct();
    // edge-0 gets a record no other file has; its old one (analyze, L1, draft) is still edge-12's.
    writeFileSync(f(dir, 'edge-0.yaml'), q('edge', 0, 'design', 'L4'));
    await sleep(5);
    let w = await run(dir);
    expect(w.stats).toMatchObject({ read: 1, indexWritten: true });
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    expect(distinct()).toBe(r0 + 1);
    // edge-0 now holds the cloud files' record: no new record, and the design record has no file left.
    writeFileSync(f(dir, 'edge-0.yaml'), q('cloud', 0));
    await sleep(5);
    w = await run(dir);
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    expect(distinct()).toBe(r0);
    const cloud = w.records.filter((r) => r.track === 'cloud');
    expect(cloud).toHaveLength(21);
    expect(new Set(cloud).size).toBe(1);
    // Deleting edge-12 takes the last file of (analyze, L1, draft).
    unlinkSync(f(dir, 'edge-12.yaml'));
    await sleep(5);
    w = await run(dir);
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    expect(distinct()).toBe(r0 - 1);
    // edge-1 and edge-3 move to the cloud record, but edge-7 and edge-9 keep their old records.
    writeFileSync(f(dir, 'edge-1.yaml'), q('cloud', 1));
    writeFileSync(f(dir, 'edge-3.yaml'), q('cloud', 3));
    await sleep(5);
    w = await run(dir);
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    expect(distinct()).toBe(r0 - 1);
  });

  it('keeps the counts right through many edits, for every option set', async () => {
    const dir = await makeVault();
    const run = make();
    const optionSets: Partial<AnalyzeOptions>[] = [OPTS, { ...OPTS, publishedOnly: true }, { strategy: 'balanced', total: 20 }, { strategy: 'balanced', total: 20, publishedOnly: true, visual: true }];
    await run(dir);
    for (let round = 0; round < 4; round++) {
      writeFileSync(f(dir, `edge-${round}.yaml`), q('edge', round, 'design', 'L4', round % 2 ? 'draft' : 'published') + (round === 2 ? 'visual:\n  kind: svg\n' : ''));
      if (round === 1) unlinkSync(f(dir, 'edge-10.yaml'));
      if (round === 3) writeFileSync(f(dir, 'edge-10.yaml'), '');
      await sleep(5);
      for (const o of optionSets) expect(strip(await run(dir, o))).toStrictEqual(strip(await cold(dir, o)));
    }
    const last = await run(dir);
    expect(last.report).toMatchObject({ n_records: analyzeRecords(last.records, OPTS).n_records });
  });
});

describe.each(modes)('the taxonomy and symbolic links, warm: $name', ({ make, warmIndex }) => {
  const BALANCED: Partial<AnalyzeOptions> = { strategy: 'balanced', total: 30 };
  // The first topic in taxonomy order is what an empty cell gets first: restricting it moves the plan.
  const first = TOPICS[0]!;
  const taxonomy = (tracks: string) => `topics:\n  - id: ${first}\n    tracks: [${tracks}]\n`;
  const planned = (r: AnalyzeVaultResult) => r.report.recommended_plan.filter((c) => c.topic === first && c.track !== 'global').length;

  it('takes the parsed taxonomy from memory or the index while its file is unchanged, and sees every edit to it', async () => {
    const dir = await makeVault();
    const file = join(dir, 'schema', 'taxonomy_data.yaml');
    mkdirSync(join(dir, 'schema'));
    writeFileSync(file, taxonomy('cloud, edge, mobile, tinyml'));
    await sleep(5);
    const run = make();
    const c = await run(dir, BALANCED);
    expect(c.stats.taxonomy).toBe('parsed');
    expect(planned(c)).toBeGreaterThan(0);
    const w = await run(dir, BALANCED);
    expect(w.stats.taxonomy).toBe(warmIndex === 'loaded' ? 'index' : 'memory');
    expect(strip(w)).toStrictEqual(strip(await cold(dir, BALANCED)));
    // An edit of the same size whose mtime is set back: the ctime tells.
    const before = statSync(file);
    writeFileSync(file, taxonomy('cloud, xxxx, yyyyyy, zzzzzz'));
    expect(statSync(file).size).toBe(before.size);
    utimesSync(file, before.atime, before.mtime);
    await sleep(5);
    const edited = await run(dir, BALANCED);
    expect(edited.stats.taxonomy).toBe('parsed');
    expect(planned(edited)).toBeLessThan(planned(c));
    expect(strip(edited)).toStrictEqual(strip(await cold(dir, BALANCED)));
    // Deleted: the blocklist alone, as with no taxonomy file at all.
    rmSync(file);
    const gone = await run(dir, BALANCED);
    expect(gone.stats.taxonomy).toBe('parsed');
    expect(strip(gone)).toStrictEqual(strip(await cold(dir, BALANCED)));
    expect(planned(gone)).toBe(planned(c));
  });

  it('names symlinks that point outside the vault or nowhere, added or removed after the index was written', async () => {
    const dir = await makeVault();
    const run = make();
    expect((await run(dir)).stats.links).toEqual([]);
    const outside = join(tmp, `outside-${vaults}.yaml`);
    writeFileSync(outside, q('edge', 900));
    symlinkSync(outside, f(dir, 'out.yaml'));
    symlinkSync(join(dir, 'no-such-file.yaml'), f(dir, 'dangling.yaml'));
    symlinkSync(f(dir, 'edge-1.yaml'), f(dir, 'inside.yaml'));
    await sleep(5);
    const w = await run(dir);
    expect(w.stats.links.map((l) => [l.path.split('/').at(-1), l.reason])).toEqual([
      ['dangling.yaml', 'broken-symlink'],
      ['out.yaml', 'symlink-outside'],
    ]);
    expect(w.stats.links[1]!.message).toMatch(/^symbolic link points outside the vault \(.*outside-\d+\.yaml\); not read$/);
    expect(w.stats.links[0]!.message).toMatch(/^broken symbolic link \(ENOENT/);
    // The link inside the vault counts; the others are never read.
    expect(w.stats.records).toBe(41);
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    // Still named on the next warm run (their folder is listed every time), and gone once removed.
    expect((await run(dir)).stats.links).toHaveLength(2);
    unlinkSync(f(dir, 'out.yaml'));
    await sleep(5);
    expect((await run(dir)).stats.links.map((l) => l.reason)).toEqual(['broken-symlink']);
    unlinkSync(f(dir, 'dangling.yaml'));
    await sleep(5);
    expect((await run(dir)).stats.links).toEqual([]);
  });
});

describe('the index file', () => {
  it('is safe to delete: a fresh process rebuilds it; a long-lived analyzer writes it back', async () => {
    const dir = await makeVault();
    const host = new VaultAnalyzer(dir, EXACT);
    await host.analyze(OPTS);
    rmSync(join(dir, INDEX_DIR), { recursive: true });
    const h = await host.analyze(OPTS);
    expect(h.stats).toMatchObject({ index: 'memory', read: 0, indexWritten: true });
    rmSync(join(dir, INDEX_DIR), { recursive: true });
    const c = await freshProcess(dir);
    expect(c.stats).toMatchObject({ index: 'absent', read: 41, indexWritten: true });
    expect((await freshProcess(dir)).stats).toMatchObject({ index: 'loaded', read: 0 });
    expect(strip(c)).toStrictEqual(strip(await cold(dir)));
  });

  it('is checked with zlib\'s CRC-32, which Nodes without zlib.crc32 compute the same way', () => {
    // Known CRC-32 values (the last is the algorithm's standard check value), then continuation.
    const known: [string, number][] = [['', 0], ['a', 0xe8b7be43], ['abc', 0x352441c2], ['The quick brown fox jumps over the lazy dog', 0x414fa339], ['123456789', 0xcbf43926]];
    for (const [text, crc] of known) expect(crc32(Buffer.from(text)), text).toBe(crc);
    expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926);
    // Where Node has zlib.crc32 (20.15+), the JS CRC answers the same on random bytes.
    const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
    for (let i = 0; native && i < 50; i++) {
      const bytes = randomBytes(i * 61);
      expect(crc32(bytes, i)).toBe(native(bytes, i));
    }
  });

  it('carries every counted value as written: empty, accented, astral, a NUL and a lone surrogate from YAML escapes', async () => {
    const dir = await makeVault();
    const odd = (name: string, topic: string): void => writeFileSync(f(dir, name), q('edge', 50).replace('topic: duty-cycling', `topic: ${topic}`));
    odd('edge-empty.yaml', '""');
    odd('edge-accent.yaml', 'réseau-à-faible-latence');
    odd('edge-astral.yaml', String.raw`"\U0001F680-launch"`);
    odd('edge-nul.yaml', String.raw`"a\0b"`); // the key's own separator, inside a value
    await sleep(5);
    const stored = () => {
      const d = decodeIndex(readFileSync(indexFile(dir)));
      if (d.status !== 'loaded') throw new Error(`index ${indexFile(dir)}: expected a loadable index, got ${d.status}`);
      return d.data.tallies;
    };
    const check = async (): Promise<void> => {
      const want = strip(await cold(dir));
      for (const opts of [OPTS, { ...OPTS, publishedOnly: true }]) {
        const first = await freshProcess(dir, opts);
        const second = await freshProcess(dir, opts);
        expect(second.stats).toMatchObject({ index: 'loaded', read: 0 });
        expect(strip(second).report).toStrictEqual(strip(await cold(dir, opts)).report);
        expect(strip(first).report).toStrictEqual(strip(second).report);
      }
      expect(strip(await freshProcess(dir))).toStrictEqual(want);
    };
    await check();
    const t = stored();
    expect(t.all?.trackTopic.get('edge\u0000a\u0000b')).toBe(1);
    expect(t.all?.trackTopic.get('edge\u0000\u{1F680}-launch')).toBe(1);
    expect(t.all?.trackTopic.get('edge\u0000')).toBe(1);
    expect(t.all?.trackTopic.get('edge\u0000réseau-à-faible-latence')).toBe(1);
    // A lone surrogate cannot be written as UTF-8: the counts are left out of the index and
    // counted again from the rows, never stored mangled.
    odd('edge-surrogate.yaml', String.raw`"\uD800-half"`);
    await sleep(5);
    await check();
    expect(stored().all).toBeUndefined();
    expect((await freshProcess(dir)).report.n_records).toBe(45);
  });

  it('is ignored and rebuilt when corrupt, truncated, bit-flipped, foreign or of version 1', async () => {
    const dir = await makeVault();
    await freshProcess(dir);
    const good = readFileSync(indexFile(dir));
    const flipped = Buffer.from(good);
    flipped[flipped.length - 10]! ^= 0x01; // inside the count keys: only the checksum can tell
    const foreign = Buffer.from(good);
    foreign.writeUInt32LE(INDEX_VERSION + 1, 4);
    const at = (offset: number, value: number): Buffer => {
      const b = Buffer.from(good);
      b.writeUInt32LE(value, offset);
      return b;
    };
    const cases: [string, Buffer | string, string][] = [
      ['garbage', '{ not an index', 'corrupt'],
      ['empty', '', 'corrupt'],
      ['truncated', good.subarray(0, good.length - 7), 'corrupt'],
      ['bit flip', flipped, 'corrupt'],
      ['row count 0', at(8, 0), 'corrupt'],
      ['row count one less', at(8, good.readUInt32LE(8) - 1), 'corrupt'],
      ['header length 8 more', at(12, good.readUInt32LE(12) + 8), 'corrupt'],
      ['bytes appended', Buffer.concat([good, Buffer.alloc(8)]), 'corrupt'],
      ['foreign version', foreign, 'stale-version'],
    ];
    const want = strip(await cold(dir));
    for (const [what, bytes, status] of cases) {
      writeFileSync(indexFile(dir), bytes);
      const r = await freshProcess(dir);
      expect(r.stats, what).toMatchObject({ index: status, read: 41, indexWritten: true });
      expect(strip(r), what).toStrictEqual(want);
      expect((await freshProcess(dir)).stats, what).toMatchObject({ index: 'loaded', read: 0 });
    }
    // A version-1 JSON index next to it is removed when the new one is written.
    rmSync(indexFile(dir));
    writeFileSync(join(dir, INDEX_DIR, 'analysis-index.json'), JSON.stringify({ version: 1, entries: {} }));
    await freshProcess(dir);
    expect(() => statSync(join(dir, INDEX_DIR, 'analysis-index.json'))).toThrow();
  });
});

describe('files the analyzer will not count', () => {
  it('a file over the loader\'s size limit and one not in UTF-8: skipped with their reason, remembered, counted once fixed', async () => {
    const dir = await makeVault();
    const huge = f(dir, 'edge-huge.yaml');
    const latin1 = f(dir, 'edge-latin1.yaml');
    writeFileSync(huge, q('edge', 90) + `title: "${'a'.repeat(DEFAULT_MAX_FILE_BYTES)}"\n`);
    writeFileSync(latin1, Buffer.concat([Buffer.from(q('edge', 91) + 'title: "caf'), Buffer.from([0xe9]), Buffer.from('"\n')]));
    await sleep(5);
    const c = await freshProcess(dir);
    const reasons = Object.fromEntries(c.stats.skipped.map((s) => [s.path.split('/').at(-1), [s.reason, s.message]]));
    expect(reasons).toEqual({
      'broken.yaml': ['yaml', 'not parseable as YAML'],
      'edge-huge.yaml': ['too-large', `larger than ${DEFAULT_MAX_FILE_BYTES} bytes (the loader's limit); not read`],
      'edge-latin1.yaml': ['encoding', 'not valid UTF-8'],
    });
    expect(c.stats.records).toBe(40);
    // The index remembers why: nothing is read again while the files stay as they are.
    const w = await freshProcess(dir);
    expect(w.stats).toMatchObject({ index: 'loaded', read: 0, records: 40 });
    expect(w.stats.skipped.map((s) => s.reason).sort()).toEqual(['encoding', 'too-large', 'yaml']);
    // Fixed, both count.
    writeFileSync(huge, q('edge', 90));
    writeFileSync(latin1, q('edge', 91));
    await sleep(5);
    const fixed = await freshProcess(dir);
    expect(fixed.stats).toMatchObject({ read: 2, records: 42 });
    expect(strip(fixed)).toStrictEqual(strip(await cold(dir)));
  });
});

describe('write debt (default)', () => {
  it('leaves a few changes for the next process to re-read, and rewrites once they add up', async () => {
    const dir = await makeVault();
    const process1 = (): Promise<AnalyzeVaultResult> => new VaultAnalyzer(dir, { racyMs: 0 }).analyze(OPTS);
    await process1();
    const before = readFileSync(indexFile(dir));
    writeFileSync(f(dir, 'edge-3.yaml'), q('edge', 3, 'design', 'L4'));
    await sleep(5);
    const a = await process1();
    expect(a.stats).toMatchObject({ index: 'loaded', read: 1, indexWritten: false });
    expect(readFileSync(indexFile(dir)).equals(before)).toBe(true);
    const b = await process1(); // the index still lacks the edit: read again, same answer
    expect(b.stats).toMatchObject({ read: 1, indexWritten: false });
    expect(strip(b)).toStrictEqual(strip(await cold(dir)));
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'questions', 'cloud', 'power', `cloud-${i}.yaml`), q('cloud', i, 'design', 'L2'));
    await sleep(5);
    const c = await process1();
    expect(c.stats).toMatchObject({ read: 21, indexWritten: false }); // 21 <= WRITE_DEBT
    for (let i = 0; i < 20; i++) writeFileSync(f(dir, `edge-${i}.yaml`), q('edge', i, 'design', 'L3'));
    await sleep(5);
    const d = await process1();
    expect(d.stats).toMatchObject({ read: 40, indexWritten: true }); // 40 > WRITE_DEBT
    expect(strip(d)).toStrictEqual(strip(await cold(dir)));
    expect((await process1()).stats).toMatchObject({ read: 0, indexWritten: false });
  });
});

describe('racy entries (default window)', () => {
  it('re-reads a file changed right after it was read, even within the same timestamp tick', async () => {
    const dir = await makeVault();
    const file = f(dir, 'edge-1.yaml');
    wholeSecondMtime(file);
    const host = new VaultAnalyzer(dir); // default RACY_MS
    await host.analyze(OPTS);
    const st = statSync(file);
    writeFileSync(file, readFileSync(file, 'utf8').replace('zone: recall', 'zone: recalm'));
    utimesSync(file, st.atime, st.mtime);
    const w = await host.analyze(OPTS);
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    // Files written moments ago are not trusted from the index yet: read again, same answer.
    const fresh = await new VaultAnalyzer(dir).analyze(OPTS);
    expect(fresh.stats.read).toBeGreaterThan(0);
    expect(strip(fresh)).toStrictEqual(strip(await cold(dir)));
  });
});

describe('analyzeVault (module-level memory per vault)', () => {
  it('answers from memory on the second call in a process, validated by stat', async () => {
    clearVaultAnalyzerCache();
    const dir = await makeVault();
    const a = await analyzeVault(dir, OPTS);
    expect(a.stats.index).toBe('absent');
    writeFileSync(f(dir, 'edge-2.yaml'), q('edge', 2, 'mastery', 'L6+'));
    const b = await analyzeVault(dir, OPTS);
    expect(b.stats.index).toBe('memory');
    expect(strip(b)).toStrictEqual(strip(await cold(dir)));
    expect((await analyzeVault(dir, { ...OPTS, memoryCache: false })).stats.index).toBe('loaded');
    clearVaultAnalyzerCache();
    expect((await analyzeVault(dir, OPTS)).stats.index).toBe('loaded');
  });
});

describe('watchers (same process): stat and read only what events named', () => {
  /** A watching analyzer past its first two (full) calls. */
  async function primed(dir: string): Promise<VaultAnalyzer> {
    const a = new VaultAnalyzer(dir, { ...EXACT, watch: true });
    analyzersToClose.push(a);
    expect((await a.analyze(OPTS)).stats).toMatchObject({ watch: 'full', read: 41 });
    expect((await a.analyze(OPTS)).stats).toMatchObject({ watch: 'full', read: 0 }); // events of the first scan's interval are not trusted
    const w = await a.analyze(OPTS);
    expect(w.stats).toMatchObject({ watch: 'events', read: 0, fromIndex: 41, dirsListed: 0 });
    return a;
  }

  it('is available on this machine (Linux, local file system)', () => {
    expect(process.platform === 'linux' ? watchable(tmp) : true).toBe(true);
  });

  it('sees an in-place edit with the same size and the same mtime, without stat telling', async () => {
    const dir = await makeVault();
    const a = await primed(dir);
    const file = f(dir, 'edge-4.yaml');
    const st = statSync(file);
    const text = readFileSync(file, 'utf8');
    const edited = text.replace('level: L2', 'level: L5');
    expect(edited.length).toBe(text.length);
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    utimesSync(file, st.atime, st.mtime);
    const w = await expectWarm(a, dir, { watch: 'events', read: 1, fromIndex: 40, dirsListed: 0 });
    expect(w.report.track_zone_level_gaps.find((r) => r.track === 'edge' && r.zone === 'analyze' && r.level === 'L5')?.actual).toBe(1);
    // An edit made right before the call, with no pause at all, is seen too (events delivered first).
    writeFileSync(file, text);
    await expectWarm(a, dir, { watch: 'events', read: 1 });
  });

  it('sees added, deleted and renamed files and a new folder; the new folder costs one full pass', async () => {
    const dir = await makeVault();
    const a = await primed(dir);
    writeFileSync(f(dir, 'mobile-99.yaml'), q('mobile', 99, 'design', 'L3'));
    unlinkSync(f(dir, 'edge-7.yaml'));
    renameSync(join(dir, 'questions', 'cloud', 'power', 'cloud-3.yaml'), join(dir, 'questions', 'cloud', 'power', 'cloud-3-renamed.yaml'));
    await expectWarm(a, dir, { watch: 'events', read: 2, dropped: 2, files: 41, dirsListed: 2 });
    mkdirSync(join(dir, 'questions', 'tinyml', 'new'), { recursive: true });
    writeFileSync(join(dir, 'questions', 'tinyml', 'new', 'tinyml-1.yaml'), q('tinyml', 1));
    await expectWarm(a, dir, { watch: 'events', read: 1, files: 42 });
    // The new folders were armed after they were listed: one full pass, then events again.
    writeFileSync(join(dir, 'questions', 'tinyml', 'new', 'tinyml-2.yaml'), q('tinyml', 2));
    // A full pass also re-reads files touched within RACY_MS of the scan that recorded them, so how
    // many it reads beyond the new one depends on the clock.
    const full = (await a.analyze(OPTS)).stats;
    expect(full.watch).toBe('full');
    expect(full.read).toBeGreaterThanOrEqual(1);
    writeFileSync(join(dir, 'questions', 'tinyml', 'new', 'tinyml-1.yaml'), q('tinyml', 1, 'design', 'L2'));
    await expectWarm(a, dir, { watch: 'events', read: 1, files: 43 });
  });

  it('falls back to the full pass (and re-arms) after a watcher error, or a watched folder renamed or deleted', async () => {
    const dir = await makeVault();
    const a = await primed(dir);
    a.watchers!.simulateError();
    writeFileSync(f(dir, 'edge-1.yaml'), q('edge', 1, 'design', 'L4'));
    const e = await a.analyze(OPTS);
    expect(e.stats.watch).toBe('full');
    expect(e.stats.read).toBeGreaterThanOrEqual(1); // and any file touched within RACY_MS of the last scan
    expect(strip(e)).toStrictEqual(strip(await cold(dir)));
    expect((await a.analyze(OPTS)).stats).toMatchObject({ watch: 'events', read: 0 }); // re-armed before that full pass
    renameSync(join(dir, 'questions', 'cloud'), join(dir, 'questions', 'cloud2'));
    await expectWarm(a, dir, { watch: 'full', read: 20 });
    rmSync(join(dir, 'questions', 'cloud2', 'power'), { recursive: true });
    await expectWarm(a, dir, { watch: 'full', files: 21 });
    // A folder deleted and made again under the same name gets a new watcher.
    rmSync(join(dir, 'questions', 'edge', 'power'), { recursive: true });
    mkdirSync(join(dir, 'questions', 'edge', 'power'));
    await a.analyze(OPTS);
    await a.analyze(OPTS);
    writeFileSync(f(dir, 'edge-50.yaml'), q('edge', 50));
    await a.analyze(OPTS);
    writeFileSync(f(dir, 'edge-50.yaml'), q('edge', 50, 'design', 'L4'));
    await expectWarm(a, dir, { watch: 'events', read: 1, files: 1 });
  });

  it('analyzeSync cannot wait for events: always the full pass, and the next async call may still trust them', async () => {
    const dir = await makeVault();
    const a = await primed(dir);
    writeFileSync(f(dir, 'edge-2.yaml'), q('edge', 2, 'mastery', 'L6+'));
    const s1 = a.analyzeSync(OPTS);
    expect(s1.stats).toMatchObject({ watch: 'full', read: 1 });
    expect(strip(s1)).toStrictEqual(strip(await cold(dir)));
    const s2 = await a.analyze(OPTS);
    expect(s2.stats.watch).toBe('events');
    expect(strip(s2)).toStrictEqual(strip(await cold(dir)));
  });

  it('always equals a no-index analysis through random edits, adds, deletes and renames', async () => {
    const dir = await makeVault();
    const a = await primed(dir);
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const folders = [join(dir, 'questions', 'edge', 'power'), join(dir, 'questions', 'cloud', 'power')];
    const passes = new Set<string>();
    for (let round = 0; round < 25; round++) {
      for (let k = 0; k < 1 + rnd(4); k++) {
        const folder = folders[rnd(2)]!;
        const file = join(folder, `r-${rnd(12)}.yaml`);
        const op = rnd(5);
        const exists = (() => { try { return statSync(file).isFile(); } catch { return false; } })();
        if (op <= 1 || !exists) writeFileSync(file, q(rnd(2) ? 'edge' : 'cloud', rnd(100), ['recall', 'design', 'analyze'][rnd(3)], `L${1 + rnd(4)}`, rnd(3) ? 'published' : 'draft'));
        else if (op === 2) unlinkSync(file);
        else if (op === 3) renameSync(file, join(folders[rnd(2)]!, `r-${rnd(12)}.yaml`));
        else writeFileSync(file, readFileSync(file, 'utf8').replace(/level: L\d/, `level: L${1 + rnd(4)}`));
      }
      const o = rnd(2) ? OPTS : { ...OPTS, publishedOnly: true };
      const w = await a.analyze(o);
      passes.add(w.stats.watch);
      expect(strip(w), `round ${round}`).toStrictEqual(strip(await cold(dir, o)));
    }
    expect([...passes]).toEqual(['events']);
  });

  it('analyzeVault watches by default; clearVaultAnalyzerCache closes the watchers', async () => {
    clearVaultAnalyzerCache();
    const dir = await makeVault();
    await analyzeVault(dir, OPTS);
    await analyzeVault(dir, OPTS);
    writeFileSync(f(dir, 'edge-9.yaml'), q('edge', 9, 'design', 'L4'));
    const w = await analyzeVault(dir, OPTS);
    expect(w.stats).toMatchObject({ index: 'memory', watch: 'events', read: 1 });
    expect(strip(w)).toStrictEqual(strip(await cold(dir)));
    expect((await analyzeVault(dir, { ...OPTS, watch: false, memoryCache: false })).stats.watch).toBe('off');
    clearVaultAnalyzerCache();
    expect((await analyzeVault(dir, OPTS)).stats).toMatchObject({ index: 'loaded', watch: 'full' });
    clearVaultAnalyzerCache();
  });
});
