import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LeftoverDraft } from '../../scheduler/leftovers.js';
import { bullConnection, createRedis } from '../../redis/index.js';
import { Keys, RunStore, type RunState } from '../../state/run-state.js';
import { BatchStore, summarizeBatches } from '../../scheduler/batches.js';
import { configFromOptions, connectRedis } from '../common.js';
import { table, terminalWidth, UserError, wrapWords } from '../output.js';

const duration = (s: RunState): string => {
  const end = s.finishedAt ? Date.parse(s.finishedAt) : Date.now();
  const ms = end - Date.parse(s.startedAt);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)}s` : '-';
};

/** The run's calls and cost per PASS draft, from its applied verdicts in Redis. */
async function runPassCost(store: RunStore, run: RunState): Promise<{ passes: number; calls_per_pass: number | null; cost_per_pass_usd: number | null }> {
  const { passCost } = await import('../../scheduler/records.js');
  const passes = [...(await store.verdicts(run.runId)).values()].filter((v) => v.verdict === 'PASS').length;
  return { passes, ...passCost(passes, run.callsUsed, run.costUsd) };
}

/** The vault's unjudged drafts (src/scheduler/leftovers.ts), and the lines that list them. */
async function leftovers(store: RunStore, target: Parameters<typeof bullConnection>[0], prefix: string, vault: string): Promise<{ drafts: LeftoverDraft[]; text: string }> {
  const [{ createQueues }, { judgeChunkPending }, { findLeftoverDrafts }] = await Promise.all([import('../../queues/index.js'), import('../../scheduler/flows.js'), import('../../scheduler/leftovers.js')]);
  const queues = createQueues({ connection: bullConnection(target), prefix });
  try {
    const drafts = await findLeftoverDrafts(store, vault, { judgePending: async (r, i, c) => await judgeChunkPending(queues, r, i, c) });
    const text =
      drafts.length === 0
        ? `unjudged drafts in ${vault}: none`
        : `unjudged drafts in ${vault}: ${drafts.length} (the next \`vault-loop run\` judges them first, or \`vault-loop judge --vault ${vault}\`)\n${table(
            ['draft', 'run', 'iter', 'path', 'why'],
            drafts.map((d) => [d.id, d.runId, d.iter, d.path, d.reason]),
          )}`;
    return { drafts, text };
  } finally {
    await queues.close();
  }
}

