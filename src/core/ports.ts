/**
 * The ports through which the core takes its effects. The core (src/core) imports no BullMQ, no
 * ioredis and no node:fs: Redis, BullMQ and the file system implement these in src/scheduler and
 * src/workers; src/core/memory.ts implements them in memory for unit tests.
 */
import type { Track } from '../corpus/taxonomy.js';
import type { DraftRecord, JudgeDraft } from '../domain/draft.js';
import type { GenerateCell } from '../domain/plan-cell.js';
import type { IterRecord, JudgeSummary, LoopSummary, RunJson } from '../domain/records.js';
import type { AppliedVerdict, UnjudgedRecord } from '../domain/verdict.js';
import type { TokenUsage } from '../llm/types.js';
import type { RevisePayload } from '../queues/revise.js';

/** A run's budget counters (the run state's hash holds them; src/state/run-state.ts). */
export interface BudgetCounters {
  maxCalls: number;
  callsUsed: number;
  callsReserved: number;
  /** Judge calls set aside for the current iteration's drafts (not yet made). */
  judgePool: number;
  tokensIn: number;
  tokensOut: number;
  /** Input tokens served from the providers' prompt caches (part of tokensIn). */
  tokensCached?: number;
  costUsd: number;
}

/** The run's budget (src/state/budget.ts keeps it in Redis, with one Lua script per rule). */
export interface BudgetPort {
  /** Reserves one call outside the judge pool; throws BudgetExhaustedError when none is left. */
  reserveCall(runId: string): Promise<void>;
  /** Reserves one judge call of an iteration: from its judge pool first, else from what is free. */
  reserveJudgeCall(runId: string, iter: number): Promise<void>;
  /** Settles a reservation: the call was made (counted) or never sent (released). */
  settleCall(runId: string, iter: number, made: boolean, usage: TokenUsage, costUsd: number): Promise<void>;
  addCachedTokens(runId: string, iter: number, tokens: number): Promise<void>;
}

/** The state of the judge job's parent (the apply job that waited for its chunk), as the queue reports it. */
export type ParentState = 'completed' | 'failed' | 'unknown' | 'waiting-children' | 'waiting' | 'active' | 'delayed' | 'prioritized' | (string & {});

/** A run as the control steps read it (src/scheduler/state.ts RunState fits it). */
export interface RunView extends BudgetCounters {
  status: 'running' | 'paused' | 'stopping' | 'completed' | 'stopped' | 'failed';
  stopReason: string | null;
  stopRequested: boolean;
  startedAt: string;
  finishedAt: string | null;
  judge: { provider: string; model: string };
}

/**
 * The run's state the control steps and processors read and write (src/scheduler/state.ts keeps it
 * in Redis; src/core/memory.ts in memory). Set-once fields make every step safe to run twice.
 */
export interface RunStorePort extends BudgetPort {
  get(runId: string): Promise<RunView | null>;
  set(runId: string, fields: Record<string, string | number>): Promise<void>;
  setStatus(runId: string, status: RunView['status']): Promise<void>;
  /** Sets aside up to `calls` judge calls of an iteration, once per `tag`; returns how many. */
  reserveJudge(runId: string, iter: number, tag: string, calls: number): Promise<number>;
  /** Gives back the iteration's judge pool beyond `keep` calls. */
  releaseJudge(runId: string, iter: number, keep?: number): Promise<number>;
  raiseIdCounter(vault: string, track: Track, atLeast: number): Promise<number>;
  /** The id of one plan cell, minted once per `cellKey`. */
  mintId(runId: string, vault: string, track: Track, cellKey: string): Promise<string>;
  iterGet(runId: string, iter: number): Promise<Record<string, string>>;
  iterSet(runId: string, iter: number, fields: Record<string, string | number>): Promise<void>;
  /** Sets a field only when absent; returns the stored value. */
  iterSetOnce(runId: string, iter: number, field: string, value: string): Promise<string>;
  putDraft(runId: string, id: string, rec: DraftRecord): Promise<void>;
  putDrafts(runId: string, recs: DraftRecord[]): Promise<void>;
  drafts(runId: string): Promise<Map<string, DraftRecord>>;
  putVerdict(runId: string, id: string, rec: AppliedVerdict): Promise<void>;
  verdicts(runId: string): Promise<Map<string, AppliedVerdict>>;
  verdictsOf(runId: string, ids: string[]): Promise<Map<string, AppliedVerdict>>;
  putUnjudged(runId: string, id: string, rec: UnjudgedRecord): Promise<void>;
  clearUnjudged(runId: string, id: string): Promise<void>;
  unjudged(runId: string): Promise<Map<string, UnjudgedRecord>>;
}

/**
 * The run's record files (<vault>/_validation_results/coverage_loop/<runId>/…; src/scheduler/records.ts
 * on disk), always rendered from the run's state.
 */
export interface RecordsPort {
  /** Writes a file of an iteration's folder (report.md, judge_inputs.txt, …). */
  writeIterText(runId: string, iter: number, name: string, text: string): Promise<void>;
  /** Writes a JSON file of an iteration's folder (report.json, plan.json). */
  writeIterJson(runId: string, iter: number, name: string, value: unknown): Promise<void>;
  readIterRecord(runId: string, iter: number): IterRecord | null;
  /** Every judge_summary.json of a run, in iteration order. */
  judgeSummaries(runId: string): JudgeSummary[];
  /** Builds and writes judge_summary.json and iter_record.json of one iteration. */
  writeIterationRecords(runId: string, iter: number): Promise<IterRecord>;
  writeLoopSummary(runId: string, status?: string): Promise<LoopSummary>;
  readRunJson(runId: string): RunJson | null;
  writeRunJson(runId: string, value: RunJson): Promise<void>;
}

/** Files of the vault by vault-relative path (the file system in src/scheduler/vault-files.ts). */
export interface VaultFilesPort {
  /** The file's bytes, or null when it does not exist (any other error is thrown). */
  read(relPath: string): Promise<Buffer | null>;
  /** Writes a file (folders made, temp file + rename). */
  write(relPath: string, text: string): Promise<void>;
  exists(relPath: string): boolean;
  /** Deletes a file; nothing when it does not exist. */
  remove(relPath: string): Promise<void>;
}

/** The judge chunks the dispatch plans. */
export interface JudgeChunkPlan {
  chunk: number;
  drafts: JudgeDraft[];
}

/** The work the control steps enqueue (BullMQ flows in src/scheduler/flows.ts). */
export interface FlowsPort {
  /** control:dispatch over one generate job per cell (skipped when already added). */
  addGenerate(runId: string, iter: number, cells: GenerateCell[]): Promise<void>;
  /** control:checkpoint over apply ← judge ← render jobs (skipped when already added). */
  addJudge(runId: string, iter: number, chunks: JudgeChunkPlan[], allowPython: boolean, round?: number): Promise<void>;
  /** control:redispatch over one revise job per draft (skipped when already added). */
  addRevise(runId: string, iter: number, round: number, items: RevisePayload[]): Promise<void>;
  addPlan(runId: string, iter: number): Promise<void>;
}

export interface Clock {
  now(): Date;
}
