/**
 * BullMQ wiring of every queue: the only place (with src/scheduler/flows.ts) that creates
 * Workers. Stateless workers (generate, judge, render) need only Redis and the provider; the
 * corpus host's workers (control, apply) also get the vault.
 */
import { Job, Worker, type ConnectionOptions, type Processor } from 'bullmq';
import type { RedisClient } from '../redis/index.js';
import type { QueueName, Queues } from '../queues/index.js';
import { applyQueue, controlQueue, generateQueue, judgeQueue, renderQueue, reviseQueue, type ReviseResult } from '../queues/index.js';
import type { RenderResult } from '../queues/render.js';
import { bullPrefix } from '../redis/index.js';
import { cellIndexOfKey, draftIdOfKey, ids, revisedIdOfKey } from '../scheduler/flows.js';
import { checkpointStep, dispatchStep, planStep, redispatchStep, type StepDeps } from '../scheduler/steps.js';
import { parseRunConfig, type RunConfig } from '../domain/run-config.js';
import { TERMINAL_STATUSES, type RunStore } from '../scheduler/state.js';
import { writeIterationRecords, writeLoopSummary } from '../scheduler/records.js';
import type { Logger } from '../util/log.js';
import { settleAfterLateApply } from '../scheduler/outcome.js';
import { applyChunk } from './apply.processor.js';
import { judgeOutcome } from '../core/late-apply.js';
import type { ParentState } from '../core/ports.js';
import { Batcher } from './batcher.js';
import { OtherVaultJobError } from '../errors.js';
import { parsePayload, RunPausedError, RunStoppedError, translateError } from './errors.js';
import { generateBatch, type CellOutcome, type GenerateDeps } from './generate.processor.js';
import type { GenerateCell, PromptCell } from '../domain/plan-cell.js';
import { judgeChunk, type JudgeDeps } from './judge.processor.js';
import { BATCH_COLLECT_MS, processBatch, type BatchDeps } from './batch.processor.js';
import { batchQueue, type BatchResult } from '../queues/batch.js';
import { reviseBatch, type ReviseDeps, type ReviseOutcome } from './revise.processor.js';
import type { RevisePayload } from '../queues/revise.js';
import type { GenerateResult } from '../queues/generate.js';
import type { JudgeResult } from '../queues/judge.js';

export interface WorkerTimings {
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
}

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
  /**
   * At-least-once proof (tests): run every job's body twice and report whether the second run
   * left the same files (`snapshot` before and after) and returned the same result.
   */
  repeatEachJob?: { snapshot(): string; report(queue: string, sameResult: boolean, sameFiles: boolean, detail: { job: string; first: string; second: string }): void };
}

/** A process-wide mutex for the repeat-each-job test mode. */
const repeatMutex = {
  tail: Promise.resolve() as Promise<void>,
  async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    return release;
  },
};

/** What may differ between two runs of the same job: usage and cache flags of a provider call. */
function comparable(r: unknown): string {
  return JSON.stringify(r, (k, v) => (k === 'usage' || k === 'cached' || k === 'calls' ? undefined : v));
}

async function runConfigOf(store: RunStore, runId: string): Promise<RunConfig> {
  const run = await store.get(runId);
  if (!run) throw new RunStoppedError(`run ${runId} does not exist`);
  return parseRunConfig(runId, run.config);
}

/** Stateless jobs of a stopped run end; a paused run's jobs wait. */
async function ensureRunActive(store: RunStore, runId: string, allowTerminal = false): Promise<void> {
  const run = await store.get(runId);
  if (!run) throw new RunStoppedError(`run ${runId} does not exist`);
  if (run.status === 'paused') throw new RunPausedError(`run ${runId} is paused`);
  if (run.status === 'stopping' || (!allowTerminal && TERMINAL_STATUSES.includes(run.status))) throw new RunStoppedError(`run ${runId} is ${run.status}`);
}

