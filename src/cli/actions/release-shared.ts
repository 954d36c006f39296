/** Helpers shared by the promote, manifest and export commands. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CorpusProblem } from '../../corpus/loader.js';
import { UserError } from '../output.js';

/** The vault folder as an absolute path; a clear error when it is not a folder with questions/. */
export async function requireVault(dir: string): Promise<string> {
  const abs = resolve(dir);
  const s = await stat(abs).catch(() => null);
  if (!s?.isDirectory()) throw new UserError(`--vault ${dir}: not a folder; expected a vault folder holding questions/`);
  const q = await stat(resolve(abs, 'questions')).catch(() => null);
  if (!q?.isDirectory()) throw new UserError(`--vault ${dir}: no questions/ folder inside; expected a vault folder`);
  return abs;
}

/** Files left out of the release, one line each on stderr (at most 10, then a count). */
export function reportProblems(problems: CorpusProblem[]): void {
  const errors = problems.filter((p) => p.severity === 'error');
  for (const p of errors.slice(0, 10)) {
    process.stderr.write(`warning: ${p.path}${p.line ? `:${p.line}` : ''}: ${p.message} (skipped)\n`);
  }
  if (errors.length > 10) process.stderr.write(`warning: ${errors.length - 10} more files skipped\n`);
}
