/**
 * Writes question files: validated first, then a temp file + rename, so a reader never sees half a
 * file and a crash leaves either the old or the new bytes. Every path is built from checked segments
 * and must resolve inside the vault: ids, tracks and areas can come from an LLM's output.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, realpath, rename, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { CorpusFileError, UnsafePathError } from '../errors.js';
import { sha256, toPosix } from './loader.js';
import { validateQuestion } from './schema.js';
import type { QuestionDoc } from '../domain/question.js';
import { isMapping } from '../util/mapping.js';
import { PLACEMENT_FIELDS } from './taxonomy.js';

/** The original generator's key order; other keys follow in their existing order. */
export const QUESTION_KEY_ORDER = [
  'schema_version',
  'id',
  ...PLACEMENT_FIELDS,
  'title',
  'scenario',
  'question',
  'visual',
  'details',
  'status',
  'provenance',
  'expected_time_minutes',
  'requires_explanation',
  'validated',
  'math_verified',
  'human_reviewed',
  'tags',
  'created_at',
] as const;

const NESTED_ORDER: Record<string, readonly string[]> = {
  details: ['realistic_solution', 'common_mistake', 'napkin_math'],
  visual: ['kind', 'path', 'alt', 'caption'],
  human_reviewed: ['status', 'by', 'date', 'notes'],
};

export interface SerializeOptions {
  /**
   * `generator` (default): the original generator's key order. `preserve`: keep the document's own
   * order, as the original fixer and promoter did when they rewrote a file in place.
   */
  keyOrder?: 'generator' | 'preserve';
}

function ordered(obj: Record<string, unknown>, order: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in obj) out[k] = obj[k];
  for (const k of Object.keys(obj)) if (!(k in out)) out[k] = obj[k];
  return out;
}

/** Dates become the strings PyYAML's users wrote ('2026-04-25' or a full ISO time); undefined keys drop. */
function plain(v: unknown): unknown {
  if (v instanceof Date) {
    const iso = v.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
  }
  if (Array.isArray(v)) return v.map(plain);
  if (isMapping(v)) return plainMap(v);
  return v;
}

function plainMap(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(m)) if (x !== undefined) out[k] = plain(x);
  return out;
}

/**
 * PyYAML-like block YAML: two-space indents, `- ` items flush with their key, literal `|` blocks for
 * multi-line strings, no line folding. Strings that YAML 1.1 (PyYAML) or 1.2 would read as something
 * else ('1.0', '2026-04-25', 'yes', 'null') are quoted, so Python tools and this loader agree.
 * Hand-written rather than the yaml library's stringify: that costs ~0.2 ms a document, which is most
 * of the time of writing a large vault; the round-trip tests hold the two equivalent.
 */
export function serializeQuestion(doc: Record<string, unknown>, opts: SerializeOptions = {}): string {
  let d = plainMap(doc);
  if ((opts.keyOrder ?? 'generator') === 'generator') {
    d = ordered(d, QUESTION_KEY_ORDER);
    for (const [key, order] of Object.entries(NESTED_ORDER)) {
      const v = d[key];
      if (isMapping(v)) d[key] = ordered(v, order);
    }
  }
  const lines: string[] = [];
  emitMap(d, '', lines);
  return lines.length === 0 ? '{}\n' : `${lines.join('\n')}\n`;
}

/** YAML 1.1 booleans and nulls (PyYAML's resolver), which must not be written plain. */
const RESERVED = /^(?:y|yes|n|no|true|false|on|off|null|~)$/i;
/** Conservative plain-scalar shape: starts with a letter; no ": ", " #", quotes at the start, or trailing space. */
const PLAIN_SAFE = /^[A-Za-z][A-Za-z0-9 _.,/()+\-'%&;?!*$=<>~^@"]*$/;
// Tab, LF and printable characters only; anything else goes double-quoted with escapes.
// eslint-disable-next-line no-control-regex
const NON_PRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ud800-\udfff]/;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isNaN(v) ? '.nan' : v === Infinity ? '.inf' : v === -Infinity ? '-.inf' : String(v);
  if (typeof v === 'bigint') return String(v);
  const s = String(v);
  if (PLAIN_SAFE.test(s) && !s.endsWith(' ') && !RESERVED.test(s)) return s;
  if (!NON_PRINTABLE.test(s) && !s.includes('\n') && !s.includes('\t')) return `'${s.replaceAll("'", "''")}'`;
  return JSON.stringify(s);
}

