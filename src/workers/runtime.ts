/**
 * What every queue's worker shares: the runtime context it is built from, the job wrapper (the
 * one place a job's error meets BullMQ, src/workers/errors.ts), the run-state guards and the
 * stable order of a batch. Each queue's worker is `src/workers/<queue>.worker.ts`; the host
 * builds the context (src/host/runtime-context.ts) and starts them (src/host/start-workers.ts).
 * Stateless workers (generate, judge, render, revise, batch) need only Redis and the provider;
 * the corpus host's workers (control, apply) also get the vault.
 */
import type { Job, ConnectionOptions, Processor } from 'bullmq';
import type { RedisClient } from '../redis/index.js';
import type { Queues } from '../queues/index.js';
import type { RenderResult } from '../queues/render.js';
import { bullPrefix } from '../redis/index.js';
import type { StepDeps } from '../scheduler/steps.js';
import { parseRunConfig, type RunConfig } from '../domain/run-config.js';
import { TERMINAL_STATUSES, type RunStore } from '../state/run-state.js';
import type { Logger } from '../util/log.js';
import { OtherVaultJobError } from '../errors.js';
import { RunPausedError, RunStoppedError, translateError } from './errors.js';
import type { GenerateDeps } from '../core/generate-batch.js';
import type { GenerateCell, PromptCell } from '../domain/plan-cell.js';
import type { JudgeDeps } from '../core/judge-chunk.js';
import type { BatchDeps } from './batch.processor.js';
import type { ReviseDeps } from '../core/revise-batch.js';

export interface WorkerTimings {
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
}

/**
 * Runs around every job body: `job` is `<name>:<id>`, `body` runs the job once. (The
 * at-least-once test runs each body twice through it and compares files and results.)
 */
export type AroundJob = <R>(queue: string, job: string, body: () => Promise<R>) => Promise<R>;

export interface RuntimeContext {
  connection: ConnectionOptions;
  prefix: string;
  redis: RedisClient;
  store: RunStore;
  queues: Queues;
  log: Logger;
  /** Concurrency per queue (for generate: parallel provider calls). */
  concurrency: number;
  /** Largest generation batch this process holds at once. */
  genBatchCapacity: number;
  batchWindowMs: number;
  timings?: WorkerTimings;
  generateDeps(): Omit<GenerateDeps, 'signal'> & { toPromptCells(cells: GenerateCell[]): PromptCell[] };
  judgeDeps(runId: string): Promise<Omit<JudgeDeps, 'signal'>>;
  reviseDeps(): Omit<ReviseDeps, 'signal'>;
  /** Batch mode's provider batches (absent in contexts that never run a batch job). */
  batchDeps?(): BatchDeps;
  render(payload: { draftId: string; track: string; visual: { kind: 'dot' | 'matplotlib' | 'svg'; source: string }; allowPython: boolean }): Promise<RenderResult>;
  /** Present on the corpus host only. */
  corpus?: { vault: string; stepDeps: StepDeps };
  aroundJob?: AroundJob;
}

export async function runConfigOf(store: RunStore, runId: string): Promise<RunConfig> {
  const run = await store.get(runId);
  if (!run) throw new RunStoppedError(`run ${runId} does not exist`);
  return parseRunConfig(runId, run.config);
}

/** Stateless jobs of a stopped run end; a paused run's jobs wait. */
export async function ensureRunActive(store: RunStore, runId: string, allowTerminal = false): Promise<void> {
  const run = await store.get(runId);
  if (!run) throw new RunStoppedError(`run ${runId} does not exist`);
  if (run.status === 'paused') throw new RunPausedError(`run ${runId} is paused`);
  if (run.status === 'stopping' || (!allowTerminal && TERMINAL_STATUSES.includes(run.status))) throw new RunStoppedError(`run ${runId} is ${run.status}`);
}

/** Corpus-host jobs of another vault (a host sharing the prefix) are left for their own host. */
export async function ensureOwnVault(ctx: RuntimeContext, runId: string): Promise<void> {
  const run = await ctx.store.get(runId);
  if (run && ctx.corpus && run.vault !== ctx.corpus.vault) throw new OtherVaultJobError(`run ${runId} belongs to vault ${run.vault}`);
}

export function workerOpts(ctx: RuntimeContext, concurrency: number) {
  return {
    connection: ctx.connection,
    prefix: bullPrefix(ctx.prefix),
    concurrency,
    lockDuration: ctx.timings?.lockDuration ?? 30_000,
    stalledInterval: ctx.timings?.stalledInterval ?? 30_000,
    maxStalledCount: ctx.timings?.maxStalledCount ?? 3,
  };
}

export function wrap<T, R>(ctx: RuntimeContext, queue: string, fn: (job: Job<T, R>, token: string | undefined, signal?: AbortSignal) => Promise<R>): Processor<T, R> {
  return async (job, token, signal) => {
    try {
      const body = () => fn(job, token, signal);
      return ctx.aroundJob ? await ctx.aroundJob(queue, `${job.name}:${job.id}`, body) : await body();
    } catch (e) {
      ctx.log.debug({ queue, jobId: job.id, err: (e as Error).message }, 'job error');
      return await translateError(e, job as Job, token);
    }
  };
}

/**
 * Runs `fn` on the items sorted by `cmp` and hands the outcomes back in arrival order. A batch's
 * prompt then depends on which items it holds, not on the order their jobs arrived in, so a
 * batch re-formed after a crash makes the same prompt and is answered from the response cache.
 */
export async function inStableOrder<T, R>(items: T[], cmp: (a: T, b: T) => number, fn: (sorted: T[]) => Promise<R[]>): Promise<R[]> {
  const order = items.map((_, i) => i).sort((a, b) => cmp(items[a]!, items[b]!));
  const outs = await fn(order.map((i) => items[i]!));
  const back = new Array<R>(items.length);
  order.forEach((i, k) => (back[i] = outs[k]!));
  return back;
}
