/**
 * Orchestration overhead: `npm run bench -- overhead [--cells 5000] [--workers 4] [--questions 17000]`.
 *
 * Zero provider latency, one iteration of `--cells` cells (genBatchSize 200, judgeChunkSize 200,
 * maxCalls large), so what is left is the pipeline itself: flows, job state, draft files, checks,
 * records. Compared, in the same run and on the same Redis, with raw BullMQ: a Queue and a Worker
 * with a no-op processor, the same job count, the same concurrency as our generate worker and the
 * same removal options. Redis memory (INFO used_memory) is read before the run and after it ended:
 * the growth is bounded by the removal limits (src/queues/define.ts KEEP_COMPLETED / KEEP_FAILED),
 * which the bench checks on every queue's retained job counts.
 */
import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { generateQueue, KEEP_COMPLETED, KEEP_FAILED } from '../src/queues/index.js';
import { bullPrefix } from '../src/redis/index.js';
import { benchConfig, benchRedis, benchVault, goal, intFlag, jobTimes, machineLine, openBenchHost, phases, phaseTable, ratio, runOnce, secs, table, usedMemory, type BenchRedis, type Phase } from './support/index.js';

const GEN_BATCH = 200;
const JUDGE_CHUNK = 200;

const rawPrefix = (redis: BenchRedis): string => `${redis.prefix}-raw`;

/** Raw BullMQ: `n` no-op jobs through one Queue and one Worker; ms from the first add to the last completion. */
async function rawBullmq(redis: BenchRedis, n: number, concurrency: number): Promise<number> {
  const prefix = bullPrefix(rawPrefix(redis));
  const connection = redis.options as ConnectionOptions;
  const queue = new Queue('raw', { connection, prefix, defaultJobOptions: { removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED } });
  let done = 0;
  let resolveDone!: () => void;
  const allDone = new Promise<void>((r) => (resolveDone = r));
  const worker = new Worker('raw', async () => null, { connection, prefix, concurrency, autorun: false });
  worker.on('completed', () => {
    if (++done === n) resolveDone();
  });
  worker.on('error', () => {});
  queue.on('error', () => {});
  try {
    await worker.waitUntilReady();
    const t0 = performance.now();
    void worker.run();
    // The same shape of adding as a flow's children: one round trip per batch of jobs.
    for (let i = 0; i < n; i += 1000) await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })));
    await allDone;
    return performance.now() - t0;
  } finally {
    await worker.close();
    await queue.close();
  }
}

