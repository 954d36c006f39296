/**
 * The analysis index on disk: `<vault>/.vault-loop/analysis-index.bin`, a cache of what the
 * analyzer read, safe to delete.
 *
 * Layout (little-endian):
 *   0  'VLAX'                 magic
 *   4  u32 version            INDEX_VERSION; anything else is ignored and rebuilt
 *   8  u32 files              number of file rows
 *  12  u32 headerBytes        length of the JSON header
 *  16  8 bytes                first 8 bytes of the SHA-1 of everything after byte 24
 *  24  header JSON, padded with spaces to a multiple of 8
 *      then Float64 columns size, mtimeMs, ctimeMs, ino (files each), then Int32 column record
 * The header holds the scan start time, the distinct records (as indexes into a string table),
 * the directory listing cache, the sorted file paths, the counts over the rows (so a fresh
 * process updates counts by the changed files instead of recounting) and the vault's parsed
 * taxonomy with the stat it was parsed from (so a fresh process neither loads the YAML parser nor
 * parses the taxonomy while that file's stat is unchanged). Columns are typed arrays over the file
 * buffer, so loading 10k rows costs one JSON.parse of the header and no per-row parsing (the
 * per-file JSON objects of version 1 took longer to parse than half the stat loop).
 * The checksum turns any damage (a torn copy, a flipped byte) into "corrupt: rebuild", never
 * into a wrong count.
 */
import { createHash } from 'node:crypto';
import { internId } from '../util/intern.js';
import { tallyFromJSON, tallyToJSON, type Tally } from './tally.js';
import type { CoverageRecord } from './types.js';

export const INDEX_DIR = '.vault-loop';
export const INDEX_FILE = 'analysis-index.bin';
/** The JSON index of version 1; removed when a version 2 index is written. */
export const LEGACY_INDEX_FILE = 'analysis-index.json';
/** Bump when the scanner, the parser settings or the layout change. */
export const INDEX_VERSION = 3;

const MAGIC = 0x58414c56; // 'VLAX' read as a little-endian u32
const FIXED = 24;

/** A distinct parse result: a record, or why the file was skipped (`skip` non-empty). */
export interface IndexRecord {
  record: CoverageRecord | null;
  skip: string;
}

/**
 * The vault's `schema/taxonomy_data.yaml` as parsed: its topic → tracks map (null: no such file),
 * trusted only while the file's stat equals `stamp` and was not racy when it was parsed.
 */
export interface IndexTaxonomy {
  stamp: string;
  /** Wall-clock ms just before the file was read. */
  parsedAtMs: number;
  topics: Record<string, string[]> | null;
}

/** A directory whose listing is cached; trusted only while its stat is unchanged. */
export interface IndexDir {
  rel: string;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** Holds a symlinked .yaml: its target can change without the directory changing, so always re-list. */
  volatile: boolean;
  subdirs: string[];
}

export interface IndexData {
  /** Wall-clock ms when the scan that produced this data started (racy-entry check). */
  scanStartMs: number;
  records: IndexRecord[];
  dirs: IndexDir[];
  /** Sorted rel paths (forward slashes); the columns below are in this order. */
  files: string[];
  size: Float64Array;
  mtimeMs: Float64Array;
  ctimeMs: Float64Array;
  ino: Float64Array;
  /** Counts over the rows (all parsed records; the published ones), when they were made. */
  tallies: { all?: Tally; published?: Tally };
  /** Index into `records`; -1 for a file that could not be stat'ed or read (tried again next time). */
  record: Int32Array;
  taxonomy?: IndexTaxonomy;
}

const FIELDS = ['track', 'zone', 'level', 'topic', 'competency_area', 'status'] as const;

/** [track, zone, level, topic, area, status (string-table index or -1), visual 0|1|2, skip index or -1] */
type PackedRecord = number[];

