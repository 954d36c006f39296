/**
 * Redis faults: a spawned redis-server with AOF, restarted in the middle of a run (the run
 * completes with every promise kept), and stopped for longer than `redisDownTimeoutMs` (the CLI
 * says so plainly, exits non-zero, and leaves a vault that validates with no partial files and
 * its original questions byte-identical).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { validateVault } from '../../src/corpus/validate.js';
import { EmbeddedRedis, freePort } from '../../src/redis/index.js';
import { RunStore } from '../../src/state/run-state.js';
import { freshVault, spawnCli } from '../helpers/pipeline.js';
import { collect, endChildren, exited, proveRun, questionFiles, sleep, tempFiles, until } from './checks.js';

const children: ChildProcess[] = [];
const servers: EmbeddedRedis[] = [];
const clients: Redis[] = [];
afterAll(async () => {
  await endChildren(children);
  for (const c of clients) c.disconnect();
  for (const s of servers) await s.stop('SIGKILL').catch(() => {});
});

async function startRedis(dir: string, port: number): Promise<EmbeddedRedis> {
  const r = await EmbeddedRedis.start({ dir, mode: 'tcp', appendOnly: true, port });
  servers.push(r);
  return r;
}

const MAX_CALLS = 40;
const MAX_ITERS = 2;
const PREFIX = 'vl-heavy-redis';

function startRun(vault: string, port: number, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; log: ReturnType<typeof collect> } {
  const child = spawnCli(
    ['run', '--vault', vault, '--redis', `redis://127.0.0.1:${port}`, '--prefix', PREFIX, '--lock-duration', '2000', '--workers', '2', '--progress', 'none', '--json',
      '--max-iters', String(MAX_ITERS), '--max-calls', String(MAX_CALLS), '--gen-batch-size', '3', '--gen-calls-per-iter', '3', '--judge-chunk-size', '3', '--batch-window', '50',
      '--max-drop-rate', '1', '--offline-latency', '300', '--offline-defect-rate', '0.3'],
    { VAULT_LOOP_LOG_LEVEL: 'error', ...env },
  );
  children.push(child);
  return { child, log: collect(child) };
}

describe('Redis faults', () => {
  it('Redis restarted mid-run (AOF): the run completes and every promise holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vl-heavy-aof-'));
    const port = await freePort();
    let server = await startRedis(dir, port);
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
    client.on('error', () => {});
    clients.push(client);
    const vault = await freshVault(300, 31);
    const before = questionFiles(vault);
    const { child, log } = startRun(vault, port);
    const runId = await until('the run id', 90_000, () => /run (\S+) started/.exec(log.err())?.[1]);
    const store = new RunStore(client, PREFIX);
    // Restart while work is in flight: some calls made, the run not over.
    await until('calls in flight', 60_000, async () => ((await store.get(runId))?.callsUsed ?? 0) >= 3);
    await server.stop('SIGTERM');
    await sleep(2500);
    server = await startRedis(dir, port);
    const code = await Promise.race([exited(child), sleep(120_000).then(() => -99)]);
    expect(code, log.err()).toBe(0);
    await until('the client reconnected', 10_000, async () => (await client.ping().catch(() => '')) === 'PONG');
    const proof = await proveRun({ vault, runId, redis: client, prefix: PREFIX, before, maxCalls: MAX_CALLS, maxIters: MAX_ITERS });
    process.stderr.write(`redis restart: ${proof}\n`);
  });

  it('Redis gone longer than redisDownTimeoutMs: a plain message, a non-zero exit, an intact vault (original questions byte-identical)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vl-heavy-aof-'));
    const port = await freePort();
    const server = await startRedis(dir, port);
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    client.on('error', () => {});
    clients.push(client);
    const vault = await freshVault(300, 32);
    // The vault's own questions, byte for byte, to compare after the CLI gives up.
    const original = new Map(questionFiles(vault).map((f) => [f, readFileSync(join(vault, f))]));
    expect(original.size).toBe(300);
    const { child, log } = startRun(vault, port, { VAULT_LOOP_REDIS_DOWN_TIMEOUT_MS: '3000' });
    const runId = await until('the run id', 90_000, () => /run (\S+) started/.exec(log.err())?.[1]);
    const store = new RunStore(client, PREFIX);
    await until('calls in flight', 60_000, async () => ((await store.get(runId))?.callsUsed ?? 0) >= 3);
    client.disconnect();
    await server.stop('SIGKILL');
    const t0 = Date.now();
    const code = await Promise.race([exited(child), sleep(60_000).then(() => -99)]);
    const took = Date.now() - t0;
    expect(code, log.err()).not.toBe(0);
    expect(code, `the CLI did not exit within 60 s of losing Redis:\n${log.err()}`).not.toBe(-99);
    expect(took).toBeGreaterThanOrEqual(3000);
    expect(log.err()).toMatch(new RegExp(`lost Redis at redis://127\\.0\\.0\\.1:${port}/? for more than 3 s`));
    expect(log.err()).toContain(`--resume ${runId}`);
    expect(log.err()).not.toMatch(/unexpected error|\n\s+at /);
    // The vault: every file parses and validates, no temp files of interrupted writes.
    expect(tempFiles(vault)).toEqual([]);
    const v = await validateVault(vault);
    expect(v.problems.filter((p) => p.severity === 'error')).toEqual([]);
    // Every original question is still there, unchanged; every other question file is a new draft:
    // a freshly minted id (none of the originals'), named after its file, in its track's folder.
    const after = questionFiles(vault);
    for (const [f, bytes] of original) {
      expect(after, f).toContain(f);
      expect(readFileSync(join(vault, f)).equals(bytes), `${f} byte-identical`).toBe(true);
    }
    const originalIds = new Set([...original.keys()].map((f) => basename(f, '.yaml')));
    for (const f of after.filter((x) => !original.has(x))) {
      const doc = parseYaml(readFileSync(join(vault, f), 'utf8')) as { id: string; track: string };
      expect(f).toBe(`questions/${doc.track}/${f.split('/')[2]}/${doc.id}.yaml`);
      expect(doc.id).toMatch(new RegExp(`^${doc.track}-\\d+$`));
      expect(originalIds.has(doc.id), f).toBe(false);
    }
  });
});
