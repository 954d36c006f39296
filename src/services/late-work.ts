/**
 * Late work: judge chunks retried after their run's iteration moved on (Bull Board's Retry, the
 * dashboard's buttons, `vault-loop retry`) and the standalone late applies they add. Judging needs
 * only a worker; applying needs the vault's corpus host. When no `vault-loop run` holds the vault,
 * whoever can reach it (the retry command, a dashboard started with `--vault`) opens a temporary
 * host — judge, render and apply workers only — until the late work of that vault is done, then
 * lets the lock go so the next `run` can take it.
 */
import { Job } from 'bullmq';
import { resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { PENDING_STATES, type Queues } from '../queues/index.js';
import type { RedisTarget } from '../redis/index.js';
import type { Logger } from '../util/log.js';
import { CorpusHost, VaultLockedError } from '../host/corpus-host.js';
import { TERMINAL_STATUSES, type RunStore } from '../state/run-state.js';

export interface PendingLateWork {
  runId: string;
  /** Judge chunks of the ended run waiting (or running) to be judged. */
  judge: string[];
  /** Standalone late applies waiting for the vault's host. */
  apply: string[];
}

const runOf = (job: Job | undefined): string => String((job?.data as { runId?: string } | undefined)?.runId ?? '');

/**
 * Late work still pending, per run: of the given runs, or of every ended run of `vault`. A judge
 * chunk of a run still going is that run's own work, not late work.
 */
export async function pendingLateWork(queues: Queues, store: RunStore, scope: { runIds?: readonly string[]; vault?: string }): Promise<PendingLateWork[]> {
  // Judge chunks first, then applies: a judge chunk adds its late apply before it completes, so a
  // chunk that completed between the two reads has its apply in the second. Read the other way
  // round (or at once), both could miss it and call the work done while its apply still waits.
  const judgeJobs = await queues.judge.getJobs([...PENDING_STATES]);
  const applyJobs = await queues.apply.getJobs([...PENDING_STATES]);
  const byRun = new Map<string, PendingLateWork>();
  const ended = new Map<string, boolean>();
  const wanted = async (runId: string): Promise<boolean> => {
    if (!runId) return false;
    if (scope.runIds && !scope.runIds.includes(runId)) return false;
    if (!ended.has(runId)) {
      const run = await store.get(runId);
      ended.set(runId, Boolean(run && TERMINAL_STATUSES.includes(run.status) && (!scope.vault || resolve(run.vault) === resolve(scope.vault))));
    }
    return ended.get(runId)!;
  };
  const entry = (runId: string) => byRun.get(runId) ?? byRun.set(runId, { runId, judge: [], apply: [] }).get(runId)!;
  for (const j of judgeJobs) if (j && (await wanted(runOf(j)))) entry(runOf(j)).judge.push(String(j.id));
  for (const a of applyJobs) {
    // Only standalone late applies: a flow's apply waits for its judge children, not for a host.
    if (!a || !(a.data as { late?: unknown }).late || !(await wanted(runOf(a)))) continue;
    entry(runOf(a)).apply.push(String(a.id));
  }
  return [...byRun.values()].sort((a, b) => a.runId.localeCompare(b.runId));
}

export interface DrainOptions {
  cfg: Config;
  target: RedisTarget;
  log: Logger;
  vault: string;
  store: RunStore;
  queues: Queues;
  /** Only these runs' late work (default: every ended run of the vault). */
  runIds?: readonly string[];
  /** Gives up (leaving the work queued) when this aborts. */
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * Judges and applies the vault's pending late work with a temporary corpus host, until none is
 * left. Returns 'locked' (a run holds the vault: it does the work) or 'drained' / 'aborted'.
 */
export async function drainLateWork(o: DrainOptions): Promise<'drained' | 'locked' | 'aborted'> {
  let host: CorpusHost;
  try {
    host = await CorpusHost.open({ cfg: o.cfg, vault: o.vault, target: o.target, log: o.log, inProcessWorkers: true, queues: ['judge', 'render', 'apply'], command: 'retry' });
  } catch (e) {
    if (e instanceof VaultLockedError) return 'locked';
    throw e;
  }
  try {
    const scope = { vault: o.vault, ...(o.runIds ? { runIds: o.runIds } : {}) };
    while (!o.signal?.aborted) {
      if ((await pendingLateWork(o.queues, o.store, scope)).length === 0) return 'drained';
      await new Promise((r) => setTimeout(r, o.pollMs ?? 200));
    }
    return 'aborted';
  } finally {
    await host.close();
  }
}

/**
 * For a long-lived process that can reach a vault (the dashboard started with `--vault`): checks
 * every `intervalMs` for the vault's late work and drains it when no run holds the vault.
 */
export class LateWorkKeeper {
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #busy: Promise<void> | null = null;

  constructor(readonly opts: Omit<DrainOptions, 'signal' | 'runIds'> & { intervalMs?: number }) {}

  start(): void {
    const tick = () => {
      if (this.#busy || this.#abort.signal.aborted) return;
      this.#busy = this.#check()
        .catch((e: unknown) => this.opts.log.warn({ err: (e as Error).message, vault: this.opts.vault }, 'late work: check failed'))
        .finally(() => {
          this.#busy = null;
        });
    };
    this.#timer = setInterval(tick, this.opts.intervalMs ?? 1000);
    tick();
  }

  async #check(): Promise<void> {
    const pending = await pendingLateWork(this.opts.queues, this.opts.store, { vault: this.opts.vault });
    if (pending.length === 0) return;
    const outcome = await drainLateWork({ ...this.opts, signal: this.#abort.signal });
    this.opts.log.info({ vault: this.opts.vault, runs: pending.map((p) => p.runId), outcome }, 'late work');
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#abort.abort();
    await this.#busy;
  }
}

/** The flag that gives a retry more budget, named wherever a retry is blocked by the budget. */
export const RETRY_BUDGET_FLAG = '--max-calls';

/**
 * Raises a run's budget to `maxCalls` for retried work (never lowers it). Returns the budget
 * before and after.
 */
export async function raiseRunBudget(store: RunStore, runId: string, maxCalls: number): Promise<{ from: number; to: number }> {
  const run = await store.get(runId);
  if (!run) throw new Error(`run ${runId} not found`);
  if (!Number.isInteger(maxCalls) || maxCalls <= run.maxCalls) return { from: run.maxCalls, to: run.maxCalls };
  await store.set(runId, { maxCalls });
  return { from: run.maxCalls, to: maxCalls };
}

/** Whether a failed job's reason is the run's budget (so more budget, not a retry alone, helps). */
export const blockedByBudget = (failedReason: string | undefined): boolean => /BudgetExhaustedError|budget exhausted/.test(failedReason ?? '');
