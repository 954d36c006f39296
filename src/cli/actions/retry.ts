import { existsSync } from 'node:fs';
import { Job } from 'bullmq';
import type { Config } from '../../config/index.js';
import { createQueues, type Queues } from '../../queues/index.js';
import { retryFailedJobs, type RetriedJob } from '../../services/retry-jobs.js';
import { bullConnection, createRedis, type RedisTarget } from '../../redis/index.js';
import { blockedByBudget, drainLateWork, pendingLateWork, raiseRunBudget, RETRY_BUDGET_FLAG } from '../../services/late-work.js';
import { RunStore } from '../../state/run-state.js';
import { createLogger } from '../../util/log.js';
import { configFromOptions, connectRedis, onSignals } from '../common.js';
import { UserError } from '../output.js';

/**
 * Judges and applies the late work of these runs (the chunks just retried, and late applies still
 * waiting) on each vault no `vault-loop run` holds, then reports every retried chunk: judged, or
 * failed again (and why). Returns how many failed again.
 */
async function applyHere(cfg: Config, target: RedisTarget, queues: Queues, retried: RetriedJob[], runIds: string[], out: (line: string) => void): Promise<number> {
  const redis = createRedis(target, 'client');
  const store = new RunStore(redis, cfg.prefix);
  const log = createLogger(cfg.logLevel);
  let failed = 0;
  const withLateApplies = new Set<string>();
  try {
    const byVault = new Map<string, Set<string>>();
    for (const runId of runIds) {
      const vault = (await store.get(runId))?.vault;
      if (vault) byVault.set(vault, (byVault.get(vault) ?? new Set<string>()).add(runId));
    }
    for (const [vault, runs] of byVault) {
      if (!existsSync(vault)) {
        out(`vault ${vault} is not on this machine: a \`vault-loop run\` (or \`vault-loop dashboard --vault\`) there applies the late results`);
        continue;
      }
      const pending = await pendingLateWork(queues, store, { runIds: [...runs], vault });
      if (pending.length === 0) continue;
      const abort = new AbortController();
      const offSignals = onSignals(
        () => {
          abort.abort();
          out('stopping: the retried jobs stay queued for the next `vault-loop run` on the vault');
        },
        () => process.exit(130),
      );
      try {
        const chunks = pending.reduce((n, p) => n + p.judge.length, 0);
        const applies = pending.reduce((n, p) => n + p.apply.length, 0);
        out(`judging ${chunks} chunk(s) and applying ${applies} late result(s) on ${vault} (no vault-loop run holds it)…`);
        const outcome = await drainLateWork({ cfg, target, log, vault, store, queues, runIds: [...runs], signal: abort.signal });
        if (outcome === 'drained') for (const p of pending) if (p.apply.length > 0) withLateApplies.add(p.runId);
        if (outcome === 'locked') out(`a vault-loop run holds ${vault}: it judges and applies the retried chunks`);
      } finally {
        offSignals();
      }
    }
    let budgetBlocked = 0;
    const judged: string[] = [];
    for (const j of retried) {
      const job = await Job.fromId(queues.judge, j.id);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'completed') {
        judged.push(j.id);
        out(`  ${j.id}: judged`);
      } else if (state === 'failed') {
        failed++;
        if (blockedByBudget(job?.failedReason)) budgetBlocked++;
        out(`  ${j.id}: failed again: ${(job?.failedReason ?? '').split('\n')[0]}`);
      } else out(`  ${j.id}: ${state} (left to the workers and the vault's host)`);
    }
    for (const runId of runIds) {
      const left = (await pendingLateWork(queues, store, { runIds: [runId] }))[0];
      if (left) out(`run ${runId}: ${left.judge.length} chunk(s) and ${left.apply.length} late apply(s) still pending`);
    }
    if (failed > 0) {
      out(`${failed} of ${retried.length} retried chunk(s) failed again; their drafts stay unjudged`);
      if (budgetBlocked > 0) {
        const run = retried[0]?.runId ? await store.get(retried[0].runId) : null;
        out(`blocked by the run's budget${run ? ` (${run.callsUsed} of ${run.maxCalls} calls used)` : ''}: give the retry more with ${RETRY_BUDGET_FLAG} N`);
      }
    }
    const appliedRuns = new Set([...withLateApplies, ...retried.filter((j) => judged.includes(j.id)).map((j) => j.runId ?? '')].filter(Boolean));
    if (appliedRuns.size > 0) out(`applied: the records of run ${[...appliedRuns].join(', ')} are rewritten`);
  } finally {
    redis.disconnect();
  }
  return failed;
}

export async function retry(opts: Record<string, unknown>): Promise<void> {
  const cfg = configFromOptions(opts);
  const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
  const queues = createQueues({ connection: bullConnection(target), prefix: cfg.prefix });
  const out = (line: string) => process.stdout.write(line + '\n');
  const redis = createRedis(target, 'client');
  const store = new RunStore(redis, cfg.prefix);
  try {
    const queueName = opts.queue as keyof Queues;
    const onlyRun = opts.run as string | undefined;
    if (onlyRun && !(await store.exists(onlyRun))) throw new UserError(`run ${onlyRun} is not known to this Redis (prefix ${cfg.prefix}); \`vault-loop status\` lists the runs`);
    // More budget first, so the retried jobs see it.
    if (typeof opts.maxCalls === 'number') {
      const failedRuns = new Set((await queues[queueName].getFailed(0, -1)).map((j) => String((j?.data as { runId?: string } | undefined)?.runId ?? '')).filter(Boolean));
      if (onlyRun) failedRuns.add(onlyRun);
      for (const runId of failedRuns) {
        if (onlyRun && runId !== onlyRun) continue;
        const { from, to } = await raiseRunBudget(store, runId, opts.maxCalls);
        out(to > from ? `run ${runId}: budget raised from ${from} to ${to} calls` : `run ${runId}: budget stays ${from} calls (${RETRY_BUDGET_FLAG} only raises it)`);
      }
    }
    const jobs = await retryFailedJobs(queues, queueName, onlyRun);
    out(`retried ${jobs.length} failed ${String(opts.queue)} job(s)${onlyRun ? ` of run ${onlyRun}` : ''}${jobs.length ? `: ${jobs.map((j) => j.id).join(', ')}` : ''}`);
    // Judge chunks of a run whose corpus host is gone would wait for the next run on the vault,
    // and so would late applies a retry from Bull Board or the dashboard left: this command
    // judges and applies them itself.
    if (opts.queue === 'judge' && opts.apply !== false) {
      const runIds = [...new Set([...jobs.map((j) => j.runId ?? ''), ...(await pendingLateWork(queues, store, onlyRun ? { runIds: [onlyRun] } : {})).map((p) => p.runId)])].filter(Boolean);
      if (runIds.length === 0) out('nothing to judge or apply');
      const failed = await applyHere(cfg, target, queues, jobs, runIds, out);
      if (failed > 0) process.exitCode = 1;
    }
  } finally {
    redis.disconnect();
    await queues.close();
  }
}
