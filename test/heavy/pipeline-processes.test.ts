/**
 * Horizontal workers: stateless `vault-loop worker` processes against one Redis, a corpus host
 * without in-process workers, and a budget that holds across processes.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FakeLlmServer, type Step } from '../helpers/fake-llm/index.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, offlineAnswerer, openHost, readRecords, spawnCli, testConfig } from '../helpers/pipeline.js';

const children: ChildProcess[] = [];
const redis = fileRedis('procs', { children });

function collect(child: ChildProcess): { out: () => string } {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { out: () => out };
}

const exited = (c: ChildProcess) => new Promise<number>((res) => (c.exitCode !== null ? res(c.exitCode) : c.once('exit', (code) => res(code ?? -1))));

async function stopWorkers(workers: ChildProcess[]): Promise<void> {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map(exited));
}

describe('processes', () => {
  it('`run --no-workers` with two `vault-loop worker` processes finishes the run', async () => {
    const vault = await freshVault(300, 11);
    const common = ['--redis', redis.url, '--prefix', redis.prefix];
    const workers = [0, 1].map(() => spawnCli(['worker', '--queues', 'generate,judge,render', '--concurrency', '2', ...common]));
    children.push(...workers);
    const logs = workers.map(collect);
    const run = spawnCli(['run', '--vault', vault, '--no-workers', '--max-iters', '2', '--max-calls', '40', '--gen-batch-size', '5', '--gen-calls-per-iter', '2', '--judge-chunk-size', '5', '--batch-window', '50', '--progress', 'plain', '--json', ...common]);
    children.push(run);
    const runLog = collect(run);
    const code = await exited(run);
    await stopWorkers(workers);
    expect(code, runLog.out()).toBe(0);
    const summary = JSON.parse(runLog.out().slice(runLog.out().indexOf('{\n'))) as { run_id: string; stopped_reason: string; iterations: number };
    expect(summary.stopped_reason).toBe('max iterations reached');
    expect(summary.iterations).toBe(2);
    const rec = readRecords(vault, summary.run_id);
    expect(rec.summary.history.every((h) => h.generated > 0)).toBe(true);
    // Both worker processes started and stopped cleanly.
    for (const l of logs) expect(l.out()).toContain('consuming generate, judge, render');
  });

  it('eight concurrent workers in two processes never exceed maxCalls (counted on the provider side)', async () => {
    const vault = await freshVault(300, 12);
    const server = await FakeLlmServer.start({ protocol: 'openai', apiKey: 'sk-test', answer: await offlineAnswerer(12) });
    // Every other request fails: retries want far more calls than the budget has.
    const steps: Step[] = [];
    for (let i = 0; i < 200; i++) steps.push(i % 2 === 0 ? { type: 'error', status: 500, message: 'flaky' } : { type: 'answer', delayMs: 30 });
    server.script(...steps);
    const maxCalls = 9;
    const cfg = testConfig(redis, vault, { provider: 'openai', model: 'gen-model', baseUrl: server.baseUrl, openaiApiKey: 'sk-test', maxCalls, maxIters: 5, genBatchSize: 1, genCallsPerIter: 20, judgeChunkSize: 5 });
    const host = await openHost(redis, cfg, false);
    const common = ['--redis', redis.url, '--prefix', redis.prefix];
    const workers = [0, 1].map(() => spawnCli(['worker', '--queues', 'generate,judge,render', '--concurrency', '4', '--gen-batch-size', '1', ...common], { OPENAI_API_KEY: 'sk-test' }));
    children.push(...workers);
    const runId = await host.startRun(cfg);
    const state = await host.waitForRun(runId, undefined, undefined, 100);
    await stopWorkers(workers);
    await host.close();
    await server.close();
    expect(server.violations).toEqual([]);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.length).toBeLessThanOrEqual(maxCalls);
    expect(state.callsUsed).toBeLessThanOrEqual(maxCalls);
    expect(state.stopReason).toBe('budget exhausted');
    expect(readRecords(vault, runId).summary.calls_used_total).toBe(state.callsUsed);
  });
});
