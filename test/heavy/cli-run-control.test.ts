/**
 * Steering a run through the CLI, a whole run in a child process each: Ctrl-C or SIGTERM then
 * `--resume`, a second Ctrl-C, `--dashboard`, status / pause / resume / stop / retry from another
 * terminal, and the demo. (One whole run, the judge flags and the CLI's errors:
 * test/redis/cli-run.redis.test.ts.)
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fileRedis } from '../helpers/redis.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { createQueues } from '../../src/queues/index.js';
import { runDir } from '../../src/scheduler/records.js';
import { RunStore } from '../../src/state/run-state.js';
import { freshVault, readRecords, runCli, startCli } from '../helpers/pipeline.js';

const children: ChildProcess[] = [];
const redis = fileRedis('cli', { children });
const start = (args: string[], env: NodeJS.ProcessEnv = {}) => startCli(args, env, children);

const conn = () => ['--redis', redis.url, '--prefix', redis.prefix];
const small = ['--gen-batch-size', '4', '--gen-calls-per-iter', '2', '--judge-chunk-size', '4', '--batch-window', '50'];

const cli = (args: string[]) => runCli(args, {}, children);

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('vault-loop run (CLI): signals, resume, control from another process, demo', () => {

  // SIGTERM is what `docker stop` sends: the same graceful path as Ctrl-C.
  it.each([
    ['SIGINT', 32],
    ['SIGTERM', 35],
  ] as const)('%s stops the host gracefully; `run --resume RUN` finishes the same run', async (signal, seed) => {
    const vault = await freshVault(300, seed);
    const p = start(['run', '--vault', vault, '--max-iters', '3', '--max-calls', '60', '--offline-latency', '300', '--progress', 'plain', ...small, ...conn()]);
    await until(() => /run (\S+) started/.test(p.out()) && /generate/.test(p.out()), 'the run to start generating');
    const runId = /run (\S+) started/.exec(p.out())![1]!;
    p.child.kill(signal);
    const code = await p.exit;
    expect(code, p.out()).toBe(130);
    expect(p.out()).toContain(`vault-loop run --vault ${vault} --resume ${runId}`);
    const status = await cli(['status', runId, '--json', ...conn()]);
    expect(JSON.parse(status.out).status).toBe('running');
    const resumed = await cli(['run', '--vault', vault, '--resume', runId, '--progress', 'none', ...conn()]);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toContain(`resuming run ${runId}`);
    const rec = readRecords(vault, runId);
    expect(rec.summary.stopped_reason).toBe('max iterations reached');
    expect(rec.summary.iterations).toBe(3);
  });

  it('a second Ctrl-C forces the host down at once', async () => {
    const vault = await freshVault(300, 34);
    const p = start(['run', '--vault', vault, '--max-iters', '50', '--max-calls', '500', '--offline-latency', '600000', '--progress', 'plain', ...small, ...conn()]);
    await until(() => /run (\S+) started/.test(p.out()) && /iter \d+ \(max 50\) {2}generate {2}/.test(p.out()), 'generation to be under way');
    p.child.kill('SIGINT');
    await until(() => p.out().includes('stopping this host gracefully'), 'the graceful stop to begin');
    p.child.kill('SIGINT');
    // Forced: it does not wait for the provider calls in flight (10 minutes each) to finish.
    expect(await p.exit).toBe(130);
    expect(p.out()).toContain('vault-loop: forced exit');
  });

  it('run --dashboard serves the dashboard for the run, on the same Redis, until the run ends', async () => {
    const vault = await freshVault(300, 35);
    const p = start(['run', '--vault', vault, '--dashboard', '--max-iters', '2', '--max-calls', '40', '--offline-latency', '300', '--progress', 'plain', ...small, ...conn()], { VAULT_LOOP_DASHBOARD_PORT: '0' });
    await until(() => /dashboard at (http:\/\/127\.0\.0\.1:\d+)/.test(p.out()) && /run (\S+) started/.test(p.out()), 'the dashboard and the run');
    const url = /dashboard at (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out())![1]!;
    const runId = /run (\S+) started/.exec(p.out())![1]!;
    const { runs } = (await (await fetch(`${url}/api/runs`)).json()) as { runs: { runId: string }[] };
    expect(runs.map((r) => r.runId)).toContain(runId);
    expect((await fetch(`${url}/queues`)).status).toBe(200);
    expect(await p.exit).toBe(0);
    // Closed with the run.
    await expect(fetch(`${url}/api/runs`)).rejects.toThrow();
  });

  it('`status RUN` of a run still going shows the iterations it closed, in a table at most 80 columns wide', async () => {
    const vault = await freshVault(300, 34);
    const p = start(['run', '--vault', vault, '--max-iters', '500', '--max-calls', '5000', '--gap-threshold', '0', '--offline-latency', '300', '--progress', 'plain', ...small, ...conn()]);
    await until(() => /run (\S+) started/.test(p.out()), 'the run to start');
    const runId = /run (\S+) started/.exec(p.out())![1]!;
    await until(() => existsSync(join(runDir(vault, runId), 'iter_00', 'iter_record.json')), 'iteration 0 to close', 60_000);
    // Paused, so that it is still going when status looks.
    expect((await cli(['pause', runId, ...conn()])).out).toContain(`run ${runId}: paused`);
    const status = await cli(['status', runId, ...conn()]);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toMatch(/^iter\s+top cell\s+prio\s+plan\s+gen\s+PASS/m);
    expect(status.out).toMatch(/^0\s+\S+\/\S+\/\S+\s+[\d.]+\s+\d+/m);
    expect(status.out).toContain(`run ${runId}: running (no loop_summary.json until it ends)`);
    expect(status.out.split('\n').filter((l) => l.length > 80)).toEqual([]);
    expect((await cli(['stop', runId, ...conn()])).out).toMatch(new RegExp(`run ${runId}: (stopping|stopped)`));
    expect(await p.exit, p.out()).toBe(0);
  });

  it('status, pause, resume and stop from another process', async () => {
    const vault = await freshVault(300, 33);
    // Long enough to outlast the test's own pace on a loaded machine: no gap threshold, many iterations.
    const p = start(['run', '--vault', vault, '--max-iters', '500', '--max-calls', '5000', '--gap-threshold', '0', '--offline-latency', '300', '--progress', 'plain', ...small, ...conn()]);
    await until(() => /run (\S+) started/.test(p.out()), 'the run to start');
    const runId = /run (\S+) started/.exec(p.out())![1]!;
    expect((await cli(['pause', runId, ...conn()])).out).toContain(`run ${runId}: paused`);
    const paused = JSON.parse((await cli(['status', runId, '--json', ...conn()])).out);
    expect(paused.status).toBe('paused');
    // While paused, no new calls start: once the calls in flight have settled, the count stays put.
    // Polled from the run's state in Redis (what `status --json` prints), not by a process per look.
    const store = new RunStore(redis.client, redis.prefix);
    let before = -1;
    for (let i = 0; i < 100; i++) {
      const s = (await store.get(runId))!;
      if (s.callsReserved === 0 && s.callsUsed === before) break;
      before = s.callsReserved === 0 ? s.callsUsed : -1;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(before).toBeGreaterThanOrEqual(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect(JSON.parse((await cli(['status', runId, '--json', ...conn()])).out).callsUsed).toBe(before);
    const list = await cli(['status', ...conn()]);
    expect(list.out).toMatch(new RegExp(`${runId}\\s+paused`));
    expect((await cli(['resume', runId, ...conn()])).out).toContain(`run ${runId}: running`);
    expect((await cli(['stop', runId, ...conn()])).out).toMatch(new RegExp(`run ${runId}: (stopping|stopped)`));
    const code = await p.exit;
    expect(code, p.out()).toBe(0);
    expect(p.out()).toContain('stopped: stopped by user');
    const again = await cli(['stop', runId, ...conn()]);
    expect(again.code).toBe(1);
    expect(again.out).toContain('has already ended');
    // Judge chunks the stop cut short are failed jobs now; retry takes exactly those of this run.
    const queues = createQueues({ connection: redis.options as ConnectionOptions, prefix: redis.prefix });
    try {
      const failed = (await queues.judge.getFailed(0, -1)).filter((j) => (j.data as { runId: string }).runId === runId).length;
      // --no-apply: only the re-enqueueing is under test here (judging them is pipeline-apply's).
      const retry = await cli(['retry', '--queue', 'judge', '--run', runId, '--no-apply', ...conn()]);
      expect(retry.code).toBe(0);
      expect(retry.out).toContain(`retried ${failed} failed judge job(s) of run ${runId}`);
      const left = (await queues.judge.getFailed(0, -1)).filter((j) => (j.data as { runId: string }).runId === runId);
      expect(left).toEqual([]);
    } finally {
      await queues.close();
    }
  });

  it('demo: a complete loop on a fresh synthetic vault, and where its records are', async () => {
    // A prefix of its own: the judge jobs the stop test above re-enqueued stay out of the demo's queues.
    const r = await cli(['demo', '--questions', '400', '--max-iters', '2', '--offline-latency', '0', '--redis', redis.url, '--prefix', `${redis.prefix}-demo`]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/writing a synthetic vault of 400 questions/);
    expect(r.out).toMatch(/records: \S+_validation_results\/coverage_loop/);
    expect(r.out).toMatch(/run \S+: completed, stopped: /);
  });
});
