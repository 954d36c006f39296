/**
 * What the control steps of an iteration (plan, dispatch, checkpoint; src/core/plan.ts,
 * dispatch.ts, checkpoint.ts, revision.ts) share: their ports, the budget sizing of an iteration
 * and the end of a run. Every effect goes through the ports: the corpus host gives them Redis,
 * BullMQ and the file system (src/scheduler/steps.ts); src/core/memory.ts gives them memory.
 */
import type { CoverageReport, Strategy } from '../analysis/types.js';
import type { Track } from '../corpus/taxonomy.js';
import type { JudgeDraft } from '../domain/draft.js';
import type { QuestionDoc } from '../domain/question.js';
import { failedJudgeChunks, finalOutcome } from './outcome.js';
import type { BudgetCounters, Clock, FlowsPort, RecordsPort, RunStorePort, VaultFilesPort } from './ports.js';

export type { JudgeChunkPlan } from './ports.js';
export type { RunConfig } from '../domain/run-config.js';

/** The terminal statuses of a run. */
export const TERMINAL_STATUSES: readonly string[] = ['completed', 'stopped', 'failed'];

/** Calls neither made, nor in flight, nor set aside for judging. */
export const freeCalls = (s: Pick<BudgetCounters, 'maxCalls' | 'callsUsed' | 'callsReserved' | 'judgePool'>): number => Math.max(0, s.maxCalls - s.callsUsed - s.callsReserved - s.judgePool);

/** What a control step decided (logged by the host, returned by the control job). */
export interface StepResult {
  decision: string;
  detail?: Record<string, unknown>;
}

export interface StepDeps extends Clock {
  vault: string;
  store: RunStorePort;
  flows: FlowsPort;
  records: RecordsPort;
  files: VaultFilesPort;
  analyze(opts: { strategy: Strategy; total: number; visual: boolean }): Promise<{ report: CoverageReport; markdown: string }>;
  scanMaxIds(): Promise<Record<Track, number>>;
  /** Validates and writes a draft; returns its vault-relative path and the sha256 of its bytes. */
  writeDraft(doc: QuestionDoc): Promise<{ relPath: string; fileHash: string }>;
  /** Nearest existing vault question (not a draft of this run) by text similarity. */
  vaultNearest(doc: QuestionDoc): { id: string; similarity: number } | null;
  /** (Re)loads the vault's near-duplicate index; called once per dispatch. */
  loadNearDup(): Promise<void>;
  /** Starts loading it in the background (the plan step, while generation runs). */
  prefetchNearDup?(): void;
  /** Drafts earlier runs of this vault left unjudged (src/scheduler/leftovers.ts). */
  leftoverDrafts?(exceptRunId: string): Promise<{ id: string; runId: string; path: string; fileHash: string; track: string; visualFiles: string[] }[]>;
  /** A draft's document as it is on disk, or null when it no longer parses as a QuestionDoc. */
  readDraft?(relPath: string): Promise<QuestionDoc | null>;
  log(msg: string, extra?: Record<string, unknown>): void;
}

/** Iteration kind of a catch-up iteration (iter_NN of a run that first judged earlier runs' drafts). */
export const CATCH_UP = 'catch-up';

/** How many cells fit: their generation calls and their judge calls within what remains. */
export function sizeIteration(planLength: number, remaining: number, genBatchSize: number, judgeChunkSize: number): number {
  let n = planLength;
  while (n > 0 && Math.ceil(n / genBatchSize) + Math.ceil(n / judgeChunkSize) > remaining) n--;
  return n;
}

/**
 * How many cells the plan step sends to generation: their generate calls, one repair call per
 * generate call as headroom, and their judge calls, within what remains. A draft whose repair
 * finds no budget is lost, and so are the calls spent on it; when not even one cell fits with the
 * headroom, the iteration is sized without it (its judge calls are set aside all the same).
 */