/** A literal block for `s`, or null when one cannot hold it exactly (then a quoted scalar is used). */
function literalBlock(s: string, indent: string): string[] | null {
  if (!s.includes('\n') || NON_PRINTABLE.test(s) || /^[ \t\n]/.test(s)) return null;
  const body = s.replace(/\n+$/, '');
  const trailing = s.length - body.length;
  const bodyLines = body.split('\n');
  // A last line of only blanks would be taken for a trailing empty line and dropped by the chomping.
  if (/^[ \t]*$/.test(bodyLines[bodyLines.length - 1]!)) return null;
  const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
  const extra = Array.from({ length: Math.max(0, trailing - 1) }, () => '');
  return [`|${chomp}`, ...bodyLines.map((l) => (l === '' ? '' : indent + l)), ...extra];
}

function emitValue(key: string, v: unknown, indent: string, lines: string[]): void {
  if (isMapping(v)) {
    if (Object.keys(v).length === 0) lines.push(`${key} {}`);
    else {
      lines.push(key);
      emitMap(v, `${indent}  `, lines);
    }
  } else if (Array.isArray(v)) {
    if (v.length === 0) lines.push(`${key} []`);
    else {
      lines.push(key);
      emitSeq(v, indent, lines);
    }
  } else if (typeof v === 'string') {
    const block = literalBlock(v, `${indent}  `);
    if (block) {
      lines.push(`${key} ${block[0]}`);
      for (const l of block.slice(1)) lines.push(l);
    } else lines.push(`${key} ${scalar(v)}`);
  } else lines.push(`${key} ${scalar(v)}`);
}

function emitMap(m: Record<string, unknown>, indent: string, lines: string[]): void {
  for (const [k, v] of Object.entries(m)) emitValue(`${indent}${scalar(k)}:`, v, indent, lines);
}

/** Items of a sequence; PyYAML puts `- ` at the parent key's indentation. */
function emitSeq(items: unknown[], indent: string, lines: string[]): void {
  for (const item of items) {
    if (isMapping(item) && Object.keys(item).length > 0) {
      // The first key shares the dash's line; the rest align under it.
      const sub: string[] = [];
      emitMap(item, `${indent}  `, sub);
      lines.push(`${indent}- ${sub[0]!.slice(indent.length + 2)}`, ...sub.slice(1));
    } else if (Array.isArray(item) && item.length > 0) {
      const sub: string[] = [];
      emitSeq(item, `${indent}  `, sub);
      lines.push(`${indent}- ${sub[0]!.slice(indent.length + 2)}`, ...sub.slice(1));
    } else emitValue(`${indent}-`, item, indent, lines);
  }
}

/** A segment that may name a file or folder: no separators, no `..`, no NUL, not empty. */
export function assertSafeSegment(segment: unknown, what: string): string {
  if (typeof segment !== 'string' || segment === '' || segment === '.' || segment === '..') {
    throw new UnsafePathError(`${what} ${JSON.stringify(segment)} cannot be used in a path`);
  }
  if (segment.includes('..') || segment.includes('/') || segment.includes('\\') || segment.includes('\0')) {
    throw new UnsafePathError(`${what} ${JSON.stringify(segment)} contains "..", "/", "\\" or NUL; refusing to build a path from it`);
  }
  return segment;
}

/**
 * Resolves `segments` under `vaultDir` and checks, lexically, that the result stays inside it.
 * Segments may hold "/" (relative paths such as a file's relPath) but never climb out.
 */
export function safeVaultPath(vaultDir: string, ...segments: string[]): string {
  const root = resolve(vaultDir);
  for (const s of segments) {
    if (typeof s !== 'string' || s.includes('\0')) throw new UnsafePathError(`path segment ${JSON.stringify(s)} contains NUL or is not a string`);
    if (isAbsolute(s)) throw new UnsafePathError(`path segment ${JSON.stringify(s)} is absolute`);
  }
  const target = resolve(root, ...segments);
  const rel = relative(root, target);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new UnsafePathError(`${JSON.stringify(segments.join('/'))} resolves outside the vault ${root}`);
  }
  return target;
}

/** After symlinks: the deepest existing ancestor of `absPath` must still be inside the vault. */
async function assertRealInside(vaultDir: string, absPath: string): Promise<void> {
  const root = await realpath(vaultDir).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new CorpusFileError(vaultDir, 'the vault folder does not exist') : e;
  });
  let probe = dirname(absPath);
  for (;;) {
    try {
      const real = await realpath(probe);
      const rel = relative(root, real);
      if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new UnsafePathError(`${absPath} resolves through a link outside the vault ${root}`);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const up = dirname(probe);
      if (up === probe) return;
      probe = up;
    }
  }
}

/** questions/<track>/<competency_area>/<id>.yaml, from checked segments. */
export function questionRelPath(doc: QuestionDoc): string {
  const track = assertSafeSegment(doc.track, 'track');
  const area = assertSafeSegment(doc.competency_area, 'competency_area');
  const id = assertSafeSegment(doc.id, 'id');
  return `questions/${track}/${area}/${id}.yaml`;
}

export interface WriteResult {
  /** Relative to the vault, forward slashes. */
  relPath: string;
  absPath: string;
  /** sha256 of the bytes written (what apply compares before deleting). */
  fileHash: string;
}

