/**
 * Pruning: the apply step of a judge chunk (records its verdicts, prunes DROP drafts) and the
 * hash-guarded delete it shares with a person's review (reject). A DROP draft's YAML is deleted only
 * while its bytes still hash to what was judged; a pruned draft takes its visual files
 * (visuals/<track>/<id>.{dot,py,svg}) with it. A chunk whose judge failed for good leaves its drafts
 * in place, recorded as unjudged. Safe to run twice. Files go through the VaultFilesPort.
 */
import { sha256 } from '../corpus/loader.js';
import type { ApplyPayload, ApplyResult } from '../queues/apply.js';
import type { AppliedVerdict, VerdictRecord } from '../domain/verdict.js';
import { assertSafeName } from '../visuals/paths.js';
import type { Clock, RunStorePort, VaultFilesPort } from './ports.js';

/** What pruning did: deleted, found nothing to delete, or left a file edited since it was judged. */
export type PruneOutcome = 'pruned' | 'already-gone' | 'skipped-changed';

export interface PrunedDraft {
  id: string;
  track: string;
  /** The YAML's path relative to the vault. */
  path: string;
  /** sha256 of the YAML's bytes when it was judged. */
  fileHash: string;
}

/** Deletes the draft's YAML and visual files unless the YAML changed since it was judged. Safe to run twice. */
export async function pruneDraft(files: VaultFilesPort, d: PrunedDraft): Promise<PruneOutcome> {
  const bytes = await files.read(d.path);
  if (bytes !== null && sha256(bytes) !== d.fileHash) return 'skipped-changed';
  if (bytes !== null) await files.remove(d.path);
  // Also when the YAML is already gone: a prune cut short between the two leaves no stray visuals.
  assertSafeName(d.track, 'track');
  assertSafeName(d.id, 'id');
  for (const ext of ['dot', 'py', 'svg']) await files.remove(`visuals/${d.track}/${d.id}.${ext}`);
  return bytes === null ? 'already-gone' : 'pruned';
}

export interface ApplyDeps extends Clock {
  store: Pick<RunStorePort, 'verdictsOf' | 'putUnjudged' | 'putVerdict' | 'clearUnjudged'>;
  files: VaultFilesPort;
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
  const { store, files, runId } = { ...deps, runId: payload.runId };
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
      applied = await pruneDraft(files, d);
    } else {
      applied = 'kept';
      // A kept draft ends with its source and its rendered SVG under visuals/<track>/.
      const svg = svgOf.get(d.id);
      if (svg !== undefined) {
        await files.write(`visuals/${d.track}/${d.id}.svg`, svg);
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
