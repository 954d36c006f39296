/**
 * Revision: which NEEDS_FIX drafts go to the reviser (unchanged since judging), the redispatch that
 * writes revised drafts only over the bytes that were judged, and the one iteration of a revision
 * run (the drafts an earlier run left become its round-0 verdicts).
 */
import { asQuestionDoc, parseQuestionText, sha256 } from '../corpus/loader.js';
import type { JudgeDraft } from '../domain/draft.js';
import type { JudgeSummary } from '../domain/records.js';
import type { RunConfig } from '../domain/run-config.js';
import type { RevisePayload, ReviseResult } from '../queues/revise.js';
import { forJudge, startJudging, type ChildOutcomes } from './dispatch.js';
import { finishRun, freeCalls, judgeReservation, readVisualSource, sizeIteration, writeVisualSource, type StepDeps, type StepResult } from './control.js';
import type { JudgeChunkPlan } from './ports.js';
import { decideStop, STOP } from './saturation.js';

/** NEEDS_FIX drafts judged in `round` of this iteration, kept, and unchanged since judging. */
export async function revisionCandidates(runId: string, iter: number, round: number, deps: Pick<StepDeps, 'store' | 'files'>): Promise<Omit<RevisePayload, 'round'>[]> {
  const [verdicts, drafts] = await Promise.all([deps.store.verdicts(runId), deps.store.drafts(runId)]);
  const out: Omit<RevisePayload, 'round'>[] = [];
  for (const v of [...verdicts.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    // NEEDS_FIX drafts nobody reviewed yet, and any kept draft a person sent to revision.
    const wanted = v.review ? v.review.action === 'sent-to-revision' : v.verdict === 'NEEDS_FIX';
    if (v.iter !== iter || (v.round ?? 0) !== round || !wanted || v.applied !== 'kept') continue;
    const rec = drafts.get(v.id);
    const bytes = await deps.files.read(v.path).catch(() => null);
    if (bytes === null) continue;
    if (sha256(bytes) !== v.fileHash) continue; // edited by hand since judging: never overwritten
    const doc = asQuestionDoc(parseQuestionText(bytes.toString('utf8'), v.path).doc);
    if (!doc) continue;
    const visual: RevisePayload['draft']['visual'] = rec ? await readVisualSource(deps, rec.visualFiles) : undefined;
    out.push({ runId, iter, draft: { id: v.id, doc, ...(visual ? { visual } : {}), path: v.path, fileHash: v.fileHash }, issues: v.issues, fix_suggestion: v.fix_suggestion });
  }
  return out;
}

/**
 * Writes the revised drafts — only where the file still has the hash that was judged — and adds
 * the judging of the revision round.
 */
export async function redispatchStep(runId: string, iter: number, round: number, cfg: RunConfig, children: ChildOutcomes<ReviseResult, { id: string }>, deps: StepDeps): Promise<StepResult> {
  const { store } = deps;
  const { results: revised, failures } = children;
  const [verdicts, drafts] = await Promise.all([store.verdicts(runId), store.drafts(runId)]);
  const written: JudgeDraft[] = [];
  const skipped: { id: string; reason: string }[] = failures.map((f) => ({ id: f.id, reason: `revision failed: ${f.error}` }));
  if (revised.length > 0) await deps.loadNearDup();
  for (const r of [...revised].sort((a, b) => a.id.localeCompare(b.id))) {
    const v = verdicts.get(r.id);
    const rec = drafts.get(r.id);
    if (!v || !rec) {
      skipped.push({ id: r.id, reason: 'no verdict or draft record' });
      continue;
    }
    const current = await deps.files.read(v.path).catch(() => null);
    // The file must still be what was judged (or, when this step runs twice, what it wrote).
    if (current === null || (sha256(current) !== v.fileHash && sha256(current) !== rec.fileHash)) {
      skipped.push({ id: r.id, reason: current === null ? 'file gone' : 'file changed since it was judged; not overwritten' });
      continue;
    }
    const { relPath, fileHash } = await deps.writeDraft(r.draft.doc);
    if (r.draft.visual && r.draft.visual.kind !== 'svg') await writeVisualSource(deps, String(r.draft.doc.track), r.id, r.draft.visual);
    const chunk = Math.floor(written.length / cfg.judgeChunkSize);
    written.push(forJudge(deps, r.id, r.draft, relPath, fileHash));
    await store.putDraft(runId, r.id, { ...rec, path: relPath, fileHash, chunk });
  }
  const prev = JSON.parse((await store.iterGet(runId, iter)).revisionsSkipped ?? '[]') as { id: string; reason: string }[];
  const merged = [...prev.filter((p) => !skipped.some((s) => s.id === p.id)), ...skipped];
  await store.iterSet(runId, iter, { revisionsSkipped: JSON.stringify(merged), [`revised_r${round}`]: written.length });
  const chunks: JudgeChunkPlan[] = [];
  for (let i = 0; i < written.length; i += cfg.judgeChunkSize) chunks.push({ chunk: chunks.length, drafts: written.slice(i, i + cfg.judgeChunkSize) });
  await startJudging(deps, runId, iter, round, cfg, chunks);
  return { decision: 'judge revisions', detail: { revised: written.length, skipped: skipped.length, round } };
}

export const REVISION_DONE = 'revision complete';

/**
 * The one iteration of a revision run: the NEEDS_FIX drafts an earlier run left (their files
 * unchanged since judging) become this run's round-0 verdicts, and go to revision.
 */
export async function planRevision(runId: string, iter: number, cfg: RunConfig, deps: StepDeps): Promise<StepResult> {
  const { store } = deps;
  const source = cfg.reviseFrom!;
  if (iter > 0) {
    await finishRun(deps, runId, REVISION_DONE);
    return { decision: 'stop', detail: { reason: REVISION_DONE } };
  }
  const run = (await store.get(runId))!;
  const stop = decideStop({ stopRequested: run.stopRequested });
  if (stop) {
    await finishRun(deps, runId, stop.reason, stop.status);
    return { decision: 'stop', detail: { reason: stop.reason } };
  }
  if (!(await store.iterGet(runId, 0)).seeded) {
    const latest = new Map<string, JudgeSummary['details'][number]>();
    for (const js of deps.records.judgeSummaries(source)) {
      for (const d of js.details) latest.set(d.id, d);
    }
    const now = deps.now().toISOString();
    for (const d of latest.values()) {
      const wanted = d.review ? d.review.action === 'sent-to-revision' : d.verdict === 'NEEDS_FIX';
      if (!wanted || d.applied !== 'kept') continue;
      const track = String(d.path.split('/')[1] ?? '');
      const visualFiles = ['dot', 'py'].map((ext) => `visuals/${track}/${d.id}.${ext}`).filter((f) => deps.files.exists(f));
      await store.putDraft(runId, d.id, { id: d.id, iter: 0, cellIndex: -1, chunk: 0, path: d.path, fileHash: d.file_hash, track, visualFiles });
      await store.putVerdict(runId, d.id, { ...d, fileHash: d.file_hash, iter: 0, chunk: 0, round: 0, history: d.history ?? [], late: false, appliedAt: d.appliedAt ?? now });
    }
    await store.iterSet(runId, 0, { seeded: '1', startedAt: now });
  }
  const candidates = await revisionCandidates(runId, 0, 0, deps);
  // What this revision run plans is its candidates, not every verdict it read.
  await store.iterSetOnce(runId, 0, 'planSize', String(candidates.length));
  await deps.records.writeIterJson(runId, 0, 'plan.json', candidates.map((c) => ({ id: c.draft.id, path: c.draft.path, issues: c.issues, fix_suggestion: c.fix_suggestion })));
  const remaining = freeCalls(run);
  const n = sizeIteration(candidates.length, remaining, cfg.genBatchSize, cfg.judgeChunkSize);
  if (candidates.length === 0) {
    await finishRun(deps, runId, `nothing to revise: run ${source} left no unchanged NEEDS_FIX drafts`);
    return { decision: 'stop' };
  }
  if (n === 0) return await (async () => (await finishRun(deps, runId, STOP.budget), { decision: 'stop', detail: { reason: STOP.budget } }))();
  await store.reserveJudge(runId, 0, 'r1', judgeReservation(n, remaining, cfg.genBatchSize, cfg.judgeChunkSize));
  await store.set(runId, { phase: 'revise' });
  await deps.flows.addRevise(runId, 0, 1, candidates.slice(0, n).map((c) => ({ ...c, round: 1 })));
  return { decision: 'revise', detail: { drafts: n, candidates: candidates.length } };
}
