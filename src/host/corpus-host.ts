/**
 * The corpus host: the one process per vault that touches the vault's files. It holds a Redis
 * lock on the vault, runs the control and apply workers (and, unless told otherwise, stateless
 * workers in-process), starts and resumes runs, and waits for them to end.
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { judgeSettings, SECRET_KEYS } from '../config/index.js';
import { removeStrayTempFiles } from '../corpus/stray-temp.js';
import { vaultFoldersProblem } from '../corpus/loader.js';
import { Applicability } from '../corpus/taxonomy.js';
import { RunNotFoundError, UnsafePathError } from '../errors.js';
import { promptHashes } from '../llm/prompts.js';
import { defaultModel } from '../llm/registry.js';
import { createQueues, STATELESS_QUEUES, type QueueName, type Queues } from '../queues/index.js';
import { bullConnection, createRedis, type RedisClient, type RedisTarget } from '../redis/index.js';
import type { Logger } from '../util/log.js';
import { createRuntimeContext, type ContextOptions } from './runtime-context.js';
import type { WorkerTimings } from '../workers/runtime.js';
import { startWorkers, type RunningWorkers } from './start-workers.js';
import { BullFlows } from '../scheduler/flows.js';
import { identityKey, VaultLock, vaultIdentity } from '../state/lock.js';
import { RunStateLostError, unknownRunMessage } from '../scheduler/lost-state.js';
import { RunJsonSchema, type RunJson } from '../domain/records.js';
import { parseRunConfig, type RunConfig } from '../domain/run-config.js';
import { runDir, writeRecord } from '../scheduler/records.js';
import { newRunId } from '../state/ids.js';
import { RunStore, TERMINAL_STATUSES, type RunState } from '../state/run-state.js';

/** Keys never stored with a run (secrets, and what depends on the machine). */
const NOT_STORED: ReadonlySet<string> = new Set([...SECRET_KEYS, 'redisUrl']);

export function storedConfig(cfg: Config): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cfg).filter(([k, v]) => !NOT_STORED.has(k) && v !== undefined));
}

export function configHash(stored: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(stored).sort(([a], [b]) => a.localeCompare(b)));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

export { VaultLockedError } from '../state/lock.js';

export { RunNotFoundError } from '../errors.js';

export interface HostOptions {
  cfg: Config;
  vault: string;
  target: RedisTarget;
  log: Logger;
  /** Run generate, judge and render workers in this process too (false: `--no-workers`). */
  inProcessWorkers: boolean;
  timings?: WorkerTimings;
  /** How long to wait for another host's lock to go stale (resume after a crash). */
  lockWaitMs?: number;
  /** A lock whose heartbeat is older than this belongs to a dead host (default DEFAULT_STALE_MS). */
  lockStaleMs?: number;
  /** Told when this host waits for another's lock (what it waits for and how long at most). */
  onLockWait?: (message: string) => void;
  /** Which command holds the lock (shown to whoever is refused); default `run`. */
  command?: string;
  /** Test hooks passed to the runtime (see ContextOptions). */
  hooks?: Pick<ContextOptions, 'onProviderCall' | 'aroundJob'>;
  /** Only these queues' workers (default: control and apply, plus the stateless ones when inProcessWorkers). */
  queues?: QueueName[];
}

export class CorpusHost {
  readonly store: RunStore;
  readonly queues: ReturnType<typeof createQueues>;
  readonly vault: string;
  readonly #redis: RedisClient;
  readonly #flows: BullFlows;
  readonly #opts: HostOptions;
  #workers: RunningWorkers | null = null;
  #lock: VaultLock | null = null;

