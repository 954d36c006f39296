/**
 * Reading a question file as the analyzer needs it: a few top-level keys and whether the file
 * parses at all. Two readers, one answer:
 * - `parseCoverageFull`: the `yaml` package in YAML 1.1 mode with duplicate keys allowed and
 *   merge keys on, so it accepts and rejects what PyYAML's safe_load does for files shaped like
 *   questions (the original skipped unparseable and empty files, and counted everything else).
 * - `scanCoverageFast`: a line scanner for the plain block-YAML subset the vault is written in.
 *   It validates the *whole* file against that subset (a file broken anywhere is skipped by the
 *   original, so a broken scenario must not slip through), and returns null - "ask the full
 *   parser" - for anything outside it: flow collections, anchors, tags, escapes, tabs, CR,
 *   multi-line values of the keys we read, duplicate keys we read, odd indentation, and so on.
 * A test feeds every fixture file, and thousands of truncated and mutated copies, to both.
 */
import { isMapping } from '../util/mapping.js';
import { yamlModule } from '../util/yaml.js';
import type { CoverageRecord } from './types.js';

export type SkipReason = 'empty' | 'yaml' | 'not-a-mapping' | 'encoding';

export type CoverageParse = { ok: true; record: CoverageRecord } | { ok: false; reason: SkipReason; message: string };

/** The top-level keys the analyzer reads. */
export const COVERAGE_KEYS = ['track', 'zone', 'level', 'topic', 'competency_area', 'status', 'visual'] as const;
type CoverageKey = (typeof COVERAGE_KEYS)[number];
const NEEDED = new Set<string>(COVERAGE_KEYS);

function pick(doc: Record<string, unknown>): CoverageRecord {
  const rec: CoverageRecord = {};
  for (const k of COVERAGE_KEYS) {
    if (Object.prototype.hasOwnProperty.call(doc, k)) (rec as Record<string, unknown>)[k] = reduceValue(k, doc[k]);
  }
  return rec;
}

/** Only equality with canonical strings and the mapping-ness of `visual` matter; keep records small. */
function reduceValue(k: CoverageKey, v: unknown): unknown {
  if (k === 'visual') return isMapping(v) && !(v instanceof Date) ? {} : null;
  return typeof v === 'string' ? v : null;
}

/** Python truthiness of a parsed YAML value (`if not d: continue`). */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || Number.isNaN(v)) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object' && !(v instanceof Date)) return Object.keys(v).length > 0;
  return true;
}

/** The reference reader: a YAML 1.1 parse of the whole file. */
export function parseCoverageFull(text: string): CoverageParse {
  const { isMap, parseDocument } = yamlModule();
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false, merge: true, prettyErrors: false });
  if (doc.errors.length > 0) return { ok: false, reason: 'yaml', message: doc.errors[0]!.message.split('\n')[0]! };
  // safe_load refuses tags it has no constructor for; `yaml` only warns.
  const tagWarning = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tagWarning) return { ok: false, reason: 'yaml', message: tagWarning.message.split('\n')[0]! };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return { ok: false, reason: 'yaml', message: (e as Error).message.split('\n')[0]! };
  }
  if (!truthy(value)) return { ok: false, reason: 'empty', message: 'file is empty' };
  if (!isMap(doc.contents) || !isMapping(value)) {
    // The original would have crashed on `d.get`; skipping is the only sane reading.
    return { ok: false, reason: 'not-a-mapping', message: 'top level is not a mapping' };
  }
  return { ok: true, record: pick(value) };
}

// ---------------------------------------------------------------------------------------------
// Fast scanner

/**
 * Characters that make us defer to the full parser: tab, CR, NEL, LS/PS (PyYAML line breaks), BOM,
 * and everything PyYAML calls non-printable.
 */
