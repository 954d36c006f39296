/**
 * Drafts nobody judged. A run judges every draft it writes unless it is stopped, its host dies, or
 * a judge chunk fails for good; what such a run leaves is found here, listed by `status`, and
 * judged first by the next run on the vault (its iteration 0 is then a catch-up iteration: no
 * generation, one judge flow over the leftovers) or on demand by `vault-loop judge`.
 *
 * A leftover is a draft some run of this vault recorded, that has no verdict in any run, whose
 * file is still there with the bytes that were written (an edited file is a person's, not ours to
 * judge on their behalf), and whose judge job is not still waiting to run (a crashed run's queued
 * chunks are picked up by the next host's workers; judging them twice would pay twice).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { sha256 } from '../corpus/loader.js';
import { safeVaultPath } from '../corpus/writer.js';
import { TERMINAL_STATUSES, type DraftRecord, type RunState, type RunStore } from '../state/run-state.js';

export interface LeftoverDraft {
  id: string;
  /** The run that wrote it. */
  runId: string;
  iter: number;
  chunk: number;
  path: string;
  fileHash: string;
  track: string;
  visualFiles: string[];
  reason: string;
}

export interface LeftoverOptions {
  /** The run asking (its own drafts are not leftovers). */
  exceptRunId?: string;
  /** True when the judge job of this chunk still waits to run (or runs). */
  judgePending?(runId: string, iter: number, chunk: number): Promise<boolean>;
  /** How many of the newest runs to look at (default 1000). */
  maxRuns?: number;
}

function reasonFor(run: RunState, unjudgedReason: string | undefined): string {
  if (unjudgedReason) return unjudgedReason;
  if (run.status === 'stopped' || run.stopRequested) return 'the run was stopped before its judging';
  if (!TERMINAL_STATUSES.includes(run.status)) return 'the run ended before its judging (its host died?)';
  return 'no judge verdict recorded';
}

/** The vault's unjudged drafts, oldest run first, each once. */
export async function findLeftoverDrafts(store: RunStore, vault: string, opts: LeftoverOptions = {}): Promise<LeftoverDraft[]> {
  const root = resolve(vault);
  const runIds = (await store.list(opts.maxRuns ?? 1000)).reverse();
  const runs = (await Promise.all(runIds.map((id) => store.get(id)))).filter((r): r is RunState => r !== null && resolve(r.vault) === root);
  const candidates = new Map<string, { run: RunState; rec: DraftRecord; reason: string }>();
  for (const run of runs) {
    if (run.runId === opts.exceptRunId) continue;
    const [drafts, unjudged] = await Promise.all([store.drafts(run.runId), store.unjudged(run.runId)]);
    for (const rec of drafts.values()) candidates.set(rec.id, { run, rec, reason: reasonFor(run, unjudged.get(rec.id)?.reason) });
  }
  const maybe: LeftoverDraft[] = [];
  const pending = new Map<string, boolean>();
  for (const { run, rec, reason } of candidates.values()) {
    let bytes: Buffer;
    try {
      bytes = await readFile(safeVaultPath(root, rec.path));
    } catch {
      continue; // gone (deleted by hand, or promoted elsewhere)
    }
    if (sha256(bytes) !== rec.fileHash) continue;
    if (opts.judgePending) {
      const key = `${run.runId}|${rec.iter}|${rec.chunk}`;
      let p = pending.get(key);
      if (p === undefined) pending.set(key, (p = await opts.judgePending(run.runId, rec.iter, rec.chunk)));
      if (p) continue;
    }
    maybe.push({ id: rec.id, runId: run.runId, iter: rec.iter, chunk: rec.chunk, path: rec.path, fileHash: rec.fileHash, track: rec.track, visualFiles: rec.visualFiles, reason });
  }
  // Verdicts are read after the pending checks: a chunk whose apply ended in between has its
  // verdicts recorded by now, and is not taken for unjudged.
  const judged = new Set<string>();
  for (const run of runs) for (const id of (await store.verdicts(run.runId)).keys()) judged.add(id);
  const out = maybe.filter((d) => !judged.has(d.id));
  return out;
}
