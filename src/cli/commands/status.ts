import type { Command } from 'commander';
import type { ConnectionOptions } from 'bullmq';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createQueues } from '../../queues/index.js';
import { createRedis } from '../../redis/index.js';
import { RunStore, type RunState } from '../../scheduler/state.js';
import { passCost, runDir, type PassCost } from '../../scheduler/records.js';
import { judgeChunkPending } from '../../scheduler/flows.js';
import { findLeftoverDrafts, type LeftoverDraft } from '../../scheduler/leftovers.js';
import { configFromOptions, connectRedis, withConnectionOptions } from '../common.js';
import { table, UserError } from '../output.js';
import { summaryText } from '../summary.js';

const duration = (s: RunState): string => {
  const end = s.finishedAt ? Date.parse(s.finishedAt) : Date.now();
  const ms = end - Date.parse(s.startedAt);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)}s` : '-';
};

/** The run's calls and cost per PASS draft, from its applied verdicts in Redis. */
async function runPassCost(store: RunStore, run: RunState): Promise<PassCost & { passes: number }> {
  const passes = [...(await store.verdicts(run.runId)).values()].filter((v) => v.verdict === 'PASS').length;
  return { passes, ...passCost(passes, run.callsUsed, run.costUsd) };
}

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('status [run]')
      .description('show runs (status, iteration, calls used / budget, tokens, cost, stop reason), or one run in detail')
      .option('--json', 'print JSON')
      .option('--vault <dir>', "find the embedded Redis a `run` on this vault started, and list the vault's unjudged drafts"),
  ).action(async (runId: string | undefined, opts: Record<string, unknown>) => {
    const cfg = configFromOptions(opts);
    const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
    const redis = createRedis(target, 'client');
    const store = new RunStore(redis, cfg.prefix);
    const queues = createQueues({ connection: target.options as ConnectionOptions, prefix: cfg.prefix });
    try {
      // Drafts that earlier runs left unjudged: of the --vault given, or of the run asked about.
      const leftoversOf = async (vault: string) =>
        await findLeftoverDrafts(store, vault, {
          judgePending: async (r, i, c) => await judgeChunkPending(queues, r, i, c),
        });
      const leftoverText = (vault: string, left: LeftoverDraft[]) =>
        left.length === 0
          ? `unjudged drafts in ${vault}: none`
          : `unjudged drafts in ${vault}: ${left.length} (the next \`vault-loop run\` judges them first, or \`vault-loop judge --vault ${vault}\`)\n${table(
              ['draft', 'run', 'iter', 'path', 'why'],
              left.map((d) => [d.id, d.runId, d.iter, d.path, d.reason]),
            )}`;
      if (!runId) {
        const runs = (await Promise.all((await store.list(50)).map((id) => store.get(id)))).filter((r): r is RunState => r !== null);
        const vault = typeof opts.vault === 'string' ? resolve(opts.vault) : null;
        const left = vault ? await leftoversOf(vault) : null;
        if (opts.json) {
          const list = runs.map(({ config: _c, ...r }) => r);
          process.stdout.write(`${JSON.stringify(left ? { runs: list, unjudgedDrafts: left } : list, null, 2)}\n`);
          return;
        }
        if (vault && left) process.stdout.write(`${leftoverText(vault, left)}\n\n`);
        const perPass = new Map(await Promise.all(runs.map(async (r) => [r.runId, await runPassCost(store, r)] as const)));
        if (runs.length === 0) {
          process.stdout.write(`no runs under prefix ${cfg.prefix} at ${target.describe}\n`);
          return;
        }
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
      const failedJudge = (await queues.judge.getFailed(0, -1)).filter((j) => j?.data.runId === runId).map((j) => String(j.id));
      const left = run.vault ? await leftoversOf(run.vault) : [];
      if (opts.json) {
        const { config: _c, ...rest } = run;
        process.stdout.write(`${JSON.stringify({ ...rest, ...(await runPassCost(store, run)), failedJudgeChunks: failedJudge, unjudgedDrafts: left }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        [
          `run ${runId}: ${run.status} (${run.phase}), iteration ${run.iter}`,
          `generator ${run.generator.provider}/${run.generator.model}, judge ${run.judge.provider}/${run.judge.model}`,
          `calls ${run.callsUsed}/${run.maxCalls} (${run.callsReserved} in flight, ${run.judgePool} set aside for judging), tokens in ${run.tokensIn} out ${run.tokensOut}, cost $${run.costUsd.toFixed(4)}`,
          `stop reason: ${run.stopReason ?? '-'}; started ${run.startedAt}; duration ${duration(run)}`,
          `failed judge chunks: ${failedJudge.length ? `${failedJudge.join(', ')} (vault-loop retry --queue judge --run ${runId})` : 'none'}`,
          '',
        ].join('\n'),
      );
      if (run.vault && existsSync(runDir(run.vault, runId))) process.stdout.write(`${summaryText(run.vault, runId)}\n`);
      if (run.vault) process.stdout.write(`${leftoverText(run.vault, left)}\n`);
    } finally {
      await queues.close();
      redis.disconnect();
    }
  });
}
