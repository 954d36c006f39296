import type { RunningDashboard } from '../../../dashboard/index.js';
import { generatorSettings, judgeSettings, trustedSettingLines, type Config } from '../../config/index.js';
import { analyzeVault } from '../../analysis/index.js';
import { selfPreferenceWarning } from '../../llm/registry.js';
import { usesBatches } from '../../llm/batch/types.js';
import { RedisUnavailableError, RunNotFoundError, VaultLockedError } from '../../errors.js';
import { CorpusHost } from '../../host/corpus-host.js';
import { DEFAULT_STALE_MS } from '../../state/lock.js';
import { lostStateReason, markInterrupted, RunStateLostError } from '../../scheduler/lost-state.js';
import { TERMINAL_STATUSES, type RunState } from '../../state/run-state.js';
import { createLogger } from '../../util/log.js';
import type { WorkerTimings } from '../../workers/runtime.js';
import { configFromOptions, connectRedis, onSignals, requireVault, stopBoundMs, timingsFromOptions } from '../common.js';
import { UserError } from '../output.js';
import { describe, ProgressReporter } from '../progress.js';
import { summaryText } from '../summary.js';


export interface RunLoopOptions {
  cfg: Config;
  vault: string;
  inProcessWorkers: boolean;
  resume?: string;
  progress: 'auto' | 'bars' | 'plain' | 'none';
  json: boolean;
  /** Serve the dashboard on the host's Redis and prefix until the run ends. */
  dashboard?: boolean;
  /** A revision run over the NEEDS_FIX drafts this earlier run left (`vault-loop revise`). */
  reviseFrom?: string;
  /** A judging run over the drafts earlier runs left unjudged (`vault-loop judge`). */
  judgeOnly?: boolean;
  /** Printed before the summary (the demo says where things are). */
  out?: (line: string) => void;
  /** Job lock and stalled-check timings of this host's workers (tests: fast recovery after a kill). */
  timings?: WorkerTimings;
  /** `--resume`: how long to wait for a dead host's lock (default: the stale limit + 5 s). */
  lockWaitMs?: number;
  lockStaleMs?: number;
}

