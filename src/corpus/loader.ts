/**
 * Reads `questions/**\/*.yaml` of a vault. One bad file never stops the load: every problem is
 * reported with the file's path (relative to the vault), the line where known, and the reason.
 */
import { createHash } from 'node:crypto';
import { lstat, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import fg from 'fast-glob';
import { isQuestionDoc, type QuestionDoc } from '../domain/question.js';
import { CONTROL_CHARACTER, DEFAULT_MAX_FILE_BYTES, readRegularFile } from '../util/files.js';
import { yamlModule } from '../util/yaml.js';

export type Severity = 'error' | 'warning';

export interface CorpusProblem {
  /** Path relative to the vault root, with forward slashes. */
  path: string;
  line?: number;
  severity: Severity;
  /** Stable machine-readable code, e.g. `yaml-syntax`, `empty`, `schema`, `too-large`. */
  code: string;
  message: string;
}

export interface LoadedFile {
  relPath: string;
  absPath: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the file's bytes: what apply compares before it deletes a judged draft. */
  fileHash: string;
  /**
   * The parsed mapping, every value as written, or null when the file could not be read as one.
   * An open map on purpose: validation, release hashing and export must see any value; code that
   * reads the question's fields takes `asQuestionDoc(doc)`.
   */
  doc: Record<string, unknown> | null;
  problems: CorpusProblem[];
}

export interface LoadOptions {
  /** Files larger than this are refused (default 1 MiB). */
  maxFileBytes?: number;
  /** YAML alias expansion cap (default 100): stops alias bombs. */
  maxAliasCount?: number;
  /** Parallel reads (default 64). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export { DEFAULT_MAX_FILE_BYTES };
export const DEFAULT_MAX_ALIAS_COUNT = 100;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The corpus boundary for code that reads a question's fields: the file's mapping typed as a
 * QuestionDoc (itself, unchanged), or null when it is none (not a mapping, or a known field holds a
 * value of the wrong kind, such as a number for a title).
 */
export function asQuestionDoc(doc: Record<string, unknown> | null): QuestionDoc | null {
  return doc !== null && isQuestionDoc(doc) ? doc : null;
}

/** Parses one question file's bytes. Never throws: problems come back in the result. */
export function parseQuestionBytes(
  bytes: Uint8Array,
  relPath: string,
  opts: Pick<LoadOptions, 'maxFileBytes' | 'maxAliasCount'> = {},
): { doc: Record<string, unknown> | null; problems: CorpusProblem[] } {
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (bytes.byteLength > maxBytes) {
    return {
      doc: null,
      problems: [
        {
          path: relPath,
          severity: 'error',
          code: 'too-large',
          message: `file is ${bytes.byteLength} bytes; the limit is ${maxBytes} bytes`,
        },
      ],
    };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    return {
      doc: null,
      problems: [{ path: relPath, line, severity: 'error', code: 'encoding', message: `not valid UTF-8 (byte offset ${offset})` }],
    };
  }
  return parseQuestionText(text, relPath, opts);
}

/** Offset of the first byte that breaks UTF-8 (a minimal validator; no overlong or surrogate checks needed here). */
function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
    }
    i += n + 1;
  }
  return i;
}

export function parseQuestionText(
  text: string,
  relPath: string,
  opts: Pick<LoadOptions, 'maxAliasCount'> = {},
): { doc: Record<string, unknown> | null; problems: CorpusProblem[] } {
  if (text.trim() === '') {
    return { doc: null, problems: [{ path: relPath, severity: 'error', code: 'empty', message: 'file is empty' }] };
  }
  const { isMap, LineCounter, parseDocument } = yamlModule();
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      doc: null,
      problems: document.errors.map((e) => ({
        path: relPath,
        line: e.linePos?.[0]?.line,
        severity: 'error' as const,
        code: 'yaml-syntax',
        message: firstLine(e.message),
      })),
    };
  }
  if (!isMap(document.contents)) {
    return {
      doc: null,
      problems: [{ path: relPath, line: 1, severity: 'error', code: 'not-a-mapping', message: 'expected a YAML mapping at the top level' }],
    };
  }
  try {
    // A mapping at the top level (checked above), its values as written.
    const doc: Record<string, unknown> = document.toJS({ maxAliasCount: opts.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT });
    // A NUL or other control character in a field would travel into prompts, analysis and files unseen.
    const bad = controlCharacterField(doc);
    if (bad) {
      const at = CONTROL_CHARACTER.exec(text);
      const line = at ? text.slice(0, at.index).split('\n').length : undefined;
      const code = bad.char.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase();
      return {
        doc: null,
        problems: [{ path: relPath, ...(line ? { line } : {}), severity: 'error', code: 'control-character', message: `field ${bad.field} contains the control character U+${code}; expected printable text (tabs and newlines allowed)` }],
      };
    }
    return { doc, problems: [] };
  } catch (e) {
    return {
      doc: null,
      problems: [{ path: relPath, severity: 'error', code: 'yaml-aliases', message: firstLine((e as Error).message) }],
    };
  }
}

