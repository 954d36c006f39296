/**
 * The analysis index on disk: `<vault>/.vault-loop/analysis-index.bin`, a cache of what the
 * analyzer read, safe to delete.
 *
 * Layout (little-endian):
 *   0  'VLAX'                 magic
 *   4  u32 version            INDEX_VERSION; anything else is ignored and rebuilt
 *   8  u32 files              number of file rows
 *  12  u32 headerBytes        length of the JSON header
 *  16  u32 CRC-32             of bytes 4–15, then of everything after byte 24; bytes 20–23 zero
 *  24  header JSON, padded with spaces to a multiple of 8
 *      then Float64 columns size, mtimeMs, ctimeMs, ino (files each), then Int32 column record,
 *      then the Int32 record table (8 per distinct record), then the Int32 count rows, then the
 *      count keys as one UTF-8 run.
 * The header holds the scan start time, the string table, the directory listing cache, the sorted
 * file paths (joined with '\n'), the number of distinct records, of Int32s and of key bytes (the
 * file's length must equal what they add up to), how many rows each count table has, and the vault's parsed taxonomy with the stat it was parsed from (so a fresh
 * process neither loads the YAML parser nor parses the taxonomy while that file's stat is
 * unchanged). The counts over the rows (so a fresh process updates counts by the changed files
 * instead of recounting) are rows of [key length, count], their keys sliced out of one string.
 * Everything numeric is a typed array copied out of the file buffer in one piece, so loading 10k
 * rows costs one JSON.parse of a header that is mostly one string, and no per-row parsing
 * (version 3 kept the records and counts in the JSON: parsing 330 KB of count keys took longer
 * than all the rest).
 * The checksum turns any damage (a torn copy, a flipped byte) into "corrupt: rebuild", never
 * into a wrong count.
 */
import * as zlib from 'node:zlib';
import { internId } from '../util/intern.js';
import { COUNTERS, Counter, type Tally } from './tally.js';
import type { CoverageRecord } from './types.js';

export const INDEX_DIR = '.vault-loop';
export const INDEX_FILE = 'analysis-index.bin';
/** The JSON index of version 1; removed when a version 2 index is written. */
export const LEGACY_INDEX_FILE = 'analysis-index.json';
/** Bump when the scanner, the parser settings or the layout change. */
export const INDEX_VERSION = 4;

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

/**
 * The fields (besides the kind of visual) a distinct record keeps, and that make two records equal
 * (vault.ts's recordKey and findRecord compare these).
 */
export const RECORD_FIELDS = ['track', 'zone', 'level', 'topic', 'competency_area', 'status'] as const;

/** A record's visual as stored: 0 no `visual` key, 1 a non-mapping (kept as null), 2 a mapping (kept as {}). */
export const visualKind = (x: CoverageRecord): 0 | 1 | 2 => (!('visual' in x) ? 0 : x.visual === null ? 1 : 2);

/** A record table row: the RECORD_FIELDS as string-table ids (-1: null), visualKind, skip id or -1. */
const RECORD_INTS = 8;
const TALLY_KINDS = ['all', 'published'] as const;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Header {
  scanStartMs: number;
  strings: string[];
  /** Rows of the record table. */
  records: number;
  dirs: [string, number, number, number, 0 | 1, string[]][];
  /** The sorted paths joined with '\n': one JSON string parses much faster than 10k of them. */
  files: string;
  /** Per kind present: its `n`, then the number of rows of each of COUNTERS, in that order. */
  tallies: { all?: number[]; published?: number[] };
  /** Int32s after the record column: the record table, then the count rows. */
  ints: number;
  /** Bytes of the count keys' UTF-8 run, the file's last part. */
  keyBytes: number;
  /** [stamp, parsedAtMs, topics or null]; absent when never parsed. */
  taxonomy?: [string, number, Record<string, string[]> | null];
}

/**
 * The check of an index file: the CRC-32 (zlib's) of bytes 4–15 (version, row count, header
 * length), continued over everything after byte 24, in 4 bytes, then 4 zero bytes. zlib.crc32
 * (Node 20.15+) takes a millisecond for a 10k-file index where loading node:crypto for a SHA-1
 * took four; older Nodes compute the same CRC in JavaScript (slower, ≈ 6 ms for 10k files).
 */
function checksum(file: Uint8Array): Buffer {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  const crc = native ?? crc32;
  const out = Buffer.alloc(8);
  out.writeUInt32LE(crc(file.subarray(FIXED), crc(file.subarray(4, 16))), 0);
  return out;
}