function workerOpts(ctx: RuntimeContext, concurrency: number) {
  return {
    connection: ctx.connection,
    prefix: bullPrefix(ctx.prefix),
    concurrency,
    lockDuration: ctx.timings?.lockDuration ?? 30_000,
    stalledInterval: ctx.timings?.stalledInterval ?? 30_000,
    maxStalledCount: ctx.timings?.maxStalledCount ?? 3,
  };
}

function wrap<T, R>(ctx: RuntimeContext, queue: string, fn: (job: Job<T, R>, token: string | undefined, signal?: AbortSignal) => Promise<R>): Processor<T, R> {
  return async (job, token, signal) => {
    try {
      const repeat = ctx.repeatEachJob;
      if (!repeat) return await fn(job, token, signal);
      // One job body at a time in this process, so the snapshots see only this job's effects.
      const release = await repeatMutex.acquire();
      try {
        const first = await fn(job, token, signal);
        const before = repeat.snapshot();
        const second = await fn(job, token, signal);
        repeat.report(queue, comparable(first) === comparable(second), before === repeat.snapshot(), { job: `${job.name}:${job.id}`, first: comparable(first), second: comparable(second) });
        return second;
      } finally {
        release();
      }
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

export function generateWorker(ctx: RuntimeContext): Worker {
  const deps = ctx.generateDeps();
  const batcher = new Batcher<GenerateCell, CellOutcome>(
    async (_key, cells) => await inStableOrder(cells, (a, b) => a.cellIndex - b.cellIndex, async (sorted) => await generateBatch(sorted, deps.toPromptCells(sorted), deps)),
    ctx.batchWindowMs,
  );
  // Batch mode's fixed groups wait for all their members: a group flushed early would register
  // a different request than the one its members find answered later.
  const fixedGroups = new Batcher<GenerateCell, CellOutcome>(
    async (_key, cells) => await inStableOrder(cells, (a, b) => a.cellIndex - b.cellIndex, async (sorted) => await generateBatch(sorted, deps.toPromptCells(sorted), deps)),
    BATCH_COLLECT_MS,
  );
  const processor = wrap<unknown, GenerateResult>(ctx, 'generate', async (job) => {
    const p = parsePayload(generateQueue.payload, job as Job);
    await ensureRunActive(ctx.store, p.runId);
    const cfg = await runConfigOf(ctx.store, p.runId);
    const size = Math.min(cfg.genBatchSize, ctx.genBatchCapacity);
    const outcome = cfg.batchMode ? await submitInFixedGroup(ctx, fixedGroups, p, size) : await batcher.submit(`${p.runId}:${p.iter}`, size, p);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  });
  return new Worker(generateQueue.name, processor, workerOpts(ctx, ctx.concurrency * ctx.genBatchCapacity));
}

/**
 * Batch mode: a cell always joins the same group (consecutive cell indexes, `size` at a time),
 * so the request a group registers for the provider batch is the one it finds answered when its
 * jobs come back after the batch ended.
 */
async function submitInFixedGroup(ctx: RuntimeContext, batcher: Batcher<GenerateCell, CellOutcome>, p: GenerateCell, size: number): Promise<CellOutcome> {
  const planSize = Number((await ctx.store.iterGet(p.runId, p.iter)).planSize ?? p.cellIndex + 1);
  const group = Math.floor(p.cellIndex / size);
  const members = Math.max(1, Math.min(size, planSize - group * size));
  return await batcher.submit(`${p.runId}:${p.iter}:g${group}`, members, p);
}

export function batchWorker(ctx: RuntimeContext): Worker {
  const processor = wrap<unknown, BatchResult>(ctx, 'batch', async (job) => {
    const p = parsePayload(batchQueue.payload, job as Job);
    if (!ctx.batchDeps) throw new Error('this process has no batch support wired in');
    if (!(await ctx.store.exists(p.runId))) throw new RunStoppedError(`run ${p.runId} does not exist`);
    return await processBatch(p, ctx.batchDeps());
  });
  return new Worker(batchQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}

export function reviseWorker(ctx: RuntimeContext): Worker {
  const deps = ctx.reviseDeps();
  const batcher = new Batcher<RevisePayload, ReviseOutcome>(
    async (_key, items) => await inStableOrder(items, (a, b) => a.draft.id.localeCompare(b.draft.id), async (sorted) => await reviseBatch(sorted, deps)),
    ctx.batchWindowMs,
  );
  const processor = wrap<unknown, ReviseResult>(ctx, 'revise', async (job) => {
    const p = parsePayload(reviseQueue.payload, job as Job);
    await ensureRunActive(ctx.store, p.runId);
    const cfg = await runConfigOf(ctx.store, p.runId);
    const outcome = await batcher.submit(`${p.runId}:${p.iter}:${p.round}`, Math.min(cfg.genBatchSize, ctx.genBatchCapacity), p);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  });
  return new Worker(reviseQueue.name, processor, workerOpts(ctx, ctx.concurrency * ctx.genBatchCapacity));
}

export function renderWorker(ctx: RuntimeContext): Worker {
  const processor = wrap<unknown, RenderResult>(ctx, 'render', async (job) => {
    const p = parsePayload(renderQueue.payload, job as Job);
    return await ctx.render(p);
  });
  return new Worker(renderQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}

export function judgeWorker(ctx: RuntimeContext): Worker {
  const processor = wrap<unknown, JudgeResult>(ctx, 'judge', async (job, _token, signal) => {
    const p = parsePayload(judgeQueue.payload, job as Job);
    // A judge chunk retried after its run ended is still judged and applied (late retry).
    await ensureRunActive(ctx.store, p.runId, true);
    const renders = new Map<string, RenderResult>();
    for (const v of Object.values(await job.getChildrenValues<RenderResult>())) renders.set(v.draftId, v);
    for (const [key, err] of Object.entries(await job.getIgnoredChildrenFailures())) {
      const draftId = draftIdOfKey(key);
      if (draftId && !renders.has(draftId)) renders.set(draftId, { draftId, ok: false, error: `render failed: ${err}`, warnings: [] });
    }
    const deps = await ctx.judgeDeps(p.runId);
    const result = await judgeChunk(p, renders, { ...deps, ...(signal ? { signal } : {}) });
    // Late result: the apply job that waited for this chunk already ran (src/core/late-apply.ts).
    let parent: ParentState | null = null;
    if (job.parent?.id) {
      const applyJob = await Job.fromId(ctx.queues.apply, job.parent.id);
      parent = applyJob ? await applyJob.getState() : 'unknown';
    }
    const outcome = judgeOutcome(p, result, parent, { id: String(job.id), attemptsStarted: job.attemptsStarted });
    if (outcome.kind === 'late-apply') {
      await ctx.queues.apply.add('apply-late', outcome.apply, { jobId: ids.lateApply(p.runId, p.iter, p.chunk, outcome.attempt, p.round) });
    }
    return outcome.result;
  });
  return new Worker(judgeQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}

/** Corpus-host jobs of another vault (a host sharing the prefix) are left for their own host. */
async function ensureOwnVault(ctx: RuntimeContext, runId: string): Promise<void> {
  const run = await ctx.store.get(runId);
  if (run && ctx.corpus && run.vault !== ctx.corpus.vault) throw new OtherVaultJobError(`run ${runId} belongs to vault ${run.vault}`);
}

export function applyWorker(ctx: RuntimeContext): Worker {
  const corpus = ctx.corpus!;
  const processor = wrap<unknown, unknown>(ctx, 'apply', async (job) => {
    const p = parsePayload(applyQueue.payload, job as Job);
    await ensureOwnVault(ctx, p.runId);
    const deps = { vault: corpus.vault, store: ctx.store, now: () => new Date() };
    if (p.late) {
      const r = await applyChunk(p, p.late.verdicts, null, deps, p.late.svgs);
      // The iteration's records (and the run's summary, when it has ended) are rewritten to include it.
      await writeIterationRecords(corpus.vault, ctx.store, p.runId, p.iter);
      await settleAfterLateApply(ctx.store, p.runId);
      const run = await ctx.store.get(p.runId);
      if (run && TERMINAL_STATUSES.includes(run.status)) await writeLoopSummary(corpus.vault, ctx.store, p.runId);
      return r;
    }
    const values = Object.values(await job.getChildrenValues<JudgeResult>());
    const failures = Object.values(await job.getIgnoredChildrenFailures());
    const judge = values[0] ?? null;
    return await applyChunk(p, judge ? judge.verdicts : null, judge ? null : (failures[0] ?? 'judge did not run'), deps, judge?.svgs ?? []);
  });
  return new Worker(applyQueue.name, processor, workerOpts(ctx, ctx.concurrency));
}

export function controlWorker(ctx: RuntimeContext): Worker {
  const corpus = ctx.corpus!;
  const processor = wrap<unknown, unknown>(ctx, 'control', async (job) => {
    const p = parsePayload(controlQueue.payload, job as Job);
    await ensureOwnVault(ctx, p.runId);
    const cfg = await runConfigOf(ctx.store, p.runId);
    const deps = corpus.stepDeps;
    switch (p.step) {
      case 'plan':
        return await planStep(p.runId, p.iter, cfg, deps);
      case 'dispatch': {
        const generated: GenerateResult[] = [];
        for (const v of Object.values(await job.getChildrenValues<unknown>())) {
          const r = generateQueue.result.safeParse(v);
          if (r.success) generated.push(r.data);
        }
        const failures = Object.entries(await job.getIgnoredChildrenFailures()).map(([key, error]) => ({ cellIndex: cellIndexOfKey(key), error }));
        return await dispatchStep(p.runId, p.iter, cfg, generated, failures, deps);
      }
      case 'checkpoint':
        return await checkpointStep(p.runId, p.iter, p.round, cfg, deps);
      case 'redispatch': {
        const revised: ReviseResult[] = [];
        for (const v of Object.values(await job.getChildrenValues<unknown>())) {
          const r = reviseQueue.result.safeParse(v);
          if (r.success) revised.push(r.data);
        }
        const failures = Object.entries(await job.getIgnoredChildrenFailures()).map(([key, error]) => ({ id: revisedIdOfKey(key), error }));
        return await redispatchStep(p.runId, p.iter, p.round, cfg, revised, failures, deps);
      }
    }
  });
  // Control steps are sequential per run; a little concurrency serves several runs.
  return new Worker(controlQueue.name, processor, workerOpts(ctx, 2));
}

export const WORKER_FACTORIES: Record<QueueName, (ctx: RuntimeContext) => Worker> = {
  control: controlWorker,
  generate: generateWorker,
  render: renderWorker,
  judge: judgeWorker,
  apply: applyWorker,
  revise: reviseWorker,
  batch: batchWorker,
};

export interface RunningWorkers {
  workers: Worker[];
  close(force?: boolean): Promise<void>;
}

export function startWorkers(ctx: RuntimeContext, names: QueueName[]): RunningWorkers {
  const workers = names.map((n) => {
    if ((n === 'control' || n === 'apply') && !ctx.corpus) throw new Error(`the ${n} queue runs only on the corpus host (vault-loop run)`);
    const w = WORKER_FACTORIES[n]!(ctx);
    w.on('error', (e) => ctx.log.warn({ queue: n, err: e.message }, 'worker error'));
    w.on('failed', (job, e) => ctx.log.info({ queue: n, jobId: job?.id, err: e.message, attempts: job?.attemptsMade }, 'job failed'));
    return w;
  });
  return {
    workers,
    close: async (force = false) => void (await Promise.all(workers.map((w) => w.close(force)))),
  };
}