/** The first string anywhere in the document holding a control character, with its field path. */
function controlCharacterField(v: unknown, field = ''): { field: string; char: string } | null {
  if (typeof v === 'string') {
    const m = CONTROL_CHARACTER.exec(v);
    return m ? { field: field || '(top level)', char: m[0] } : null;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = controlCharacterField(v[i], `${field}[${i}]`);
      if (r) return r;
    }
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const r = controlCharacterField(k, field ? `${field}.${k}` : k) ?? controlCharacterField(x, field ? `${field}.${k}` : k);
      if (r) return r;
    }
  }
  return null;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

export function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

/**
 * Lists `questions/**\/*.yaml` (relative to the vault, sorted). Symlinked files are listed too, so
 * that one pointing outside the vault is reported (by loadQuestionFile) instead of silently missed.
 */
export async function listQuestionFiles(vaultDir: string): Promise<string[]> {
  const entries = await fg('questions/**/*.yaml', { cwd: vaultDir, onlyFiles: false, followSymbolicLinks: false, dot: false, objectMode: true });
  return entries
    .filter((e) => e.dirent.isFile() || e.dirent.isSymbolicLink())
    .map((e) => e.path)
    .sort();
}

const outsideProblem = (relPath: string, target: string): CorpusProblem => ({
  path: relPath,
  severity: 'error',
  code: 'symlink-outside',
  message: `symbolic link points outside the vault (${target}); not read`,
});

/** Reads one file under the vault; refuses symlinks that resolve outside it. */
export async function loadQuestionFile(vaultDir: string, relPath: string, opts: LoadOptions = {}): Promise<LoadedFile> {
  const absPath = join(vaultDir, relPath);
  const base: LoadedFile = { relPath, absPath, size: 0, mtimeMs: 0, fileHash: '', doc: null, problems: [] };
  try {
    const l = await lstat(absPath);
    if (l.isSymbolicLink()) {
      const target = await realpath(absPath);
      const root = await realpath(vaultDir);
      const rel = relative(root, target);
      if (rel.startsWith('..') || rel === '' || rel.startsWith(sep)) {
        base.problems.push(outsideProblem(relPath, target));
        return base;
      }
    }
    const s = await stat(absPath);
    if (!s.isFile()) {
      base.problems.push({ path: relPath, severity: 'error', code: 'not-a-file', message: 'not a regular file (a named pipe, device, socket or folder); not read' });
      return base;
    }
    base.size = s.size;
    base.mtimeMs = s.mtimeMs;
    const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (s.size > maxBytes) {
      base.problems.push({ path: relPath, severity: 'error', code: 'too-large', message: `file is ${s.size} bytes; the limit is ${maxBytes} bytes` });
      return base;
    }
    const bytes = await readRegularFile(absPath);
    base.fileHash = sha256(bytes);
    const { doc, problems } = parseQuestionBytes(bytes, relPath, opts);
    base.doc = doc;
    base.problems.push(...problems);
  } catch (e) {
    base.problems.push({ path: relPath, severity: 'error', code: 'io', message: (e as Error).message });
  }
  return base;
}

/** Loads every question file of a vault, in path order. */
export async function loadVault(vaultDir: string, opts: LoadOptions = {}): Promise<{ files: LoadedFile[]; problems: CorpusProblem[] }> {
  const rels = await listQuestionFiles(vaultDir);
  const files: LoadedFile[] = new Array(rels.length);
  const concurrency = Math.max(1, opts.concurrency ?? 64);
  let next = 0;
  let done = 0;
  const workers = Array.from({ length: Math.min(concurrency, rels.length) }, async () => {
    while (next < rels.length) {
      const i = next++;
      files[i] = await loadQuestionFile(vaultDir, rels[i]!, opts);
      done++;
      opts.onProgress?.(done, rels.length);
    }
  });
  await Promise.all(workers);
  return { files, problems: files.flatMap((f) => f.problems) };
}

// In a module of their own (Node built-ins only), so a command that checks a vault folder loads no glob or YAML parser.
export { VAULT_FOLDERS, vaultFoldersProblem } from './vault-folders.js';
