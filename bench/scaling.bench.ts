/**
 * Horizontal scaling: `npm run bench -- scaling [--latency 300] [--cells 24] [--judge-chunk 4]
 * [--questions 300] [--max-workers 2]`.
 *
 * A corpus host without in-process workers (`run --no-workers`, here in the bench process) and 1,
 * then 2 `vault-loop worker` child processes, each with concurrency 1 and genBatchSize 1, so every
 * cell is one provider call and the work is latency-bound. The same plan size each time, a fresh
 * vault and prefix each time. Goal: two workers finish the iteration ≥ 1.8× faster than one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchConfig, benchRedis, benchVault, goal, intFlag, machineLine, openBenchHost, ratio, runOnce, secs, table, type BenchRedis } from './support/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Starts one `vault-loop worker` and resolves once it says it consumes its queues. */
async function startWorker(redis: BenchRedis): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'vault-loop.js'), 'worker', '--queues', 'generate,judge,render', '--concurrency', '1', '--gen-batch-size', '1', '--redis', redis.url, '--prefix', redis.prefix],
    { cwd: root, env: { ...process.env, VAULT_LOOP_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start in 60 s:\n${err}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('consuming')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with code ${code}:\n${err}`));
    });
  });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

interface Measured {
  workers: number;
  wallMs: number;
  runMs: number;
  calls: number;
  cells: number;
}

async function measure(nWorkers: number, o: { latency: number; cells: number; judgeChunk: number; questions: number }): Promise<Measured> {
  const redis = await benchRedis('scaling');
  const vault = await benchVault('scaling', o.questions, 7);
  const children: ChildProcess[] = [];
  try {
    const cfg = benchConfig(redis, vault.dir, {
      offlineLatencyMs: o.latency,
      genBatchSize: 1,
      genCallsPerIter: o.cells,
      judgeChunkSize: o.judgeChunk,
      maxIters: 1,
      maxCalls: 10_000,
      batchWindowMs: 20,
    });
    for (let i = 0; i < nWorkers; i++) children.push(await startWorker(redis));
    const host = await openBenchHost(redis, cfg, false);
    try {
      const out = await runOnce(host, cfg);
      const it = out.iters[0];
      if (!it || it.wall_ms === null) throw new Error(`run ${out.runId} recorded no iteration (stop reason: ${out.state.stopReason})`);
      return { workers: nWorkers, wallMs: it.wall_ms, runMs: out.runMs, calls: it.calls_used_iter, cells: it.plan_size };
    } finally {
      await host.close();
    }
  } finally {
    await Promise.all(children.map(stopWorker));
    await redis.cleanup();
    vault.remove();
  }
}

async function main(): Promise<void> {
  const o = { latency: intFlag('latency', 300), cells: intFlag('cells', 24), judgeChunk: intFlag('judge-chunk', 4), questions: intFlag('questions', 300) };
  const maxWorkers = Math.max(2, intFlag('max-workers', 2));
  console.log(machineLine());
  console.log(
    `setup: host with --no-workers + N \`vault-loop worker\` processes (concurrency 1, genBatchSize 1), offline provider ${o.latency} ms per call, ` +
      `${o.cells} cells, judgeChunkSize ${o.judgeChunk}, ${o.questions}-question synthetic vault`,
  );
  const results: Measured[] = [];
  for (let n = 1; n <= maxWorkers; n++) results.push(await measure(n, o));
  const one = results[0]!;
  console.log('');
  console.log(
    table(
      ['worker processes', 'cells', 'calls', 'iteration s', 'run s (incl. plan)', 'ideal s', 'speed-up vs 1'],
      results.map((r) => [r.workers, r.cells, r.calls, secs(r.wallMs), secs(r.runMs), secs(Math.ceil(r.calls / r.workers) * o.latency), ratio(one.wallMs / r.wallMs)]),
    ),
  );
  const two = results[1]!;
  console.log('');
  console.log(`two workers vs one: ${ratio(one.wallMs / two.wallMs)}; ${goal(one.wallMs / two.wallMs >= 1.8, '≥ 1.8x')}`);
}

await main();
