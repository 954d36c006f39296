/**
 * Never hang on Redis: a server that accepts and never answers, one that speaks HTTP, a Redis
 * that is gone, and a Redis that stops answering in the middle of a run. Each command ends,
 * non-zero, with one line saying which; SIGTERM ends a run whose Redis went silent.
 */
import { createServer as createHttpServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { freshVault, runCli, spawnCli } from '../helpers/pipeline.js';
import { collect, exited, fileRedisProcesses, listening, neverAnswering, sleep, until } from './checks.js';

const SILENT_PORT = 17050;
const HTTP_PORT = 17051;
const STOPPED_PORT = 17052;
const GONE_PORT = 17053;
const ENV = { VAULT_LOOP_REDIS_TIMEOUT_MS: '2000', VAULT_LOOP_LOG_LEVEL: 'warn' };

const { procs, children, servers } = fileRedisProcesses();

/** The output's lines that are not empty. */
const lines = (out: string): string[] => out.split('\n').filter((l) => l.trim() !== '');

describe('never hang on Redis', () => {
  it('a server that accepts and never answers: run and status end non-zero with "did not answer within 2 s"', async () => {
    servers.push(await neverAnswering(SILENT_PORT));
    const vault = await freshVault(30, 51);
    const url = `redis://127.0.0.1:${SILENT_PORT}`;
    for (const args of [['run', '--vault', vault, '--progress', 'none'], ['status']]) {
      const r = await runCli([...args, '--redis', url], ENV, children);
      expect(r.code, r.out).toBe(1);
      expect(lines(r.out)).toEqual([`vault-loop: Redis at ${url} did not answer within 2 s`]);
    }
  }, 120_000);

  it('a server that speaks HTTP: "is not a Redis server"', async () => {
    servers.push(await listening(createHttpServer((_, res) => res.end('hello')), HTTP_PORT));
    const vault = await freshVault(30, 52);
    const url = `redis://127.0.0.1:${HTTP_PORT}`;
    for (const args of [['run', '--vault', vault, '--progress', 'none'], ['status']]) {
      const r = await runCli([...args, '--redis', url], ENV, children);
      expect(r.code, r.out).toBe(1);
      expect(lines(r.out)).toEqual([`vault-loop: ${url} is not a Redis server (it answered in another protocol)`]);
    }
  }, 120_000);

  it('a Redis that is gone: run and status say nothing listens there', async () => {
    await procs.startPlain(GONE_PORT);
    await procs.kill(GONE_PORT);
    const vault = await freshVault(30, 53);
    const url = `redis://127.0.0.1:${GONE_PORT}`;
    for (const args of [['run', '--vault', vault, '--progress', 'none'], ['status']]) {
      const r = await runCli([...args, '--redis', url], ENV, children);
      expect(r.code, r.out).toBe(1);
      expect(lines(r.out)).toEqual([`vault-loop: Redis at ${url} refused the connection (nothing listens there)`]);
    }
  }, 120_000);

  it('Redis stops answering mid-run (SIGSTOP): SIGTERM still ends the run, non-zero, saying so', async () => {
    await procs.startPlain(STOPPED_PORT);
    const vault = await freshVault(200, 54);
    // prettier-ignore
    const child = spawnCli(['run', '--vault', vault, '--redis', `redis://127.0.0.1:${STOPPED_PORT}`, '--prefix', 'vl-heavy-hang', '--progress', 'none',
      '--max-iters', '3', '--max-calls', '40', '--gen-batch-size', '3', '--gen-calls-per-iter', '3', '--offline-latency', '500'],
      // The down-timeout far away: only the signal can end this run.
      { ...ENV, VAULT_LOOP_REDIS_DOWN_TIMEOUT_MS: '3600000' });
    children.push(child);
    const log = collect(child);
    await until('the run started', 90_000, () => /run \S+ started/.test(log.err()));
    procs.signal(STOPPED_PORT, 'SIGSTOP');
    // Let the run's next Redis calls hang, then ask it to stop.
    await sleep(3000);
    child.kill('SIGTERM');
    const code = await exited(child);
    expect(code, log.err()).not.toBe(0);
    expect(log.err()).toMatch(/SIGTERM: stopping this host gracefully/);
    expect(log.err()).not.toMatch(/unexpected error/);
    // Warnings about the silent Redis are rate-limited: a handful, not thousands.
    expect(log.err().split('\n').length).toBeLessThan(200);
  }, 180_000);
});
