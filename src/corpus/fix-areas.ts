/**
 * fix-areas: rewrites malformed competency_area values through the normalizer and moves each file
 * to questions/<track>/<area>/. Unlike the original (which globbed one level deep), it sees every
 * depth, and it also moves files whose canonical area disagrees with their folder.
 */
import { normalizeArea } from './areas.js';
import { loadVault } from './loader.js';
import { validateQuestion } from './schema.js';
import type { Area } from './taxonomy.js';
import { moveQuestion, questionRelPath } from './writer.js';

export type AreaFixStatus = 'fixed' | 'would-fix' | 'unmappable' | 'blocked';

export interface AreaFixRow {
  path: string;
  old: unknown;
  new?: Area;
  /** The normalizer's rule, or `relocate` for a canonical area in the wrong folder. */
  rule?: string;
  /** Where the file is (or would be) afterwards. */
  to?: string;
  status: AreaFixStatus;
  /** Why a row was not fixed. */
  reason?: string;
}

export interface AreaFixReport {
  rows: AreaFixRow[];
  fixed: number;
  unmappable: number;
  blocked: number;
  /** Files the loader could not read as a mapping; fix-areas leaves them to `validate`. */
  unreadable: string[];
}

export async function fixAreas(vaultDir: string, opts: { dryRun?: boolean } = {}): Promise<AreaFixReport> {
  const { files } = await loadVault(vaultDir);
  const rows: AreaFixRow[] = [];
  const unreadable: string[] = [];
  for (const f of files) {
    if (f.doc === null) {
      unreadable.push(f.relPath);
      continue;
    }
    const old = f.doc.competency_area;
    const n = normalizeArea(old);
    if ('unmappable' in n) {
      rows.push({ path: f.relPath, old, status: 'unmappable', reason: n.reason });
      continue;
    }
    // Spreading keeps the key where it was; only its value changes.
    const doc = { ...f.doc, competency_area: n.area };
    let dest: string;
    try {
      dest = questionRelPath(doc);
    } catch (e) {
      rows.push({ path: f.relPath, old, new: n.area, rule: n.rule, status: 'blocked', reason: (e as Error).message });
      continue;
    }
    if (n.rule === 'canonical' && dest === f.relPath) continue;
    const row: AreaFixRow = { path: f.relPath, old, new: n.area, rule: n.rule === 'canonical' ? 'relocate' : n.strippedTrack ? `${n.rule} (track prefix)` : n.rule, to: dest, status: 'would-fix' };
    // Validated where the file is now, so a file name that disagrees with the id blocks the move
    // instead of being silently renamed; the area-folder warning is what this command fixes.
    const errors = validateQuestion(doc, f.relPath).filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      const fields = [...new Set(errors.map((p) => (p.code === 'schema' ? p.message.split(':')[0] : p.code)))];
      rows.push({ ...row, status: 'blocked', reason: `other errors (${fields.join(', ')}); run validate` });
      continue;
    }
    if (!opts.dryRun) {
      try {
        await moveQuestion(vaultDir, f.relPath, doc, { keyOrder: 'preserve', expectedHash: f.fileHash });
        row.status = 'fixed';
      } catch (e) {
        row.status = 'blocked';
        row.reason = (e as Error).message;
      }
    }
    rows.push(row);
  }
  return {
    rows,
    fixed: rows.filter((r) => r.status === 'fixed' || r.status === 'would-fix').length,
    unmappable: rows.filter((r) => r.status === 'unmappable').length,
    blocked: rows.filter((r) => r.status === 'blocked').length,
    unreadable,
  };
}