/** Runs (or resumes) one loop to its end; returns the exit code. */
export async function runLoop(o: RunLoopOptions): Promise<number> {
  const log = createLogger(o.cfg.logLevel);
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const target = await connectRedis(o.cfg, { vault: o.vault, mayStart: true });
  const err = (l: string) => process.stderr.write(`${l}\n`);
  err(`vault-loop: Redis at ${target.describe}`);
  // Settings that send credentials somewhere or run model code: say where each came from.
  for (const l of trustedSettingLines(o.cfg)) err(`vault-loop: ${l}`);
  const warning = selfPreferenceWarning(generatorSettings(o.cfg), judgeSettings(o.cfg));
  if (warning) err(`vault-loop: warning: ${warning}`);
  if (o.cfg.batchMode) {
    for (const [role, p] of [['generation', generatorSettings(o.cfg).provider], ['judge', judgeSettings(o.cfg).provider]] as const) {
      if (!usesBatches(o.cfg, p)) err(`vault-loop: warning: --batch: provider ${p} has no batch API; its ${role} calls stay live`);
    }
  }

  let host: CorpusHost | undefined;
  let dash: RunningDashboard | undefined;
  const abort = new AbortController();
  let forced = false;
  let redisLost = false;
  let watchdogTimer: NodeJS.Timeout | undefined;
  const offSignals = onSignals(
    (sig) => {
      err(`\nvault-loop: ${sig}: stopping this host gracefully (active jobs finish or go back to the queue); press Ctrl-C again to force`);
      abort.abort();
    },
    () => {
      forced = true;
      err('vault-loop: forced exit');
      void host?.close(true).finally(() => process.exit(130));
    },
    stopBoundMs(o.cfg),
  );
  try {
    // A host restarted right after a crash (--resume, as a supervisor does) waits for the dead
    // host's lock to go stale instead of exiting; a plain run is refused at once while a live host holds it.
    const staleMs = o.lockStaleMs ?? DEFAULT_STALE_MS;
    host = await CorpusHost.open({
      cfg: o.cfg,
      vault: o.vault,
      target,
      log,
      inProcessWorkers: o.inProcessWorkers,
      lockWaitMs: o.resume ? (o.lockWaitMs ?? staleMs + 5_000) : 0,
      lockStaleMs: staleMs,
      onLockWait: (m) => err(`vault-loop: ${m}`),
      ...(o.timings ? { timings: o.timings } : {}),
    });
    if (o.dashboard) {
      // Loaded here: Express and Bull Board are only paid for by runs that serve the dashboard.
      const { DashboardConfigError, DashboardListenError, dashboardOptionsFromConfig, startDashboard } = await import('../../../dashboard/index.js');
      try {
        dash = await startDashboard({ ...dashboardOptionsFromConfig(o.cfg), target, log });
      } catch (e) {
        if (e instanceof DashboardConfigError || e instanceof DashboardListenError) throw new UserError(e.message);
        throw e;
      }
      err(`vault-loop: dashboard at ${dash.url}`);
    }
    let runId: string;
    let maxIters = o.cfg.maxIters;
    if (o.resume) {
      const run = await host.resumeRun(o.resume);
      runId = o.resume;
      maxIters = Number((run.config as { maxIters?: number }).maxIters ?? maxIters);
      err(`vault-loop: resuming run ${runId} (status ${run.status}, iteration ${run.iter})`);
    } else {
      await warnUnreadable(o.vault, o.cfg, err);
      runId = await host.startRun(o.cfg, { ...(o.reviseFrom ? { reviseFrom: o.reviseFrom } : {}), ...(o.judgeOnly ? { judgeOnly: true } : {}) });
      err(`vault-loop: run ${runId} started${o.inProcessWorkers ? '' : ' (no in-process workers: start `vault-loop worker` processes)'}`);
    }
    const reporter = new ProgressReporter(process.stderr, o.progress);
    const h = host;
    let final: RunState | null = null;
    // Last time Redis answered. A call to a dead Redis may hang rather than fail, so a watchdog
    // turns silence longer than redisDownTimeoutMs into the same verdict as an error.
    let lastContact = Date.now();
    const lost = () => Date.now() - lastContact > o.cfg.redisDownTimeoutMs;
    const watchdog = new Promise<never>((_, reject) => {
      watchdogTimer = setInterval(() => lost() && reject(new Error('no answer')), 250);
    });
    watchdog.catch(() => {});
    while (!final) {
      try {
        final = await Promise.race([
          h.waitForRun(
          runId,
          async (state) => {
            lastContact = Date.now();
            const counts = await h.jobCounts();
            const verdicts = { PASS: 0, NEEDS_FIX: 0, DROP: 0 };
            for (const v of (await h.store.verdicts(runId)).values()) verdicts[v.verdict]++;
            reporter.update(describe({ state, counts, verdicts }, maxIters));
          },
          abort.signal,
          o.progress === 'none' ? 500 : 250,
          ),
          watchdog,
        ]);
      } catch (e) {
        // Redis answers but lost the run (restarted empty, flushed, evicted): no use waiting for it.
        if (e instanceof RunStateLostError) {
          reporter.done();
          redisLost = true;
          throw new RedisUnavailableError((await markInterrupted(h.vault, runId, lostStateReason(`Redis at ${target.describe}`))).lines.join('\n'));
        }
        // Redis unreachable: keep trying for the configured time, then say so plainly.
        if (lost()) {
          reporter.done();
          redisLost = true;
          throw new RedisUnavailableError(
            `lost Redis at ${target.describe} for more than ${Math.round(o.cfg.redisDownTimeoutMs / 1000)} s (${(e as Error).message}). ` +
              `The vault is intact (every write is atomic). When Redis is back: vault-loop run --vault ${o.vault} --resume ${runId}`,
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    reporter.done();
    if (final.fatalError) {
      err(`vault-loop: ${final.fatalError}`);
      return 1;
    }
    if (!TERMINAL_STATUSES.includes(final.status)) {
      err(`vault-loop: host stopped; run ${runId} is still ${final.status}. Continue it with: vault-loop run --vault ${o.vault} --resume ${runId}`);
      return 130;
    }
    if (o.json) {
      const { readJson, runDir } = await import('../../scheduler/records.js');
      out(JSON.stringify(readJson(`${runDir(o.vault, runId)}/loop_summary.json`), null, 2));
    } else {
      out(summaryText(o.vault, runId));
    }
    return final.status === 'failed' ? 1 : 0;
  } catch (e) {
    if (e instanceof VaultLockedError || e instanceof RunNotFoundError) throw new UserError((e as Error).message);
    throw e;
  } finally {
    offSignals();
    clearInterval(watchdogTimer);
    await dash?.close().catch(() => {});
    if (redisLost) {
      // Closing waits on Redis; give it a moment, then let the process end with the message
      // printed (the unref'd timer fires only if reconnecting clients keep the process alive).
      await Promise.race([host?.close(true).catch(() => {}), new Promise((r) => setTimeout(r, 3000).unref())]);
      setTimeout(() => process.exit(process.exitCode ?? 1), 2000).unref();
    } else if (!forced) await host?.close().catch(() => {});
    await target.embedded?.stop().catch(() => {});
  }
}

/**
 * Files the loop cannot read (bad YAML, too large, not UTF-8, a symlink out of the vault) are left
 * alone and not counted; the user hears which ones before the run starts. The analyzer keeps what
 * it learns in memory, so the plan step reuses this scan.
 */
async function warnUnreadable(vault: string, cfg: Config, err: (l: string) => void): Promise<void> {
  const { stats } = await analyzeVault(vault, { strategy: cfg.strategy, total: 1 });
  const lines = [...stats.skipped.map((s) => `${s.path}: ${s.message}`), ...stats.links.map((p) => `${p.path}: ${p.message}`)];
  for (const l of lines.slice(0, 20)) err(`vault-loop: warning: skipping ${l}`);
  if (lines.length > 20) err(`vault-loop: warning: … and ${lines.length - 20} more unreadable files (vault-loop validate lists them all)`);
}

export async function run(opts: Record<string, unknown>): Promise<void> {
  const vault = requireVault(opts.vault);
  const inProcessWorkers = opts.workers !== false;
  const cfg = configFromOptions(opts, { vault, workers: typeof opts.workers === 'number' ? opts.workers : undefined });
  const timings = timingsFromOptions(opts);
  const code = await runLoop({
    cfg,
    vault,
    inProcessWorkers,
    resume: opts.resume as string | undefined,
    progress: opts.progress as 'auto',
    json: Boolean(opts.json),
    dashboard: Boolean(opts.dashboard),
    ...(timings ? { timings } : {}),
    ...(typeof opts.lockWait === 'number' ? { lockWaitMs: opts.lockWait } : {}),
    ...(typeof opts.lockStale === 'number' ? { lockStaleMs: opts.lockStale } : {}),
  });
  process.exitCode = code;
}
