/**
 * apply (corpus host): records one chunk's verdicts and prunes DROP drafts — the YAML and its
 * visual files — only if the file's content hash still equals what was judged. A chunk whose
 * judge failed for good leaves its drafts in place, recorded as unjudged. Safe to run twice.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { atomicWrite, safeVaultPath } from '../corpus/writer.js';
import type { ApplyPayload, ApplyResult } from '../queues/apply.js';
import type { VerdictRecord } from '../domain/verdict.js';
import { pruneDraft } from '../scheduler/prune.js';
import type { AppliedVerdict, RunStore } from '../state/run-state.js';

export interface ApplyDeps {
  vault: string;
  store: RunStore;
  now(): Date;
}

/**
 * @param verdicts the judge's verdicts, or null when the judge failed for good (`judgeError` says why).
 */
export async function applyChunk(
  payload: ApplyPayload,
  verdicts: VerdictRecord[] | null,
  judgeError: string | null,
  deps: ApplyDeps,
  svgs: { draftId: string; svg: string }[] = [],
): Promise<ApplyResult> {
  const svgOf = new Map(svgs.map((s) => [s.draftId, s.svg]));
  const { store, vault, runId } = { ...deps, runId: payload.runId };
  // Only this chunk's verdicts: reading the run's whole hash per chunk made the judge stage quadratic.
  const existing = await store.verdictsOf(runId, payload.drafts.map((d) => d.id));
  const result: ApplyResult = { chunk: payload.chunk, judged: verdicts !== null, pruned: [], kept: [], skippedChanged: [], unjudged: [] };
  const byId = new Map((verdicts ?? []).map((v) => [v.id, v]));

  for (const d of payload.drafts) {
    const v = byId.get(d.id);
    if (!v) {
      const prior = existing.get(d.id);
      if (prior) continue; // already applied (e.g. by a late apply): never downgrade to unjudged
      await store.putUnjudged(runId, d.id, {
        id: d.id,
        iter: payload.iter,
        chunk: payload.chunk,
        path: d.path,
        reason: verdicts === null ? `judge failed: ${judgeError ?? 'unknown error'}` : 'no verdict for this draft',
      });
      result.unjudged.push(d.id);
      continue;
    }
    const prior = existing.get(d.id);
    const round = payload.round ?? 0;
    const sameRound = prior !== undefined && (prior.round ?? 0) === round;
    let applied: AppliedVerdict['applied'];
    if (prior && sameRound && prior.verdict === v.verdict) {
      applied = prior.applied; // a second run of the same apply: nothing new to do
    } else if (v.verdict === 'DROP') {
      applied = await pruneDraft(vault, d);
    } else {
      applied = 'kept';
      // A kept draft ends with its source and its rendered SVG under visuals/<track>/.
      const svg = svgOf.get(d.id);
      if (svg !== undefined) {
        const abs = safeVaultPath(vault, 'visuals', d.track, `${d.id}.svg`);
        await mkdir(dirname(abs), { recursive: true });
        await atomicWrite(abs, svg);
      }
    }
    if (applied === 'pruned' || applied === 'already-gone') result.pruned.push(d.id);
    else if (applied === 'skipped-changed') result.skippedChanged.push(d.id);
    else result.kept.push(d.id);
    await store.putVerdict(runId, d.id, {
      ...v,
      iter: payload.iter,
      chunk: payload.chunk,
      path: d.path,
      fileHash: d.fileHash,
      applied,
      late: Boolean(payload.late) || Boolean(sameRound && prior?.late),
      appliedAt: (sameRound ? prior?.appliedAt : undefined) ?? deps.now().toISOString(),
      round,
      // A revision's verdict keeps the verdicts before it.
      history: prior
        ? sameRound
          ? (prior.history ?? [])
          : [...(prior.history ?? []), { round: prior.round ?? 0, verdict: prior.verdict, issues: prior.issues, fix_suggestion: prior.fix_suggestion, fileHash: prior.fileHash, model: prior.model }]
        : [],
    } satisfies AppliedVerdict);
    await store.clearUnjudged(runId, d.id);
  }
  return result;
}