interface Header {
  scanStartMs: number;
  strings: string[];
  records: PackedRecord[];
  dirs: [string, number, number, number, 0 | 1, string[]][];
  /** The sorted paths joined with '\n': one JSON string parses much faster than 10k of them. */
  files: string;
  tallies: { all?: unknown; published?: unknown };
  /** [stamp, parsedAtMs, topics or null]; absent when never parsed. */
  taxonomy?: [string, number, Record<string, string[]> | null];
}

export function encodeIndex(d: IndexData): Buffer {
  const strings: string[] = [];
  const ids = new Map<string, number>();
  const sid = (s: string | null | undefined): number => (typeof s === 'string' ? internId(ids, strings, s, s) : -1);
  const records = d.records.map(({ record, skip }): PackedRecord => {
    if (!record) return [-1, -1, -1, -1, -1, -1, 0, sid(skip)];
    const packed = FIELDS.map((k) => sid(record[k] as string | null));
    const visual = !('visual' in record) ? 0 : record.visual !== null && typeof record.visual === 'object' ? 2 : 1;
    return [...packed, visual, -1];
  });
  const header: Header = {
    scanStartMs: d.scanStartMs,
    strings,
    records,
    dirs: d.dirs.map((x) => [x.rel, x.mtimeMs, x.ctimeMs, x.ino, x.volatile ? 1 : 0, x.subdirs]),
    files: d.files.join('\n'),
    tallies: { all: d.tallies.all && tallyToJSON(d.tallies.all), published: d.tallies.published && tallyToJSON(d.tallies.published) },
    ...(d.taxonomy ? { taxonomy: [d.taxonomy.stamp, d.taxonomy.parsedAtMs, d.taxonomy.topics] } : {}),
  };
  let json = JSON.stringify(header);
  let hb = Buffer.byteLength(json);
  const pad = (8 - ((FIXED + hb) % 8)) % 8;
  json += ' '.repeat(pad);
  hb += pad;
  const n = d.files.length;
  const buf = Buffer.alloc(FIXED + hb + n * 8 * 4 + n * 4);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(INDEX_VERSION, 4);
  buf.writeUInt32LE(n, 8);
  buf.writeUInt32LE(hb, 12);
  buf.write(json, FIXED, 'utf8');
  let off = FIXED + hb;
  for (const col of [d.size, d.mtimeMs, d.ctimeMs, d.ino]) {
    new Float64Array(buf.buffer, buf.byteOffset + off, n).set(col.subarray(0, n));
    off += n * 8;
  }
  new Int32Array(buf.buffer, buf.byteOffset + off, n).set(d.record.subarray(0, n));
  createHash('sha1').update(buf.subarray(FIXED)).digest().copy(buf, 16, 0, 8);
  return buf;
}

export type DecodeResult = { status: 'loaded'; data: IndexData } | { status: 'corrupt' | 'stale-version' };

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

