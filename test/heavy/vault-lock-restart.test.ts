/**
 * One host per real vault, with real processes: a second host on another Redis server (or through
 * a symlinked path) is refused while the first runs; a host SIGKILLed mid-run and restarted at once
 * with --resume (as a supervisor does) takes the dead host's lock over and finishes the run; a
 * --resume started while a live host holds the vault waits, says for what and how long, and gives up.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedRedis } from '../../src/redis/index.js';
import { freshVault, spawnCli, startCli } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';
import { collect, endChildren, exited, until } from './checks.js';

const redis = fileRedis('vault-lock-restart');
let second: EmbeddedRedis;
const children: ChildProcess[] = [];
beforeAll(async () => {
  // A second, separate Redis server on this suite's port range.
  second = await EmbeddedRedis.start({ dir: mkdtempSync(join(tmpdir(), 'vl-lock-redis-')), mode: 'tcp', port: 17100 + (process.pid % 100), appendOnly: false });
});
afterAll(async () => {
  await endChildren(children);
  await second?.stop();
});

describe('vault lock across processes', () => {
  it('refuses a second host on another Redis server; a restart right after SIGKILL takes over; a live host is never joined', async () => {
    const vault = await freshVault(80, 5);
    const alias = join(mkdtempSync(join(tmpdir(), 'vl-alias-')), 'alias');
    symlinkSync(vault, alias);
    const common = ['--redis', redis.url, '--prefix', redis.prefix, '--lock-duration', '1500'];
    const env = { VAULT_LOOP_LOG_LEVEL: 'error' };
    const runArgs = ['--vault', vault, '--progress', 'none', '--workers', '1', '--max-iters', '30', '--max-calls', '400', '--gap-threshold', '0', '--gen-batch-size', '2', '--gen-calls-per-iter', '3', '--judge-chunk-size', '2', '--offline-latency', '3000', '--max-drop-rate', '1', ...common];

    let host = spawnCli(['run', ...runArgs], env);
    children.push(host);
    let log = collect(host);
    const runId = await until('the run id', 90_000, () => /run (\S+) started/.exec(log.err())?.[1]);

    // Another Redis server, another prefix, the symlinked path: still the same vault.
    const promote = startCli(['promote', '--vault', alias], env, children);
    const other = startCli(['run', '--vault', alias, '--progress', 'none', '--redis', `redis://127.0.0.1:${second.options.port}`, '--prefix', 'elsewhere'], env, children);
    expect(await promote.exit).toBe(1);
    expect(promote.out()).toMatch(/vault .* is locked by `vault-loop run` \(pid \d+ on /);
    expect(await other.exit).toBe(1);
    expect(other.out()).toMatch(/is locked by `vault-loop run`/);
    // The first host was alive all along: the refusals were the lock's doing.
    expect(host.exitCode).toBeNull();

    // A --resume while the host lives: it waits (saying for what, at most how long), then gives up.
    const intruder = startCli(['run', ...runArgs, '--resume', runId, '--lock-wait', '3000'], env, children);
    const intruderExit = await intruder.exit;
    expect({ intruderExit, hostAlive: host.exitCode === null }).toEqual({ intruderExit: 1, hostAlive: true });
    expect(intruder.out()).toMatch(/waiting for it to end or for its heartbeat to go stale \(15 s without one\), at most 3 s/);
    expect(intruder.out()).toMatch(/is locked by `vault-loop run`/);
    expect(host.exitCode).toBeNull();

    // SIGKILL the host mid-run and restart it at once, as a supervisor would: it takes the dead host's lock over.
    host.kill('SIGKILL');
    await exited(host);
    host = spawnCli(['run', ...runArgs, '--resume', runId], env);
    children.push(host);
    log = collect(host);
    await until('the resumed host', 60_000, () => /resuming run/.test(log.err()));
    // The resumed host runs the run (no lock error, no wait for a process known dead); stop it gracefully.
    await until('a progress line of the resumed host', 60_000, () => host.exitCode === null && /resuming run/.test(log.err()));
    expect(log.err()).not.toMatch(/locked by|lost the lock/);
    host.kill('SIGTERM');
    expect(await exited(host)).toBe(130);
  }, 480_000);
});