  private constructor(opts: HostOptions) {
    this.#opts = opts;
    // The real path: a symlinked or `..` path to the vault names the same vault, its lock and its id counters.
    this.vault = realVault(opts.vault);
    this.#redis = createRedis(opts.target, 'client', (e) => opts.log.warn({ err: e.message }, 'redis error'));
    this.store = new RunStore(this.#redis, opts.cfg.prefix);
    this.queues = createQueues({ connection: bullConnection(opts.target), prefix: opts.cfg.prefix });
    this.#flows = new BullFlows(bullConnection(opts.target), opts.cfg.prefix, this.queues);
  }

  static async open(opts: HostOptions): Promise<CorpusHost> {
    const outside = vaultFoldersProblem(opts.vault);
    if (outside) throw new UnsafePathError(outside);
    const host = new CorpusHost(opts);
    try {
      host.#lock = await VaultLock.acquire({
        vault: host.vault,
        command: opts.command ?? 'run',
        redis: { redis: host.#redis, key: host.store.keys.lock(identityKey(await vaultIdentity(host.vault))) },
        waitMs: opts.lockWaitMs ?? 0,
        ...(opts.lockStaleMs !== undefined ? { staleMs: opts.lockStaleMs } : {}),
        ...(opts.onLockWait ? { onWait: opts.onLockWait } : {}),
        onLost: (m) => opts.log.error(m),
      });
      // With the lock held this host is the vault's only writer: temp files of writes a killed
      // process left are removed before anything reads the vault.
      const stray = await removeStrayTempFiles(host.vault);
      if (stray.length) opts.log.warn({ files: stray }, 'removed temp files of interrupted writes');
      const ctx = createRuntimeContext({
        cfg: opts.cfg,
        target: opts.target,
        redis: host.#redis,
        store: host.store,
        queues: host.queues,
        log: opts.log,
        ...(opts.timings ? { timings: opts.timings } : {}),
        corpus: { vault: host.vault, flows: host.#flows },
        ...opts.hooks,
      });
      const names: QueueName[] = opts.queues ?? ['control', 'apply', ...(opts.inProcessWorkers ? (STATELESS_QUEUES as QueueName[]) : [])];
      host.#workers = startWorkers(ctx, names);
      return host;
    } catch (e) {
      await host.close();
      throw e;
    }
  }

  /** Creates a run: its folder and run.json, its state in Redis, and its first plan job. */
  /** `judgeOnly`: a judging run (`vault-loop judge`): it judges what earlier runs left unjudged, and ends. */
  async startRun(cfg: Config, opts: { reviseFrom?: string; judgeOnly?: boolean } = {}): Promise<string> {
    if (opts.reviseFrom && !existsSync(runDir(this.vault, opts.reviseFrom))) {
      throw new Error(`run ${opts.reviseFrom} has no records in ${runDir(this.vault, opts.reviseFrom)}`);
    }
    const runId = await newRunId((id) => runDir(this.vault, id), (id) => this.store.claimRunId(id));
    const stored = {
      ...storedConfig(cfg),
      applicability: Applicability.forVault(this.vault).toRecord(),
      ...(opts.reviseFrom ? { reviseFrom: opts.reviseFrom } : {}),
      ...(opts.judgeOnly ? { judgeOnly: true } : {}),
    };
    const judge = judgeSettings(cfg);
    const generator = { provider: cfg.provider, model: cfg.model ?? defaultModel(cfg.provider) };
    const judgeInfo = { provider: judge.provider, model: judge.model ?? defaultModel(judge.provider) };
    const runJson: RunJson = {
      run_id: runId,
      vault: this.vault,
      started_at: new Date().toISOString(),
      status: 'running',
      config: stored,
      config_hash: configHash(stored),
      generator,
      judge: judgeInfo,
      prompts: promptHashes(),
      seed: cfg.seed,
      kind: opts.reviseFrom ? 'revise' : opts.judgeOnly ? 'judge' : 'loop',
      ...(opts.reviseFrom ? { source_run: opts.reviseFrom } : {}),
    };
    await writeRecord(RunJsonSchema, `${runDir(this.vault, runId)}/run.json`, runJson);
    await this.store.create({ runId, vault: this.vault, maxCalls: cfg.maxCalls, config: stored, generator, judge: judgeInfo });
    await this.#flows.addPlan(runId, 0);
    return runId;
  }

  /**
   * Continues a run whose host died: the new host's workers pick up the stalled jobs; control
   * jobs that failed for good are retried.
   */
  async resumeRun(runId: string): Promise<RunState> {
    const run = await this.store.get(runId);
    if (!run) throw new RunNotFoundError(await unknownRunMessage(this.vault, runId, this.#opts.cfg.prefix));
    if (run.vault !== this.vault) throw new RunNotFoundError(`run ${runId} belongs to vault ${run.vault}, not ${this.vault}`);
    if (run.status === 'failed') {
      // A run that ended failed (provider unreachable, judge failing) continues where it stopped:
      // reopened, with the next iteration's plan (which checks every stop condition again).
      await this.store.set(runId, { stopReason: '', finishedAt: '', phase: 'plan' });
      await this.store.setStatus(runId, 'running');
      await this.#flows.addPlan(runId, run.iter + 1);
      return (await this.store.get(runId))!;
    }
    if (TERMINAL_STATUSES.includes(run.status)) return run;
    for (const job of await this.queues.control.getFailed()) {
      if (job.data.runId === runId) await job.retry('failed');
    }
    for (const job of await this.queues.apply.getFailed()) {
      if (job.data.runId === runId) await job.retry('failed');
    }
    return run;
  }

  /** The stored configuration of a run, as a RunConfig. */
  async runConfig(runId: string): Promise<RunConfig | null> {
    const run = await this.store.get(runId);
    return run ? parseRunConfig(runId, run.config) : null;
  }

  /** Polls the run until it ends (or `signal` aborts); `onTick` sees each state. */
  async waitForRun(runId: string, onTick?: (s: RunState) => void | Promise<void>, signal?: AbortSignal, intervalMs = 250): Promise<RunState> {
    for (;;) {
      const s = await this.store.get(runId);
      if (!s) throw new RunStateLostError(runId);
      await onTick?.(s);
      if (TERMINAL_STATUSES.includes(s.status)) return s;
      if (signal?.aborted) return s;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async jobCounts(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, q] of Object.entries(this.queues)) {
      if (name === 'close' || name === 'all') continue;
      out[name] = await (q as Queues['control']).getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'waiting-children', 'prioritized');
    }
    return out;
  }

  /** One shutdown path: workers (finishing or handing back active jobs), then queues, then connections. */
  async close(force = false): Promise<void> {
    await this.#workers?.close(force).catch(() => {});
    await this.#flows.close().catch(() => {});
    await this.queues.close().catch(() => {});
    await this.#lock?.release().catch(() => {});
    this.#redis.disconnect();
  }
}

function realVault(dir: string): string {
  try {
    return realpathSync(resolve(dir));
  } catch {
    return resolve(dir);
  }
}
