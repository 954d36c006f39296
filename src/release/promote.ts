/**
 * Promotion of judged drafts: PASS drafts (and drafts a person accepted in review) become
 * `status: published`. Which runs' verdicts count is src/services/promote.ts (it reads the run
 * folders); this module acts on the verdicts it is given.
 *
 * Unlike the original promoter (SEED-SPEC §11 bug 10) it promotes a file only when its bytes are
 * exactly what the judge saw (sha256 = the recorded `file_hash`) and it is still a draft, stamps
 * the judge's real model, and marks math verified only when the deterministic arithmetic check
 * passed. Runs twice, it changes nothing the second time.
 */
import { lstat, readFile } from 'node:fs/promises';
import { nullIfMissing, readRegularFile } from '../util/files.js';
import { join } from 'node:path';
import fg from 'fast-glob';
import { parseQuestionText, sha256 } from '../corpus/loader.js';
import { validateQuestion } from '../corpus/schema.js';
import { atomicWrite, serializeQuestion } from '../corpus/writer.js';
import { UnsafePathError } from '../errors.js';
import { resolveInVault } from './files.js';

export const ARITHMETIC_CHECK_MODEL = 'vault-loop arithmetic check';

export type PromoteResult =
  | 'promoted'
  | 'skipped: changed since judged'
  | 'skipped: not a draft'
  | 'skipped: id mismatch'
  | 'skipped: invalid'
  | 'skipped: unsafe path'
  | 'missing';

export interface PromoteRow {
  id: string;
  /** Vault-relative path of the file acted on (the recorded one, or where the id was found). */
  path: string;
  result: PromoteResult;
  mathVerified: boolean;
}

/** What promotion needs of a run's latest verdict on a draft (the run's judge summary gives it). */
export interface PromotableVerdict {
  id: string;
  /** Vault-relative path of the YAML the judge saw. */
  path: string;
  /** sha256 of the YAML's bytes when it was judged. */
  file_hash: string;
  verdict: string;
  /** The judge's model for this draft. */
  judgeModel: string;
  checks?: { arithmetic?: string };
  /** A person's review in the dashboard: an accepted NEEDS_FIX draft is promoted like a PASS. */
  review?: { action: string };
}

const SAFE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function isFile(path: string): Promise<boolean> {
  return (await nullIfMissing(lstat(path)))?.isFile() ?? false;
}

/** Where the draft is now: the recorded path, else a unique `questions/**\/<id>.yaml` (a later move). */
async function locate(vaultDir: string, v: PromotableVerdict): Promise<{ abs: string; rel: string } | null> {
  const abs = resolveInVault(vaultDir, v.path);
  if (await isFile(abs)) return { abs, rel: v.path };
  if (!SAFE_ID_RE.test(v.id)) return null;
  const found = await fg(`questions/**/${v.id}.yaml`, { cwd: vaultDir, onlyFiles: true, followSymbolicLinks: false });
  if (found.length !== 1) return null;
  return { abs: resolveInVault(vaultDir, found[0]!), rel: found[0]! };
}

/**
 * The promoted document and its text, or null when `text` is not a draft mapping. Existing keys
 * keep their place and new ones are appended at the end, as the original promoter did; the text
 * comes from the corpus writer (PyYAML-like style, dates quoted), so comments are not kept.
 */
export function promoteText(
  text: string,
  v: Pick<PromotableVerdict, 'judgeModel' | 'checks'>,
  today: string,
  relPath = 'question.yaml',
): { text: string; doc: Record<string, unknown>; mathVerified: boolean } | null {
  const { doc: parsed } = parseQuestionText(text, relPath);
  if (parsed === null || parsed.status !== 'draft') return null;
  const doc: Record<string, unknown> = { ...parsed };
  doc.status = 'published';
  doc.validated = true;
  doc.validation_status = 'passed';
  doc.validation_model = v.judgeModel;
  doc.validation_date = today;
  const mathVerified = v.checks?.arithmetic === 'passed';
  if (mathVerified) {
    doc.math_verified = true;
    doc.math_status = 'CORRECT';
    doc.math_model = ARITHMETIC_CHECK_MODEL;
    doc.math_date = today;
  }
  return { text: serializeQuestion(doc, { keyOrder: 'preserve' }), doc, mathVerified };
}

