/**
 * Sentinel: a primary, a replica and three sentinels (`redis-server CONF --sentinel`) on loopback.
 * The run connects through `redis+sentinel://…/vlmaster`; the primary is SIGKILLed in the middle of
 * the run. The sentinels promote the replica, every connection asks them for the new primary and
 * reconnects, and the run finishes with every promise of the run holding (no cell generated twice,
 * every draft judged once, the budget never exceeded).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RunStore } from '../../src/state/run-state.js';
import { freshVault, spawnCli } from '../helpers/pipeline.js';
import { command, startSentinelSet } from '../helpers/redis-servers.js';
import { boundsArgs, collect, exited, fileRedisProcesses, proveRun, questionFiles, sleep, until, type RunBounds } from './checks.js';

const PORTS = { primary: 17030, replica: 17031, sentinels: [17032, 17033, 17034] };
const MASTER = 'vlmaster';
const RUN: RunBounds = { prefix: 'vl-heavy-sentinel', maxCalls: 40, maxIters: 2 };

const { procs, children, clients } = fileRedisProcesses();

describe('Redis Sentinel', () => {
  it('the primary killed mid-run: after failover the run finishes with nothing lost and nothing counted twice', async () => {
    await startSentinelSet(procs, PORTS, MASTER);
    const url = `redis+sentinel://${PORTS.sentinels.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER}`;
    const sentinelOptions = { sentinels: PORTS.sentinels.map((port) => ({ host: '127.0.0.1', port })), name: MASTER };
    const client = new Redis({ ...sentinelOptions, maxRetriesPerRequest: null });
    client.on('error', () => {});
    clients.push(client);
    const vault = await freshVault(300, 44);
    const before = questionFiles(vault);
    // prettier-ignore
    const child = spawnCli(['run', '--vault', vault, '--redis', url, ...boundsArgs(RUN), '--workers', '2', '--progress', 'none', '--lock-duration', '4000',
      '--gen-batch-size', '3', '--gen-calls-per-iter', '3', '--judge-chunk-size', '3', '--batch-window', '50',
      '--offline-latency', '400'],
      { VAULT_LOOP_LOG_LEVEL: 'error' });
    children.push(child);
    const log = collect(child);
    const runId = await until('the run id', 90_000, () => /run (\S+) started/.exec(log.err())?.[1]);
    const store = new RunStore(client, RUN.prefix);
    await until('calls in flight', 90_000, async () => ((await store.get(runId))?.callsUsed ?? 0) >= 3);
    await procs.kill(PORTS.primary);
    // The sentinels agree on the replica as the new primary.
    await until('failover', 90_000, async () => (await command(PORTS.sentinels[0]!, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER])).includes(String(PORTS.replica)));
    const code = await Promise.race([exited(child), sleep(180_000).then(() => -99)]);
    expect(code, log.err()).toBe(0);
    expect(log.err()).not.toMatch(/unexpected error/);
    const proof = await proveRun({ vault, runId, redis: client, before, ...RUN });
    process.stderr.write(`sentinel failover: ${proof}\n`);
  });
});
