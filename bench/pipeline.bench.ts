/**
 * Pipeline efficiency: `npm run bench -- pipeline [--latency 300] [--workers 4] [--gen-batch 5]
 * [--gen-calls 12] [--judge-chunk 5] [--questions 1000] [--runs 1] [--trace]`.
 *
 * One iteration of the loop (in-process corpus host and workers, offline provider with a simulated
 * latency per call) against two schedules computed from the calls that iteration actually made
 * (iter_record.json: calls_used_iter, plan_size, generated, wall_ms):
 *   ideal critical path: generate calls = ceil(plan_size / genBatchSize) in waves of `workers`,
 *     then judge calls in waves of `workers`; each wave costs one latency, nothing else does;
 *   the original's sequential schedule: every call one after another, plus its 2 s sleep between
 *     consecutive chunks (generator and judge each sleep between their chunks, not after the last).
 * Goal: wall time within 15% of the ideal critical path.
 */
import { benchConfig, benchRedis, benchVault, goal, intFlag, jobTimes, machineLine, median, openBenchHost, phases, phaseTable, ratio, runOnce, secs, table } from './support/index.js';

/** `--sleep 2.0` of the original generator and judge. */
const ORIGINAL_SLEEP_MS = 2000;

async function main(): Promise<void> {
  const latency = intFlag('latency', 300);
  const workers = intFlag('workers', 4);
  const genBatchSize = intFlag('gen-batch', 5);
  const genCallsPerIter = intFlag('gen-calls', 12);
  const judgeChunkSize = intFlag('judge-chunk', 5);
  const questions = intFlag('questions', 1000);
  const runs = Math.max(1, intFlag('runs', 1));

  console.log(machineLine());
  console.log(
    `setup: offline provider, ${latency} ms per call, workers ${workers}, genBatchSize ${genBatchSize} × genCallsPerIter ${genCallsPerIter}, ` +
      `judgeChunkSize ${judgeChunkSize}, one iteration on a ${questions}-question synthetic vault, ${runs} run(s)`,
  );
  const rows: (string | number)[][] = [];
  const overs: number[] = [];
  const speedups: number[] = [];
  for (let r = 0; r < runs; r++) {
    const redis = await benchRedis('pipeline');
    const vault = await benchVault('pipeline', questions, 1 + r);
    try {
      const cfg = benchConfig(redis, vault.dir, {
        offlineLatencyMs: latency,
        workers,
        genBatchSize,
        genCallsPerIter,
        judgeChunkSize,
        maxIters: 1,
        maxCalls: 10_000,
        // A full batch flushes at once; the window only matters for a last, partial batch.
        batchWindowMs: 20,
        seed: r,
      });
      const host = await openBenchHost(redis, cfg, true);
      let out;
      let dispatchMs = 0;
      try {
        out = await runOnce(host, cfg);
        const jobs = await jobTimes(host.queues.all);
        console.log(`\nrun ${r + 1}: where the iteration's time went (ms from adding the generate flow)`);
        const ps = phases(jobs);
        dispatchMs = ps.find((p) => p.name.startsWith('dispatch'))?.ms ?? 0;
        console.log(phaseTable(ps));
        if (process.argv.includes('--trace')) {
          const t0 = Math.min(...jobs.map((j) => j.queued));
          console.log(table(['queue', 'job', 'queued ms', 'started ms', 'finished ms'], jobs.map((j) => [j.queue, j.id, j.queued - t0, j.started - t0, j.finished - t0])));
        }
      } finally {
        await host.close();
      }
      const it = out.iters[0];
      if (!it || it.wall_ms === null) throw new Error(`run ${out.runId} recorded no iteration (stop reason: ${out.state.stopReason})`);
      const genCalls = Math.ceil(it.plan_size / genBatchSize);
      const judgeCalls = it.calls_used_iter - genCalls;
      const expectedJudge = Math.ceil(it.generated / judgeChunkSize);
      if (judgeCalls !== expectedJudge) {
        console.log(
          `note: run ${r + 1}: ${judgeCalls} calls beyond the ${genCalls} generate calls, ceil(${it.generated} drafts / ${judgeChunkSize}) = ${expectedJudge} judge calls expected ` +
            '(more: generate repair calls, at most one per batch, each one more latency on its path; fewer: drafts DROPped by the pre-judge without a call); the schedules count the measured calls',
        );
      }
      const waves = Math.ceil(genCalls / workers) + Math.ceil(Math.max(0, judgeCalls) / workers);
      const idealMs = waves * latency;
      const sequentialMs = it.calls_used_iter * latency + (Math.max(0, genCalls - 1) + Math.max(0, judgeCalls - 1)) * ORIGINAL_SLEEP_MS;
      overs.push(it.wall_ms / idealMs);
      speedups.push(sequentialMs / it.wall_ms);
      rows.push([
        r + 1,
        it.plan_size,
        it.generated,
        `${genCalls}+${judgeCalls}`,
        waves,
        secs(it.wall_ms),
        secs(idealMs),
        secs(sequentialMs),
        ratio(it.wall_ms / idealMs),
        ratio(sequentialMs / it.wall_ms),
        ratio((it.wall_ms - dispatchMs) / idealMs),
      ]);
    } finally {
      await redis.cleanup();
      vault.remove();
    }
  }
  console.log('');
  console.log(table(['run', 'cells', 'drafts', 'calls gen+rest', 'waves', 'ours s', 'ideal s', 'original s', 'ours/ideal', 'original/ours', '(ours-dispatch)/ideal'], rows));
  console.log('(ours-dispatch)/ideal: the same ratio without the dispatch step (writing the drafts and querying the near-duplicate index, which the host keeps up to date while generation runs)');
  const mid = median(overs);
  console.log('');
  console.log(`ours vs ideal critical path: median ${ratio(mid)} (${((mid - 1) * 100).toFixed(1)}% over), worst ${ratio(Math.max(...overs))} of ${runs}; ${goal(mid <= 1.15, 'within 15%')}`);
  console.log(`original sequential schedule vs ours: median ${ratio(median(speedups))} faster, worst ${ratio(Math.min(...speedups))}`);
}

await main();
