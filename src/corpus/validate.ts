/**
 * Whole-vault validation: every file through the loader, every parsed document through
 * validateQuestion, plus what only the whole vault shows (duplicate ids). What `vault-loop validate`
 * prints and what the pipeline can run before and after it writes.
 */
import { LineCounter, parseDocument, Parser } from 'yaml';
import { loadVault, type CorpusProblem, type LoadedFile, type LoadOptions } from './loader.js';
import { readRegularText } from '../util/files.js';
import { validateQuestion } from './schema.js';

export interface VaultValidation {
  /** Files under questions/ that were looked at. */
  files: number;
  /** Every problem, ordered by path then line. */
  problems: CorpusProblem[];
  errors: number;
  warnings: number;
  /** Paths with at least one error, sorted. */
  errorFiles: string[];
  /** Every file that loaded as a mapping, with its document (for callers that go on to use them). */
  loaded: LoadedFile[];
}

export async function validateVault(vaultDir: string, opts: LoadOptions = {}): Promise<VaultValidation> {
  const { files } = await loadVault(vaultDir, opts);
  const problems: CorpusProblem[] = [];
  const byId = new Map<string, string[]>();
  for (const f of files) {
    if (f.doc === null) {
      problems.push(...(await withSyntaxLines(f)));
      continue;
    }
    let found = validateQuestion(f.doc, f.relPath);
    // Lines cost a second parse, so only files with something to point at pay for it.
    if (found.length > 0) {
      const text = await readRegularText(f.absPath).catch(() => undefined);
      if (text !== undefined) found = validateQuestion(f.doc, f.relPath, { text });
    }
    problems.push(...f.problems, ...found);
    if (typeof f.doc.id === 'string') byId.set(f.doc.id, [...(byId.get(f.doc.id) ?? []), f.relPath]);
  }
  for (const [id, paths] of byId) {
    if (paths.length < 2) continue;
    for (const p of paths) {
      problems.push({ path: p, severity: 'error', code: 'duplicate-id', message: `id "${id}" is also used by ${paths.filter((x) => x !== p).join(', ')}` });
    }
  }
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : (a.line ?? 0) - (b.line ?? 0)));
  const errorFiles = [...new Set(problems.filter((p) => p.severity === 'error').map((p) => p.path))].sort();
  return {
    files: files.length,
    problems,
    errors: problems.filter((p) => p.severity === 'error').length,
    warnings: problems.filter((p) => p.severity === 'warning').length,
    errorFiles,
    loaded: files.filter((f) => f.doc !== null),
  };
}

/**
 * The loader parses with prettyErrors off, which leaves YAML syntax errors without a line; this
 * recovers it from the error's offset. An error found at the very end of the file (an unclosed
 * quote or bracket) is placed on the last line that has content.
 */
async function withSyntaxLines(f: LoadedFile): Promise<CorpusProblem[]> {
  if (!f.problems.some((p) => p.code === 'yaml-syntax' && p.line === undefined)) return f.problems;
  const text = await readRegularText(f.absPath).catch(() => undefined);
  if (text === undefined) return f.problems;
  const lineCounter = new LineCounter();
  const errors = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true }).errors;
  const contentEnd = text.trimEnd().length;
  return f.problems.map((p, i) => {
    if (p.code !== 'yaml-syntax' || p.line !== undefined) return p;
    const err = errors[i] ?? errors[0];
    if (!err) return p;
    if (err.pos[0] < contentEnd) return { ...p, line: lineCounter.linePos(err.pos[0]).line };
    // Found only at the end: an unclosed quote swallowed the rest of the file. Point at where it opened.
    const opened = unclosedQuoteOffset(text);
    if (opened !== undefined) return { ...p, line: lineCounter.linePos(opened).line, message: `${p.message} (the quote opened here is never closed)` };
    return { ...p, line: lineCounter.linePos(Math.max(0, contentEnd - 1)).line, message: `${p.message} (reached the end of the file)` };
  });
}

/** Offset of the first quoted scalar in the CST whose closing quote is missing. */
function unclosedQuoteOffset(text: string): number | undefined {
  const walk = (node: unknown): number | undefined => {
    if (Array.isArray(node)) {
      for (const n of node) {
        const found = walk(n);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (node === null || typeof node !== 'object') return undefined;
    const t = node as { type?: unknown; source?: unknown; offset?: unknown };
    if ((t.type === 'single-quoted-scalar' || t.type === 'double-quoted-scalar') && typeof t.source === 'string' && typeof t.offset === 'number') {
      const q = t.type === 'single-quoted-scalar' ? "'" : '"';
      const src = t.source.trimEnd();
      if (src.length < 2 || !src.endsWith(q)) return t.offset;
    }
    for (const v of Object.values(node)) {
      const found = walk(v);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk([...new Parser().parse(text)]);
}