async function main(): Promise<void> {
  const cells = intFlag('cells', 5000);
  const workers = intFlag('workers', 4);
  // The balanced planner plans only what the vault lacks: a 17,000-question synthetic vault lacks
  // a little over 5,000 cells (15,000 → 4,546).
  const questions = intFlag('questions', 17000);
  const genCallsPerIter = Math.ceil(cells / GEN_BATCH);
  const concurrency = workers * GEN_BATCH;
  console.log(machineLine());
  console.log(`setup: offline provider, 0 ms latency, one iteration of ${genCallsPerIter * GEN_BATCH} cells (genBatchSize ${GEN_BATCH}, judgeChunkSize ${JUDGE_CHUNK}), workers ${workers} (generate worker concurrency ${concurrency}), ${questions}-question synthetic vault`);

  const redis = await benchRedis('overhead');
  const vault = await benchVault('overhead', questions, 3);
  try {
    const rawMs = await rawBullmq(redis, genCallsPerIter * GEN_BATCH, concurrency);
    await redis.deleteKeys(`*${rawPrefix(redis)}*`);

    const cfg = benchConfig(redis, vault.dir, {
      offlineLatencyMs: 0,
      workers,
      genBatchSize: GEN_BATCH,
      genCallsPerIter,
      judgeChunkSize: JUDGE_CHUNK,
      maxIters: 1,
      maxCalls: 100_000,
      batchWindowMs: 50,
    });
    const memBefore = await usedMemory(redis.client);
    const host = await openBenchHost(redis, cfg, true);
    let out;
    let retained: (string | number)[][] = [];
    let bounded = true;
    let stages: Phase[] = [];
    try {
      out = await runOnce(host, cfg, 30 * 60_000);
      stages = phases(await jobTimes(host.queues.all));
      console.log(`\nwhere the iteration's time went (ms from adding the generate flow)`);
      console.log(phaseTable(stages));
      const counts = await host.jobCounts();
      retained = Object.entries(counts).map(([q, c]) => {
        const ok = (c.completed ?? 0) <= KEEP_COMPLETED.count && (c.failed ?? 0) <= KEEP_FAILED.count;
        bounded &&= ok;
        return [q, c.completed ?? 0, c.failed ?? 0, c.waiting ?? 0, ok ? 'yes' : 'NO'];
      });
    } finally {
      await host.close();
    }
    const memAfter = await usedMemory(redis.client);
    let keys = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.client.scan(cursor, 'MATCH', `*${redis.prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys += found.length;
    } while (cursor !== '0');
    const it = out.iters[0];
    if (!it || it.wall_ms === null) throw new Error(`run ${out.runId} recorded no iteration (stop reason: ${out.state.stopReason})`);

    if (it.plan_size < genCallsPerIter * GEN_BATCH) console.log(`note: the planner returned ${it.plan_size} cells, fewer than ${genCallsPerIter * GEN_BATCH} (a larger --questions vault lacks more)`);
    const oursPerSec = it.plan_size / (it.wall_ms / 1000);
    const rawPerSec = (genCallsPerIter * GEN_BATCH) / (rawMs / 1000);
    // The generate stage alone: one BullMQ job per cell, like the raw baseline, plus batching and the provider stack.
    const genMs = stages.find((p) => p.name.startsWith('generate'))?.ms ?? NaN;
    const genPerSec = it.plan_size / (genMs / 1000);
    console.log('');
    console.log(
      table(
        ['what', 'jobs / cells', 'seconds', 'per second'],
        [
          ['raw BullMQ no-op jobs', genCallsPerIter * GEN_BATCH, secs(rawMs), rawPerSec.toFixed(0)],
          ['vault-loop generate stage (cell jobs → validated drafts)', it.plan_size, secs(genMs), genPerSec.toFixed(0)],
          ['vault-loop iteration (cells → drafts → judged → applied)', it.plan_size, secs(it.wall_ms), oursPerSec.toFixed(0)],
          ['vault-loop whole run (incl. analysis, plan)', it.plan_size, secs(out.runMs), (it.plan_size / (out.runMs / 1000)).toFixed(0)],
        ],
      ),
    );
    console.log(`drafts written: ${it.generated}; provider calls: ${it.calls_used_iter}; verdicts applied: ${it.applied.dropped + it.applied.kept_pass + it.applied.kept_needs_fix}`);
    console.log(`generate stage / raw BullMQ throughput: ${ratio(genPerSec / rawPerSec)} (${(rawPerSec / genPerSec).toFixed(1)}x slower than no-op jobs)`);
    console.log(`whole iteration / raw BullMQ throughput: ${ratio(oursPerSec / rawPerSec)} (${(rawPerSec / oursPerSec).toFixed(1)}x slower than no-op jobs)`);
    console.log('');
    console.log(`retained jobs after the run (limits: completed ≤ ${KEEP_COMPLETED.count}, failed ≤ ${KEEP_FAILED.count} per queue)`);
    console.log(table(['queue', 'completed', 'failed', 'waiting', 'within limits'], retained));
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    console.log(`Redis used_memory: before ${mb(memBefore)}, after ${mb(memAfter)}, growth ${mb(memAfter - memBefore)} in ${keys} keys of this prefix (the Redis is shared: other clients move this figure too)`);
    console.log(`memory bounded by the removal limits: ${goal(bounded, `every queue within KEEP_COMPLETED/KEEP_FAILED; ${generateQueue.name} kept ${retained.find((r) => r[0] === 'generate')?.[1] ?? '?'} of ${it.plan_size}`)}`);
  } finally {
    await redis.cleanup();
    vault.remove();
  }
}

await main();