// eslint-disable-next-line no-control-regex
const DEFER_CHARS = /[^\x0A\x20-\x7E\xA0-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD\u{10000}-\u{10FFFF}]|[\u2028\u2029]/u;
const KEY_LINE = /^([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?$/;
/** Characters that cannot start a plain scalar (PyYAML check_plain; '-?:' are refused outright here). */
const PLAIN_START_BAD = new Set(['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`']);
/** Plain values we accept for the read keys: plainly strings under YAML 1.1 (no numbers, dates, bools, nulls). */
const SAFE_WORD = /^[A-Za-z][A-Za-z0-9_.+-]*$/;
const YAML11_WORDS = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/;
const TRAILER_OK = /^(?: +#.*| *)$/;

/** Thrown inside the scanner to mean "not in the subset: use the full parser". */
class Defer extends Error {}
const defer = (): never => {
  throw new Defer();
};

type Value =
  | { kind: 'null' }
  | { kind: 'str'; text: string; plain: boolean }
  | { kind: 'map' }
  | { kind: 'seq' }
  | { kind: 'other' }; // multi-line or block scalars: valid, but not a value we read

const indentOf = (line: string): number => {
  let i = 0;
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  return i;
};
const isBlank = (line: string): boolean => indentOf(line) === line.length;
const isBlankOrComment = (line: string): boolean => {
  const i = indentOf(line);
  return i === line.length || line.charCodeAt(i) === 35; /* # */
};

class Scanner {
  readonly lines: string[];
  constructor(text: string) {
    this.lines = text.split('\n');
  }

  skipBlank(i: number): number {
    while (i < this.lines.length && isBlankOrComment(this.lines[i]!)) i++;
    return i;
  }

  /**
   * Line i (blank lines skipped already) when it is the next entry of a block at indent `ind`;
   * null where the block ends (end of text or a dedent). A deeper line is outside the subset.
   */
  entryAt(i: number, ind: number): string | null {
    if (i >= this.lines.length) return null;
    const line = this.lines[i]!;
    const il = indentOf(line);
    if (il < ind) return null;
    if (il > ind) defer();
    return line;
  }

  /** A block mapping whose entries sit at `ind`; returns the index of the first line after it. */
  mapping(start: number, ind: number, onEntry?: (key: string, v: Value) => void): number {
    let i = start;
    for (;;) {
      i = this.skipBlank(i);
      const line = this.entryAt(i, ind);
      if (line === null) return i;
      const m = KEY_LINE.exec(line.slice(ind)) ?? defer();
      const r = this.value(i, ind, m[2] ?? '', line.length - (m[2] ?? '').length);
      onEntry?.(m[1]!, r.value);
      i = r.next;
    }
  }

  /** The value after `key:` on line i (the entry is at indent `ind`; `rest` starts at column `col`). */
  value(i: number, ind: number, restRaw: string, col: number): { value: Value; next: number } {
    const rest = restRaw.trimStart();
    const c = rest[0];
    if (c === undefined || c === '#') {
      const j = this.skipBlank(i + 1);
      if (j >= this.lines.length) return { value: { kind: 'null' }, next: j };
      const next = this.lines[j]!;
      const il = indentOf(next);
      const body = next.slice(il);
      if (il > ind) {
        if (body === '-' || body.startsWith('- ')) return { value: { kind: 'seq' }, next: this.sequence(j, il) };
        return { value: { kind: 'map' }, next: this.mapping(j, il) };
      }
      if (il === ind && (body === '-' || body.startsWith('- '))) return { value: { kind: 'seq' }, next: this.sequence(j, il) };
      return { value: { kind: 'null' }, next: i + 1 };
    }
    if (c === '|' || c === '>') return { value: { kind: 'other' }, next: this.blockScalar(i, ind, rest) };
    if (c === "'" || c === '"') return this.quoted(i, ind, col + (restRaw.length - rest.length));
    if (rest === '{}' || rest.startsWith('{} ')) {
      if (!TRAILER_OK.test(rest.slice(2))) defer();
      return { value: { kind: 'map' }, next: i + 1 };
    }
    if (rest === '[]' || rest.startsWith('[] ')) {
      if (!TRAILER_OK.test(rest.slice(2))) defer();
      return { value: { kind: 'seq' }, next: i + 1 };
    }
    if (PLAIN_START_BAD.has(c)) defer();
    return this.plain(i, ind, rest);
  }

  plainLineOk(s: string): boolean {
    return !(s.includes(': ') || s.endsWith(':') || s.includes(' #'));
  }

  plain(i: number, ind: number, first: string): { value: Value; next: number } {
    if (!this.plainLineOk(first)) defer();
    let j = i + 1;
    let multi = false;
    // Continuation lines: more indented than the entry; blank lines in between fold.
    for (;;) {
      let k = j;
      while (k < this.lines.length && isBlank(this.lines[k]!)) k++;
      if (k >= this.lines.length) break;
      const line = this.lines[k]!;
      const il = indentOf(line);
      if (il <= ind) break;
      const body = line.slice(il);
      if (PLAIN_START_BAD.has(body[0]!) || !this.plainLineOk(body)) defer();
      multi = true;
      j = k + 1;
    }
    return { value: multi ? { kind: 'other' } : { kind: 'str', text: first.trimEnd(), plain: true }, next: j };
  }

  quoted(i: number, ind: number, col: number): { value: Value; next: number } {
    const q = this.lines[i]![col]!;
    let line = this.lines[i]!;
    let pos = col + 1;
    let li = i;
    let text = '';
    for (;;) {
      const at = line.indexOf(q, pos);
      if (q === '"' && line.indexOf('\\', pos) !== -1 && (at === -1 || line.indexOf('\\', pos) < at)) defer();
      if (at === -1) {
        text += line.slice(pos);
        li++;
        if (li >= this.lines.length) defer(); // unterminated: let the full parser say so
        line = this.lines[li]!;
        if (!isBlank(line) && indentOf(line) <= ind) defer();
        pos = 0;
        continue;
      }
      if (q === "'" && line[at + 1] === "'") {
        text += line.slice(pos, at + 1);
        pos = at + 2;
        continue;
      }
      text += line.slice(pos, at);
      if (!TRAILER_OK.test(line.slice(at + 1))) defer();
      break;
    }
    return { value: li === i ? { kind: 'str', text, plain: false } : { kind: 'other' }, next: li + 1 };
  }

  blockScalar(i: number, ind: number, header: string): number {
    if (!/^[|>][-+]?(?: +#.*| *)$/.test(header)) defer();
    let j = i + 1;
    let maxLeading = 0;
    while (j < this.lines.length && isBlank(this.lines[j]!)) {
      maxLeading = Math.max(maxLeading, this.lines[j]!.length);
      j++;
    }
    if (j >= this.lines.length) return j;
    const ci = indentOf(this.lines[j]!);
    if (ci <= ind) return j; // empty block scalar
    if (maxLeading > ci) defer();
    while (j < this.lines.length && (isBlank(this.lines[j]!) || indentOf(this.lines[j]!) >= ci)) j++;
    if (j < this.lines.length && indentOf(this.lines[j]!) > ind) defer(); // dedented but still inside the parent
    return j;
  }

  sequence(start: number, ind: number): number {
    let i = start;
    for (;;) {
      i = this.skipBlank(i);
      const line = this.entryAt(i, ind);
      if (line === null) return i;
      const body = line.slice(ind);
      if (!body.startsWith('- ')) {
        if (body === '-') defer();
        return i; // e.g. the next key of an indentless sequence's parent
      }
      const item = body.slice(2).trimStart();
      const c = item[0];
      if (c === undefined || c === '#' || KEY_LINE.test(item) || /^[A-Za-z_][A-Za-z0-9_-]*: /.test(item)) defer();
      if (c === "'" || c === '"') {
        i = this.quoted(i, ind, line.length - item.length).next;
        continue;
      }
      if (PLAIN_START_BAD.has(c!)) defer();
      i = this.plain(i, ind, item).next;
    }
  }
}

/**
 * Reads the coverage keys with a line scanner. Returns null when the file is outside the plain
 * subset it understands; the caller then uses `parseCoverageFull`.
 */
export function scanCoverageFast(text: string): CoverageParse | null {
  if (DEFER_CHARS.test(text)) return null;
  const s = new Scanner(text);
  const rec: Record<string, unknown> = {};
  let entries = 0;
  try {
    const first = s.skipBlank(0);
    if (first >= s.lines.length) return { ok: false, reason: 'empty', message: 'file is empty' };
    if (indentOf(s.lines[first]!) !== 0) return null;
    const end = s.mapping(first, 0, (key, v) => {
      entries++;
      if (!NEEDED.has(key)) return;
      if (Object.prototype.hasOwnProperty.call(rec, key)) defer(); // duplicate: leave "last wins" to the parser
      if (key === 'visual') {
        rec.visual = v.kind === 'map' ? {} : null;
        return;
      }
      // Only single-line scalars are read here. Quoted ones are strings as they stand; plain ones
      // only when YAML 1.1 would not resolve them to a number, date, bool or null.
      if (v.kind !== 'str') defer();
      const { text, plain } = v as { text: string; plain: boolean };
      if (plain && (!SAFE_WORD.test(text) || YAML11_WORDS.test(text))) defer();
      rec[key] = text;
    });
    if (end < s.lines.length) return null; // something at indent 0 that is not a key
  } catch (e) {
    if (e instanceof Defer) return null;
    throw e;
  }
  if (entries === 0) return null;
  return { ok: true, record: pick(rec) };
}

/** Fast path first, full parser for anything the scanner does not vouch for. */
export function parseCoverage(text: string): CoverageParse & { fast: boolean } {
  const fast = scanCoverageFast(text);
  if (fast) return { ...fast, fast: true };
  return { ...parseCoverageFull(text), fast: false };
}