export async function status(runId: string | undefined, opts: Record<string, unknown>): Promise<void> {
  const cfg = configFromOptions(opts);
  const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
  const redis = createRedis(target, 'client');
  const store = new RunStore(redis, cfg.prefix);
  try {
    if (!runId) {
      const runs = (await Promise.all((await store.list(50)).map((id) => store.get(id)))).filter((r): r is RunState => r !== null);
      const left = typeof opts.vault === 'string' ? await leftovers(store, target, cfg.prefix, resolve(opts.vault)) : null;
      if (opts.json) {
        const list = runs.map(({ config: _c, ...r }) => r);
        process.stdout.write(`${JSON.stringify(left ? { runs: list, unjudgedDrafts: left.drafts } : list, null, 2)}\n`);
        return;
      }
      if (left) process.stdout.write(`${left.text}\n\n`);
      if (runs.length === 0) {
        process.stdout.write(`no runs under prefix ${cfg.prefix} at ${target.describe}\n`);
        return;
      }
      const perPass = new Map(await Promise.all(runs.map(async (r) => [r.runId, await runPassCost(store, r)] as const)));
      process.stdout.write(
        `${table(
          ['run', 'status', 'iter', 'calls', 'tokens in/out', 'cost', 'calls/PASS', '$/PASS', 'stop reason', 'started', 'duration'],
          runs.map((r) => {
            const pc = perPass.get(r.runId)!;
            return [r.runId, r.status, r.iter, `${r.callsUsed}/${r.maxCalls}`, `${r.tokensIn}/${r.tokensOut}`, `$${r.costUsd.toFixed(4)}`, pc.calls_per_pass ?? '-', pc.cost_per_pass_usd === null ? '-' : `$${pc.cost_per_pass_usd.toFixed(4)}`, r.stopReason ?? '-', r.startedAt.slice(0, 19), duration(r)];
          }),
        )}\n`,
      );
      return;
    }
    const run = await store.get(runId);
    if (!run) throw new UserError(`run ${runId} is not known to Redis at ${target.describe} (prefix ${cfg.prefix})`);
    // The one-run view alone needs BullMQ (failed judge chunks) and the records: loaded here, so
    // the list of runs starts as fast as a Redis client allows.
    const [{ createQueues }, { runDir }, { summaryText }, { pendingLateWork }] = await Promise.all([import('../../queues/index.js'), import('../../scheduler/records.js'), import('../summary.js'), import('../../services/late-work.js')]);
    const queues = createQueues({ connection: bullConnection(target), prefix: cfg.prefix });
    const failedJudge = (await queues.judge.getFailed(0, -1)).filter((j) => j?.data.runId === runId).map((j) => String(j.id));
    const late = (await pendingLateWork(queues, store, { runIds: [runId] }))[0] ?? { judge: [], apply: [] };
    const batches = summarizeBatches(await new BatchStore(redis, new Keys(cfg.prefix)).list(runId), Date.now());
    await queues.close();
    const left = run.vault ? await leftovers(store, target, cfg.prefix, run.vault) : null;
    if (opts.json) {
      const { config: _c, ...rest } = run;
      process.stdout.write(`${JSON.stringify({ ...rest, ...(await runPassCost(store, run)), failedJudgeChunks: failedJudge, pendingLate: { judge: late.judge, apply: late.apply }, batches, unjudgedDrafts: left?.drafts ?? [] }, null, 2)}\n`);
      return;
    }
    const lateLine =
      late.judge.length + late.apply.length > 0
        ? [`pending late work: ${late.judge.length} retried chunk(s) to judge, ${late.apply.length} late apply(s) not in the records yet (vault-loop retry --vault ${run.vault} --run ${runId} applies them)`]
        : [];
    process.stdout.write(
      [
        `run ${runId}: ${run.status} (${run.phase}), iteration ${run.iter}`,
        `generator ${run.generator.provider}/${run.generator.model}, judge ${run.judge.provider}/${run.judge.model}`,
        `calls ${run.callsUsed}/${run.maxCalls} (${run.callsReserved} in flight, ${run.judgePool} set aside for judging), tokens in ${run.tokensIn} (${run.tokensCached ?? 0} cached) out ${run.tokensOut}, cost $${run.costUsd.toFixed(4)}`,
        ...batchLines(batches),
        `stop reason: ${run.stopReason ?? '-'}; started ${run.startedAt}; duration ${duration(run)}`,
        `failed judge chunks: ${failedJudge.length ? `${failedJudge.join(', ')} (vault-loop retry --vault ${run.vault} --run ${runId})` : 'none'}`,
        ...lateLine,
        '',
      ]
        .map((l) => wrapWords(l, terminalWidth()))
        .join('\n'),
    );
    if (run.vault && existsSync(runDir(run.vault, runId))) process.stdout.write(`${summaryText(run.vault, runId)}\n`);
    else if (run.vault) process.stdout.write(`records: ${runDir(run.vault, runId)} (not on this machine)\n`);
    if (left) process.stdout.write(`${left.text}\n`);
  } finally {
    redis.disconnect();
  }
}

/** Batch mode: one line per provider batch in flight (age, items, provider status). */
function batchLines(b: ReturnType<typeof summarizeBatches>): string[] {
  if (b.inFlight.length === 0 && b.ended === 0) return [];
  return [
    `provider batches: ${b.inFlight.length} in flight, ${b.ended} ended`,
    ...b.inFlight.map((x) => `  ${x.name}: ${x.providerStatus}, ${x.items} items (${x.succeeded} ok / ${x.failed} failed), age ${x.ageSeconds}s${x.providerIds.length ? `, ${x.providerIds.join(' ')}` : ''}`),
  ];
}