export function sizeWithRepairHeadroom(planLength: number, remaining: number, genBatchSize: number, judgeChunkSize: number): number {
  let n = planLength;
  while (n > 0 && 2 * Math.ceil(n / genBatchSize) + Math.ceil(n / judgeChunkSize) > remaining) n--;
  return n > 0 ? n : sizeIteration(planLength, remaining, genBatchSize, judgeChunkSize);
}

/**
 * The judge calls to set aside for `n` drafts before any of them is generated: one per chunk, plus
 * one retry per chunk (an unparsable verdict answer is asked again) when the budget also leaves
 * one repair call per generate call. Tight budgets favour generation repairs: a draft that fails
 * its repair is never written, so it needs no judge; a written draft always has its judge call.
 */
export function judgeReservation(n: number, remaining: number, genBatchSize: number, judgeChunkSize: number): number {
  const gen = Math.ceil(n / genBatchSize);
  const judge = Math.ceil(n / judgeChunkSize);
  return judge + Math.max(0, Math.min(judge, remaining - 2 * gen - judge));
}

/** Judge chunks of `drafts` drafts. */
export const judgeCalls = (drafts: number, judgeChunkSize: number): number => Math.ceil(drafts / judgeChunkSize);

export async function finishRun(deps: StepDeps, runId: string, reason: string, status: 'completed' | 'stopped' | 'failed' = 'completed'): Promise<void> {
  const run = await deps.store.get(runId);
  const ending = run !== null && !TERMINAL_STATUSES.includes(run.status);
  const base = reason;
  // The records are complete before the run is seen as ended: whoever waits for the status can
  // read loop_summary.json at once. A crash in between leaves the run open; its plan step decides
  // the same stop again.
  if (ending) {
    // Judge chunks still failed make a "completed" run a failed one (src/core/outcome.ts).
    const outcome = finalOutcome(reason, status, (await failedJudgeChunks(deps.store, runId)).length);
    reason = outcome.reason;
    status = outcome.status;
    await deps.store.set(runId, { stopReason: reason, baseStopReason: base, finishedAt: run.finishedAt ?? deps.now().toISOString(), phase: 'finished' });
  }
  const final = ending ? status : (run?.status ?? status);
  await deps.records.writeLoopSummary(runId, final);
  const runJson = deps.records.readRunJson(runId);
  const after = await deps.store.get(runId);
  if (runJson && after) await deps.records.writeRunJson(runId, { ...runJson, status: final, stopped_reason: after.stopReason, finished_at: after.finishedAt });
  if (ending) {
    await deps.store.setStatus(runId, status);
    deps.log('run finished', { runId, reason, status });
  }
}

export const isTerminal = async (deps: StepDeps, runId: string) => {
  const r = await deps.store.get(runId);
  return !r || TERMINAL_STATUSES.includes(r.status);
};

/** A draft's visual source (.dot or .py) among its visual files, as it is in the vault. */
export async function readVisualSource(deps: Pick<StepDeps, 'files'>, files: string[]): Promise<JudgeDraft['visual'] | undefined> {
  const src = files.find((f) => f.endsWith('.dot') || f.endsWith('.py'));
  if (!src) return undefined;
  const bytes = await deps.files.read(src).catch(() => null);
  return bytes === null ? undefined : { kind: src.endsWith('.dot') ? 'dot' : 'matplotlib', source: bytes.toString('utf8') };
}



/** Maps with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}


/** Writes a draft's visual source to visuals/<track>/<id>.{dot,py,svg}; returns its vault-relative path. */
export async function writeVisualSource(deps: Pick<StepDeps, 'files'>, track: string, id: string, visual: { kind: 'dot' | 'matplotlib' | 'svg'; source: string }): Promise<string> {
  const rel = ['visuals', track, `${id}.${visual.kind === 'matplotlib' ? 'py' : visual.kind}`];
  await deps.files.write(rel.join('/'), visual.source);
  return rel.join('/');
}