let crcTable: Int32Array | undefined;
/** CRC-32 (IEEE 802.3, reflected, as zlib computes it), continuing from `value` as zlib.crc32 does. */
export function crc32(bytes: Uint8Array, value = 0): number {
  const table = (crcTable ??= Int32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  }));
  let crc = ~value;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

export function encodeIndex(d: IndexData): Buffer {
  const strings: string[] = [];
  const ids = new Map<string, number>();
  const sid = (s: string | null | undefined): number => (typeof s === 'string' ? internId(ids, strings, s, s) : -1);
  const recordTable: number[] = [];
  for (const { record, skip } of d.records) {
    if (!record) recordTable.push(-1, -1, -1, -1, -1, -1, 0, sid(skip));
    else {
      for (const k of RECORD_FIELDS) recordTable.push(sid(record[k] as string | null));
      recordTable.push(visualKind(record), -1);
    }
  }
  // Counts: per kind, per counter, rows of [key length, count]; the keys themselves follow the
  // ints as one UTF-8 run, so a fresh process slices them out of one string (no key is rebuilt).
  const countRows: number[] = [];
  const keys: string[] = [];
  const tallies: Header['tallies'] = {};
  for (const kind of TALLY_KINDS) {
    const t = d.tallies[kind];
    if (!t) continue;
    const sizes = [t.n];
    for (const c of COUNTERS) {
      let rows = 0;
      for (const [key, count] of t[c].entries()) {
        countRows.push(key.length, count);
        keys.push(key);
        rows++;
      }
      sizes.push(rows);
    }
    tallies[kind] = sizes;
  }
  // A lone surrogate (a YAML escape) would not survive UTF-8: such counts are left out, and a
  // fresh process counts the rows again.
  if (keys.some((k) => LONE_SURROGATE.test(k))) {
    countRows.length = 0;
    keys.length = 0;
    for (const kind of TALLY_KINDS) delete tallies[kind];
  }
  const keyBytes = Buffer.from(keys.join(''), 'utf8');
  const header: Header = {
    scanStartMs: d.scanStartMs,
    strings,
    records: d.records.length,
    dirs: d.dirs.map((x) => [x.rel, x.mtimeMs, x.ctimeMs, x.ino, x.volatile ? 1 : 0, x.subdirs]),
    files: d.files.join('\n'),
    tallies,
    ints: recordTable.length + countRows.length,
    keyBytes: keyBytes.length,
    ...(d.taxonomy ? { taxonomy: [d.taxonomy.stamp, d.taxonomy.parsedAtMs, d.taxonomy.topics] } : {}),
  };
  let json = JSON.stringify(header);
  let hb = Buffer.byteLength(json);
  const pad = (8 - ((FIXED + hb) % 8)) % 8;
  json += ' '.repeat(pad);
  hb += pad;
  const n = d.files.length;
  const buf = Buffer.alloc(FIXED + hb + n * 8 * 4 + (n + recordTable.length + countRows.length) * 4 + keyBytes.length);
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
  off += n * 4;
  new Int32Array(buf.buffer, buf.byteOffset + off, recordTable.length).set(recordTable);
  off += recordTable.length * 4;
  new Int32Array(buf.buffer, buf.byteOffset + off, countRows.length).set(countRows);
  off += countRows.length * 4;
  keyBytes.copy(buf, off);
  checksum(buf).copy(buf, 16);
  return buf;
}

export type DecodeResult = { status: 'loaded'; data: IndexData } | { status: 'corrupt' | 'stale-version' };

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

