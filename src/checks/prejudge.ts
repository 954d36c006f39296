/**
 * The pre-judge over a whole dispatch, run BEFORE drafts are cut into judge chunks: what it is
 * certain of is dropped here, so the chunks that reach the model hold only drafts that need it and
 * every chunk it empties is a call saved. Evidence findings travel with each remaining draft into
 * the judge prompt.
 *
 * Duplicates among the drafts count only against EARLIER drafts (plan order): of two copies the
 * first is judged and the second is the duplicate, never both.
 */
import type { Applicability } from '../corpus/taxonomy.js';
import { NearDupIndex, type NearestMatch } from './neardup.js';
import { runChecks, type CheckReport, type DraftDoc } from './run.js';

export interface PrejudgeOptions {
  applicability?: Applicability;
  nearDupThreshold?: number;
  relTol?: number;
}

/** The vault side of the near-duplicate check (a NearDupIndex, or the host's wrapper of one). */
export interface VaultNearest {
  nearest(doc: DraftDoc, opts?: { excludeId?: string }): NearestMatch | null;
}

export interface PrejudgeFindings {
  /** Certain findings: the draft is dropped on them. */
  certain: string[];
  /** Evidence for the judge prompt. */
  evidence: string[];
}

export interface PrejudgeResult<T> {
  dropped: (T & { prejudge: PrejudgeFindings; report: CheckReport })[];
  toJudge: (T & { prejudge: PrejudgeFindings; report: CheckReport })[];
}

export function prejudge<T extends { id: string; doc: DraftDoc }>(drafts: readonly T[], vault: VaultNearest | null, opts: PrejudgeOptions = {}): PrejudgeResult<T> {
  const earlier = new NearDupIndex();
  const out: PrejudgeResult<T> = { dropped: [], toJudge: [] };
  for (const d of drafts) {
    const vaultNearest = vault?.nearest(d.doc, { excludeId: d.id }) ?? null;
    const batchNearest = earlier.nearest(d.doc, { excludeId: d.id });
    const nearest = pickNearest(vaultNearest, batchNearest);
    const report = runChecks(d.doc, {
      ...(opts.applicability ? { applicability: opts.applicability } : {}),
      ...(opts.nearDupThreshold !== undefined ? { nearDupThreshold: opts.nearDupThreshold } : {}),
      ...(opts.relTol !== undefined ? { relTol: opts.relTol } : {}),
      vaultNearest: nearest?.match ?? null,
      nearestSource: nearest?.source ?? 'vault',
    });
    const item = { ...d, prejudge: { certain: report.hard, evidence: report.soft }, report };
    if (report.hard.length > 0) {
      out.dropped.push(item);
    } else {
      out.toJudge.push(item);
      earlier.add(d.id, d.doc);
    }
  }
  return out;
}

function pickNearest(vault: NearestMatch | null, batch: NearestMatch | null): { match: NearestMatch; source: 'vault' | 'batch' } | null {
  if (vault && (!batch || vault.similarity >= batch.similarity)) return { match: vault, source: 'vault' };
  return batch ? { match: batch, source: 'batch' } : null;
}

/** Judge calls a dispatch saves: chunks it would have had, less chunks that still need the model. */
export function callsSaved(total: number, toJudge: number, chunkSize: number): number {
  return Math.ceil(total / chunkSize) - Math.ceil(toJudge / chunkSize);
}
