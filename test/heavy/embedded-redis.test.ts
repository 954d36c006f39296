/**
 * No Redis and no network at all: the real CLI under `unshare -n` (a fresh network namespace, not
 * even a loopback interface up) cannot reach 127.0.0.1:6379, so it starts an embedded
 * `redis-server` from PATH on a unix socket in the vault's `.vault-loop/redis/`, runs the loop with
 * the offline provider (which needs no network), writes its records, and stops that server when
 * the command ends.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pingRedis } from '../../src/redis/index.js';
import { readJson, runDir } from '../../src/scheduler/records.js';
import { STOP } from '../../src/scheduler/steps.js';
import { freshVault, readRecords } from '../helpers/pipeline.js';
import { cliWithoutNetwork, embeddedServersKilledAfterAll, endChildren, redisServersFor, requireUnshare } from './checks.js';

const children: ChildProcess[] = [];
afterAll(() => endChildren(children));
/** redis-server processes this test saw for its vaults (killed at the end if a failure left them). */
const seenPids = embeddedServersKilledAfterAll();

describe('embedded Redis with no network', () => {
  it('with no network, the CLI starts an embedded redis-server on the vault’s .vault-loop/redis/redis.sock, completes an offline run, writes its records, and stops that server when the command ends', async () => {
    requireUnshare();
    // Inside the namespace nothing answers on 127.0.0.1:6379, even though a Redis does outside it.
    const probe = spawnSync(
      'unshare',
      ['-n', process.execPath, '-e', "const s=require('net').connect(6379,'127.0.0.1');s.on('connect',()=>{console.log('reachable');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})"],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout.trim()).not.toBe('reachable');

    const vault = await freshVault(300, 41);
    const redisDir = join(vault, '.vault-loop', 'redis');
    const sock = join(redisDir, 'redis.sock');
    expect(existsSync(redisDir)).toBe(false);

    // prettier-ignore
    const { out: output, exit } = cliWithoutNetwork(['run', '--vault', vault, '--max-iters', '1', '--max-calls', '20', '--gen-batch-size', '5', '--gen-calls-per-iter', '2',
      '--judge-chunk-size', '5', '--batch-window', '50', '--offline-latency', '300', '--variant-salt', 'embedded-redis', '--progress', 'plain'], vault, children);

    // While the command runs: its redis-server is a process naming the vault's folder, and the
    // socket answers (a unix socket is a file: reachable from outside the namespace).
    let running = false;
    const watch = (async () => {
      let done = false;
      void exit.then(() => (done = true));
      while (!done) {
        const pids = redisServersFor(redisDir);
        pids.forEach((p) => seenPids.add(p));
        if (pids.length > 0 && !running && (await pingRedis({ path: sock }, 500))) running = true;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const code = await exit;
    await watch;
    const out = output();

    expect(code, out).toBe(0);
    const said = new RegExp(`Redis at unix://${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(embedded redis-server, pid (\\d+)\\)`).exec(out);
    expect(said, `the CLI says it started an embedded Redis on ${sock}:\n${out}`).not.toBeNull();
    const pid = Number(said![1]);
    expect(seenPids.has(pid), `redis-server pid ${pid} was seen running for ${redisDir} (seen: ${[...seenPids].join(', ')})`).toBe(true);
    expect(running, 'the embedded Redis answered on its socket while the run went').toBe(true);
    // AOF on, in the vault's folder.
    expect(existsSync(join(redisDir, 'appendonlydir')) || existsSync(join(redisDir, 'appendonly.aof')), readdirSync(redisDir).join(', ')).toBe(true);

    // The run completed with the offline provider and wrote its records.
    const runId = /run (\S+) started/.exec(out)?.[1];
    expect(runId, out).toBeDefined();
    const rec = readRecords(vault, runId!);
    expect(rec.summary.status).toBe('completed');
    expect(rec.summary.stopped_reason).toBe(STOP.maxIters);
    expect(rec.summary.iterations).toBe(1);
    expect(rec.summary.calls_used_total).toBeGreaterThan(0);
    const it0 = rec.iters[0]!;
    expect(it0.record!.generated).toBeGreaterThan(0);
    expect(it0.judge!.n_judged + it0.judge!.unjudged.length).toBe(it0.record!.generated);
    for (const f of ['report.json', 'report.md', 'plan.json', 'judge_inputs.txt', 'judge_summary.json', 'iter_record.json']) expect(existsSync(join(it0.dir, f)), f).toBe(true);
    const runJson = readJson<{ generator: { provider: string }; judge: { provider: string } }>(join(runDir(vault, runId!), 'run.json'))!;
    expect(runJson.generator.provider).toBe('offline');
    expect(runJson.judge.provider).toBe('offline');
    expect(out).toContain('stopped: max iterations reached');

    // After the command: no redis-server for this folder is left, and the socket does not answer.
    expect(redisServersFor(redisDir)).toEqual([]);
    expect(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(redisDir)).toBe(false);
    expect(await pingRedis({ path: sock }, 500)).toBe(false);
  });
});