export function decodeIndex(raw: Buffer): DecodeResult {
  if (raw.length < FIXED || raw.readUInt32LE(0) !== MAGIC) return { status: 'corrupt' };
  if (raw.readUInt32LE(4) !== INDEX_VERSION) return { status: 'stale-version' };
  const n = raw.readUInt32LE(8);
  const hb = raw.readUInt32LE(12);
  if ((FIXED + hb) % 8 !== 0 || raw.length < FIXED + hb + n * 36) return { status: 'corrupt' };
  if (!checksum(raw).equals(raw.subarray(16, 24))) return { status: 'corrupt' };
  let h: Header;
  try {
    h = JSON.parse(raw.toString('utf8', FIXED, FIXED + hb)) as Header;
  } catch {
    return { status: 'corrupt' };
  }
  // The checksum vouches for the bytes, not for a writer's bugs: check the shape anyway.
  if (!h || !isNum(h.scanStartMs) || !Array.isArray(h.strings) || !h.strings.every(isStr)) return { status: 'corrupt' };
  if (!isStr(h.files) || !isCount(h.records) || !isCount(h.ints) || !isCount(h.keyBytes) || !Array.isArray(h.dirs)) return { status: 'corrupt' };
  if (raw.length !== FIXED + hb + n * 36 + h.ints * 4 + h.keyBytes) return { status: 'corrupt' };
  if (h.tallies === null || typeof h.tallies !== 'object') return { status: 'corrupt' };
  const files = n === 0 ? [] : h.files.split('\n');
  if (files.length !== n || (n === 0 && h.files !== '') || (n === 1 && files[0] === '')) return { status: 'corrupt' };
  // Copy the columns out of the file buffer (aligned, and the header bytes can be freed).
  let off = FIXED + hb;
  const f64 = (): Float64Array => {
    const a = new Float64Array(raw.buffer.slice(raw.byteOffset + off, raw.byteOffset + off + n * 8));
    off += n * 8;
    return a;
  };
  const i32 = (count: number): Int32Array => {
    const a = new Int32Array(raw.buffer.slice(raw.byteOffset + off, raw.byteOffset + off + count * 4));
    off += count * 4;
    return a;
  };
  const size = f64();
  const mtimeMs = f64();
  const ctimeMs = f64();
  const ino = f64();
  const record = i32(n);
  const ints = i32(h.ints);
  const keys = raw.toString('utf8', off);
  const str = (i: number): string | null | undefined => (i === -1 ? null : i >= 0 && i < h.strings.length ? h.strings[i] : undefined);

  const records: IndexRecord[] = [];
  if (h.records * RECORD_INTS > ints.length) return { status: 'corrupt' };
  for (let r = 0, p = 0; r < h.records; r++, p += RECORD_INTS) {
    if (ints[p + 7] !== -1) {
      const skip = str(ints[p + 7]!);
      if (!skip) return { status: 'corrupt' };
      records.push({ record: null, skip });
      continue;
    }
    // One object literal (the shape normalize() in vault.ts makes): far cheaper than adding keys one by one.
    const rec: CoverageRecord = { track: str(ints[p]!), zone: str(ints[p + 1]!), level: str(ints[p + 2]!), topic: str(ints[p + 3]!), competency_area: str(ints[p + 4]!), status: str(ints[p + 5]!) };
    if (rec.track === undefined || rec.zone === undefined || rec.level === undefined || rec.topic === undefined || rec.competency_area === undefined || rec.status === undefined) {
      return { status: 'corrupt' };
    }
    const visual = ints[p + 6];
    if (visual === 2) rec.visual = {};
    else if (visual === 1) rec.visual = null;
    else if (visual !== 0) return { status: 'corrupt' };
    records.push({ record: Object.freeze(rec), skip: '' });
  }
  for (let i = 0; i < n; i++) if (record[i]! < -1 || record[i]! >= records.length) return { status: 'corrupt' };

  const tallies: IndexData['tallies'] = {};
  let p = h.records * RECORD_INTS;
  let k = 0; // into keys
  for (const kind of TALLY_KINDS) {
    const sizes = h.tallies[kind];
    if (sizes === undefined) continue;
    if (!Array.isArray(sizes) || sizes.length !== COUNTERS.length + 1 || !sizes.every(isCount)) return { status: 'corrupt' };
    const t = { n: sizes[0]! } as Tally;
    for (let c = 0; c < COUNTERS.length; c++) {
      const rows = sizes[c + 1]!;
      if (p + rows * 2 > ints.length) return { status: 'corrupt' };
      const entries: [string, number][] = new Array(rows);
      for (let r = 0; r < rows; r++, p += 2) {
        const len = ints[p]!;
        if (len < 0 || k + len > keys.length) return { status: 'corrupt' };
        entries[r] = [keys.slice(k, k + len), ints[p + 1]!];
        k += len;
      }
      t[COUNTERS[c]!] = new Counter(entries);
    }
    tallies[kind] = t;
  }
  if (p !== ints.length || k !== keys.length) return { status: 'corrupt' };

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
  return { status: 'loaded', data: { scanStartMs: h.scanStartMs, records, dirs, files, tallies, size, mtimeMs, ctimeMs, ino, record, ...(taxonomy ? { taxonomy } : {}) } };
}