async function promoteOne(vaultDir: string, v: PromotableVerdict, today: string, dryRun: boolean): Promise<PromoteRow> {
  const row = (result: PromoteResult, path = v.path, mathVerified = false): PromoteRow => ({ id: v.id, path, result, mathVerified });
  let where: { abs: string; rel: string } | null;
  try {
    where = await locate(vaultDir, v);
  } catch (e) {
    if (e instanceof UnsafePathError) return row('skipped: unsafe path');
    throw e;
  }
  if (!where) return row('missing');
  // A link could point anywhere; the loop never writes one, so refuse rather than follow it.
  if ((await lstat(where.abs)).isSymbolicLink()) return row('skipped: unsafe path', where.rel);
  const bytes = await readRegularFile(where.abs).catch(() => null);
  if (!bytes) return row('skipped: unsafe path', where.rel);
  const text = bytes.toString('utf8');
  const { doc: parsed } = parseQuestionText(text, where.rel);
  if (parsed?.status !== 'draft') return row('skipped: not a draft', where.rel);
  if (sha256(bytes) !== v.file_hash) return row('skipped: changed since judged', where.rel);
  if (parsed.id !== v.id) return row('skipped: id mismatch', where.rel);
  const out = promoteText(text, v, today, where.rel)!;
  // Never publish what the schema rejects (a PASS does not prove the file is well-formed).
  if (validateQuestion(out.doc, where.rel).some((p) => p.severity === 'error')) return row('skipped: invalid', where.rel);
  if (!dryRun) {
    // A last look right before the rename: an edit made since we read the file wins.
    if (sha256(await readFile(where.abs)) !== v.file_hash) return row('skipped: changed since judged', where.rel);
    await atomicWrite(where.abs, out.text);
  }
  return row('promoted', where.rel, out.mathVerified);
}

/** Written into a run's folder once its drafts were promoted: a plain `promote` leaves it out next time. */
export const PROMOTED_MARKER = 'promoted.json';

/** When the run whose folder is `runDir` was promoted, or null when it was not. */
export async function promotedAt(runDir: string): Promise<string | null> {
  try {
    const raw = JSON.parse(await readFile(join(runDir, PROMOTED_MARKER), 'utf8')) as { promoted_at?: unknown };
    return typeof raw.promoted_at === 'string' ? raw.promoted_at : 'an earlier promote';
  } catch {
    return null;
  }
}

/** Marks a run's folder as promoted; the first promotion is what the marker records. */
export async function markPromoted(runDir: string, at: string, promoted: number): Promise<void> {
  if (await promotedAt(runDir)) return;
  await atomicWrite(join(runDir, PROMOTED_MARKER), `${JSON.stringify({ promoted_at: at, promoted }, null, 2)}\n`);
}

/**
 * Promotes the PASS (and accepted, unless dropped) drafts among `verdicts` (one per draft id, the
 * latest), in id order; the other verdicts are counted by kind.
 */
export async function promoteVerdicts(
  vaultDir: string,
  verdicts: readonly PromotableVerdict[],
  opts: { today: string; dryRun: boolean },
): Promise<{ rows: PromoteRow[]; notPass: Record<string, number> }> {
  const rows: PromoteRow[] = [];
  const notPass: Record<string, number> = {};
  for (const v of [...verdicts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const accepted = v.review?.action === 'accepted' && v.verdict !== 'DROP';
    if (v.verdict !== 'PASS' && !accepted) {
      notPass[v.verdict] = (notPass[v.verdict] ?? 0) + 1;
      continue;
    }
    rows.push(await promoteOne(vaultDir, v, opts.today, opts.dryRun));
  }
  return { rows, notPass };
}