export interface WriteOptions extends SerializeOptions {
  /** Refuse to replace an existing file whose bytes differ (the same bytes again is fine: idempotent). */
  exclusive?: boolean;
}

/**
 * Atomically writes `text` at `absPath`: a temp file in the same folder (created unless `mkdir` is
 * false), then rename, so readers see the old bytes or the new, never a torn file.
 */
export async function atomicWrite(absPath: string, text: string | Uint8Array, opts: { mkdir?: boolean } = {}): Promise<void> {
  if (opts.mkdir ?? true) await mkdir(dirname(absPath), { recursive: true });
  const tmp = `${absPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, text, { flag: 'wx' });
    await rename(tmp, absPath);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Writes question files into one vault. It remembers the folders it has checked and created, so a
 * batch of thousands pays for the symlink check and mkdir once per folder, not once per file. A
 * folder swapped for a link while one writer is alive is outside what it guards against.
 */
export class QuestionWriter {
  readonly vaultDir: string;
  readonly #readyDirs = new Set<string>();

  constructor(vaultDir: string) {
    this.vaultDir = resolve(vaultDir);
  }

  /** Resolves a vault-relative path, checks it stays inside (after symlinks too) and creates its folder. */
  async prepare(...segments: string[]): Promise<string> {
    const absPath = safeVaultPath(this.vaultDir, ...segments);
    const dir = dirname(absPath);
    if (!this.#readyDirs.has(dir)) {
      // Before mkdir: creating folders through a link that leaves the vault would already be the harm.
      await assertRealInside(this.vaultDir, absPath);
      await mkdir(dir, { recursive: true });
      await assertRealInside(this.vaultDir, absPath);
      this.#readyDirs.add(dir);
    }
    return absPath;
  }

  /**
   * Validates `doc` as it would sit at questions/<track>/<area>/<id>.yaml (errors → CorpusFileError;
   * warnings such as an off-affinity level are allowed) and writes it there atomically.
   */
  async write(doc: QuestionDoc, opts: WriteOptions = {}): Promise<WriteResult> {
    const relPath = questionRelPath(doc);
    safeVaultPath(this.vaultDir, relPath);
    const errors = validateQuestion(doc, relPath).filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      throw new CorpusFileError(relPath, `refusing to write an invalid question: ${errors.map((p) => p.message).join('; ')}`);
    }
    const text = serializeQuestion(doc, opts);
    const absPath = await this.prepare(relPath);
    if (opts.exclusive) {
      const existing = await readFile(absPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (existing !== undefined && existing !== text) throw new CorpusFileError(relPath, 'a different file already exists at this path');
    }
    await atomicWrite(absPath, text, { mkdir: false });
    return { relPath, absPath, fileHash: sha256(Buffer.from(text, 'utf8')) };
  }
}

/** One question, through a one-off QuestionWriter (see there). */
export async function writeQuestion(vaultDir: string, doc: QuestionDoc, opts: WriteOptions = {}): Promise<WriteResult> {
  return new QuestionWriter(vaultDir).write(doc, opts);
}

export interface MoveResult extends WriteResult {
  from: string;
  /** False when the document already lived at its destination (rewritten in place). */
  moved: boolean;
}

/**
 * Rewrites the file at `fromRelPath` as `doc` at the path its track/area/id call for, then removes
 * the old file (and its folder, if now empty). The new file is written before the old one goes, so a
 * crash in between leaves a duplicate, never a loss. `expectedHash` guards against a file that
 * changed since it was read.
 */
export async function moveQuestion(
  vaultDir: string,
  fromRelPath: string,
  doc: QuestionDoc,
  opts: SerializeOptions & { expectedHash?: string } = {},
): Promise<MoveResult> {
  const fromAbs = safeVaultPath(vaultDir, fromRelPath);
  if ((await lstat(fromAbs)).isSymbolicLink()) throw new UnsafePathError(`${fromRelPath} is a symbolic link; not moving it`);
  if (opts.expectedHash !== undefined) {
    const now = sha256(await readFile(fromAbs));
    if (now !== opts.expectedHash) throw new CorpusFileError(fromRelPath, 'the file changed since it was read; not rewriting it');
  }
  const dest = questionRelPath(doc);
  const moved = toPosix(relative(resolve(vaultDir), fromAbs)) !== dest;
  const result = await writeQuestion(vaultDir, doc, { keyOrder: opts.keyOrder, exclusive: moved });
  if (moved) {
    await unlink(fromAbs);
    // Tidy an emptied area folder; never questions/ or a track folder (rmdir fails on non-empty ones anyway).
    if (fromRelPath.split('/').length >= 4) await rmdir(dirname(fromAbs)).catch(() => undefined);
  }
  return { ...result, from: fromRelPath, moved };
}