export function decodeIndex(raw: Buffer): DecodeResult {
  if (raw.length < FIXED || raw.readUInt32LE(0) !== MAGIC) return { status: 'corrupt' };
  if (raw.readUInt32LE(4) !== INDEX_VERSION) return { status: 'stale-version' };
  const n = raw.readUInt32LE(8);
  const hb = raw.readUInt32LE(12);
  if ((FIXED + hb) % 8 !== 0 || raw.length !== FIXED + hb + n * 36) return { status: 'corrupt' };
  if (!createHash('sha1').update(raw.subarray(FIXED)).digest().subarray(0, 8).equals(raw.subarray(16, 24))) return { status: 'corrupt' };
  let h: Header;
  try {
    h = JSON.parse(raw.toString('utf8', FIXED, FIXED + hb)) as Header;
  } catch {
    return { status: 'corrupt' };
  }
  // The checksum vouches for the bytes, not for a writer's bugs: check the shape anyway.
  if (!h || !isNum(h.scanStartMs) || !Array.isArray(h.strings) || !h.strings.every(isStr)) return { status: 'corrupt' };
  if (!isStr(h.files)) return { status: 'corrupt' };
  const files = n === 0 ? [] : h.files.split('\n');
  if (files.length !== n || (n === 1 && files[0] === '')) return { status: 'corrupt' };
  if (!Array.isArray(h.records) || !Array.isArray(h.dirs)) return { status: 'corrupt' };
  const str = (i: unknown): string | null | undefined => (i === -1 ? null : Number.isInteger(i) && (i as number) < h.strings.length ? h.strings[i as number] : undefined);
  const records: IndexRecord[] = [];
  for (const p of h.records) {
    if (!Array.isArray(p) || p.length !== 8) return { status: 'corrupt' };
    if (p[7] !== -1) {
      const skip = str(p[7]);
      if (!skip) return { status: 'corrupt' };
      records.push({ record: null, skip });
      continue;
    }
    const rec: Record<string, unknown> = {};
    for (let k = 0; k < FIELDS.length; k++) {
      const v = str(p[k]);
      if (v === undefined) return { status: 'corrupt' };
      rec[FIELDS[k]!] = v;
    }
    if (p[6] === 2) rec.visual = {};
    else if (p[6] === 1) rec.visual = null;
    else if (p[6] !== 0) return { status: 'corrupt' };
    records.push({ record: Object.freeze(rec) as CoverageRecord, skip: '' });
  }
  const tallies: IndexData['tallies'] = {};
  if (h.tallies === null || typeof h.tallies !== 'object') return { status: 'corrupt' };
  for (const k of ['all', 'published'] as const) {
    if (h.tallies[k] === undefined) continue;
    const t = tallyFromJSON(h.tallies[k]);
    if (!t) return { status: 'corrupt' };
    tallies[k] = t;
  }
  const dirs: IndexDir[] = [];
  for (const x of h.dirs) {
    if (!Array.isArray(x) || x.length !== 6 || !isStr(x[0]) || !isNum(x[1]) || !isNum(x[2]) || !isNum(x[3]) || !Array.isArray(x[5]) || !x[5].every(isStr)) {
      return { status: 'corrupt' };
    }
    dirs.push({ rel: x[0], mtimeMs: x[1], ctimeMs: x[2], ino: x[3], volatile: x[4] === 1, subdirs: x[5] });
  }
  let taxonomy: IndexTaxonomy | undefined;
  if (h.taxonomy !== undefined) {
    const t = h.taxonomy;
    if (!Array.isArray(t) || t.length !== 3 || !isStr(t[0]) || !isNum(t[1])) return { status: 'corrupt' };
    const topics = t[2];
    if (topics !== null) {
      if (typeof topics !== 'object' || Array.isArray(topics)) return { status: 'corrupt' };
      for (const v of Object.values(topics)) if (!Array.isArray(v) || !v.every(isStr)) return { status: 'corrupt' };
    }
    taxonomy = { stamp: t[0], parsedAtMs: t[1], topics };
  }
  // Copy the columns out of the file buffer (aligned, and the header bytes can be freed).
  let off = FIXED + hb;
  const col = (): Float64Array => {
    const a = new Float64Array(raw.buffer.slice(raw.byteOffset + off, raw.byteOffset + off + n * 8));
    off += n * 8;
    return a;
  };
  const size = col();
  const mtimeMs = col();
  const ctimeMs = col();
  const ino = col();
  const record = new Int32Array(raw.buffer.slice(raw.byteOffset + off, raw.byteOffset + off + n * 4));
  for (let i = 0; i < n; i++) if (record[i]! < -1 || record[i]! >= records.length) return { status: 'corrupt' };
  return { status: 'loaded', data: { scanStartMs: h.scanStartMs, records, dirs, files, tallies, size, mtimeMs, ctimeMs, ino, record, ...(taxonomy ? { taxonomy } : {}) } };
}
