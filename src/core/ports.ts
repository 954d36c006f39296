/**
 * The ports through which the core takes its effects. The core (src/core) imports no BullMQ, no
 * ioredis and no node:fs: Redis, BullMQ and the file system implement these in src/scheduler and
 * src/workers; src/core/memory.ts implements them in memory for unit tests.
 */
import type { TokenUsage } from '../llm/types.js';

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
