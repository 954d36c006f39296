/**
 * Redis Cluster from any node: a real 3-master cluster on loopback, `--redis` naming a node that
 * does NOT own the prefix's slot. vault-loop detects cluster mode and speaks cluster on every
 * connection (BullMQ's included), so a whole loop runs and every promise of the run holds.
 */
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freshVault, spawnCli } from '../helpers/pipeline.js';
import { ownerOf, startCluster } from '../helpers/redis-servers.js';
import { boundsArgs, collect, exited, fileRedisProcesses, proveRun, questionFiles, sleep, type RunBounds } from './checks.js';

const PORTS = [17010, 17011, 17012];
const BUS_PORTS = [17020, 17021, 17022];
const RUN: RunBounds = { prefix: 'vl-heavy-cluster', maxCalls: 30, maxIters: 2 };

const { procs, children, clients } = fileRedisProcesses();

describe('Redis Cluster', () => {
  it('a whole loop through a node that does not own the prefix slot: cluster mode detected, every promise of the run holds', async () => {
    await startCluster(procs, PORTS, BUS_PORTS);
    const owner = await ownerOf(PORTS[0]!, `{${RUN.prefix}}`);
    const other = PORTS.find((p) => p !== owner)!;
    const vault = await freshVault(200, 41);
    const before = questionFiles(vault);
    // prettier-ignore
    const child = spawnCli(['run', '--vault', vault, '--redis', `redis://127.0.0.1:${other}`, ...boundsArgs(RUN), '--workers', '2', '--progress', 'none',
      '--gen-batch-size', '3', '--gen-calls-per-iter', '2', '--judge-chunk-size', '3', '--batch-window', '50'],
      { VAULT_LOOP_LOG_LEVEL: 'error' });
    children.push(child);
    const log = collect(child);
    const code = await Promise.race([exited(child), sleep(180_000).then(() => -99)]);
    expect(code, log.err()).toBe(0);
    expect(log.err()).toContain(`Redis at redis://127.0.0.1:${other} (cluster)`);
    expect(log.err()).not.toMatch(/MOVED|unexpected error/);
    const runId = /run (\S+) started/.exec(log.err())![1]!;
    const cluster = new Cluster([{ host: '127.0.0.1', port: other }]);
    clients.push(cluster);
    const proof = await proveRun({ vault, runId, redis: cluster, before, ...RUN });
    process.stderr.write(`cluster via non-owner node ${other} (owner ${owner}): ${proof}\n`);
  });
});
