import { existsSync } from 'node:fs';
import { Job } from 'bullmq';
import type { Config } from '../../config/index.js';
import { createQueues, PENDING_STATES, retryFailedJobs, type Queues, type RetriedJob } from '../../queues/index.js';
import { bullConnection, createRedis, type RedisTarget } from '../../redis/index.js';
import { CorpusHost, VaultLockedError } from '../../scheduler/host.js';
import { RunStore } from '../../scheduler/state.js';
import { createLogger } from '../../util/log.js';
import { configFromOptions, connectRedis, onSignals } from '../common.js';

/**
 * Judges and applies retried judge chunks of runs whose vault no `vault-loop run` holds: a
 * temporary corpus host on that vault (judge, render and apply workers only) until every retried
 * chunk has finished and its late apply has run. A vault some run holds is left to that run.
 */
async function applyHere(cfg: Config, target: RedisTarget, queues: Queues, retried: RetriedJob[], out: (line: string) => void): Promise<number> {
  const redis = createRedis(target, 'client');
  const store = new RunStore(redis, cfg.prefix);
  const log = createLogger(cfg.logLevel);
  let failed = 0;
  try {
    const byVault = new Map<string, { jobs: RetriedJob[]; runs: Set<string> }>();
    for (const j of retried) {
      const vault = j.runId ? (await store.get(j.runId))?.vault : undefined;
      if (!vault) continue;
      const entry = byVault.get(vault) ?? { jobs: [], runs: new Set<string>() };
      entry.jobs.push(j);
      entry.runs.add(j.runId!);
      byVault.set(vault, entry);
    }
    for (const [vault, { jobs, runs }] of byVault) {
      if (!existsSync(vault)) {
        out(`vault ${vault} is not on this machine: a \`vault-loop run\` on it applies the late results`);
        continue;
      }
      let host: CorpusHost;
      try {
        host = await CorpusHost.open({ cfg, vault, target, log, inProcessWorkers: true, queues: ['judge', 'render', 'apply'] });
      } catch (e) {
        if (!(e instanceof VaultLockedError)) throw e;
        out(`a vault-loop run holds ${vault}: it judges and applies the retried chunks`);
        continue;
      }
      let stopping = false;
      const offSignals = onSignals(
        () => {
          stopping = true;
          out('stopping: the retried jobs stay queued for the next `vault-loop run` on the vault');
        },
        () => process.exit(130),
      );
      try {
        out(`judging and applying ${jobs.length} chunk(s) on ${vault} (no vault-loop run holds it)…`);
        const done = new Set<string>();
        while (!stopping) {
          for (const j of jobs) {
            if (done.has(j.id)) continue;
            const job = await Job.fromId(queues.judge, j.id);
            const state = job ? await job.getState() : 'unknown';
            if (state === 'completed' || state === 'failed' || state === 'unknown') {
              done.add(j.id);
              if (state !== 'completed') failed++;
              out(`  ${j.id}: ${state === 'completed' ? 'judged' : `failed again${job?.failedReason ? `: ${job.failedReason}` : ''}`}`);
            }
          }
          if (done.size === jobs.length) {
            // The late applies the judged chunks added, of these runs.
            const pending = (await queues.apply.getJobs([...PENDING_STATES])).filter((a) => a && runs.has((a.data as { runId?: string }).runId ?? ''));
            if (pending.length === 0) break;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        if (!stopping) out(`applied: the records of run ${[...runs].join(', ')} are rewritten`);
      } finally {
        offSignals();
        await host.close();
      }
    }
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
  try {
    const jobs = await retryFailedJobs(queues, opts.queue as keyof Queues, opts.run as string | undefined);
    out(`retried ${jobs.length} failed ${String(opts.queue)} job(s)${opts.run ? ` of run ${String(opts.run)}` : ''}${jobs.length ? `: ${jobs.map((j) => j.id).join(', ')}` : ''}`);
    // Judge chunks of a run whose corpus host is gone would wait for the next run on the vault:
    // this command judges and applies them itself.
    if (opts.queue === 'judge' && opts.apply !== false && jobs.length > 0) {
      const failed = await applyHere(cfg, target, queues, jobs, out);
      if (failed > 0) process.exitCode = 1;
    }
  } finally {
    await queues.close();
  }
}
