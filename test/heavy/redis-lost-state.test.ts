/**
 * A Redis that lost its data mid-run: a real redis-server without persistence, killed while a run
 * is in its second iteration and started again, empty, on the same port. The run ends non-zero
 * saying Redis lost its state (not "no answer"), run.json says interrupted with the reason and how to
 * go on, the open iteration lists the drafts it left unjudged, and `--resume` of that run says
 * plainly why it cannot continue. A `--resume` of an id that was never a run is a clear error too.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { iterDir, readJson, runDir } from '../../src/scheduler/records.js';
import { freshVault, runCli, spawnCli } from '../helpers/pipeline.js';
import { collect, exited, fileRedisProcesses, sleep, until } from './checks.js';

const PORT = 17062;
const URL_ = `redis://127.0.0.1:${PORT}`;
const PREFIX = 'vl-heavy-lost';
const ENV = { VAULT_LOOP_REDIS_TIMEOUT_MS: '2000', VAULT_LOOP_LOG_LEVEL: 'error' };

const { procs, children } = fileRedisProcesses();

describe('Redis lost its data mid-run', () => {
  it('the run says Redis lost its state, its records say interrupted, and --resume says why it cannot continue', async () => {
    await procs.startPlain(PORT);
    const vault = await freshVault(200, 62);
    const common = ['--vault', vault, '--redis', URL_, '--prefix', PREFIX, '--progress', 'none'];
    // prettier-ignore
    const child = spawnCli(['run', ...common, '--max-iters', '4', '--max-calls', '60', '--gen-batch-size', '3', '--gen-calls-per-iter', '3',
      '--judge-chunk-size', '3', '--gap-threshold', '0', '--max-drop-rate', '1', '--offline-latency', '400'], ENV);
    children.push(child);
    const log = collect(child);
    const runId = await until('the run id', 90_000, () => /run (\S+) started/.exec(log.err())?.[1]);
    // One iteration closed (its records on disk), the next one's drafts written and being judged.
    await until('iteration 0 closed', 120_000, () => existsSync(join(iterDir(vault, runId, 0), 'iter_record.json')));
    await until('iteration 1 wrote its drafts', 60_000, () => existsSync(join(iterDir(vault, runId, 1), 'judge_inputs.txt')));
    expect(child.exitCode, log.err()).toBeNull();

    // Redis restarted empty: no AOF, no RDB.
    await procs.kill(PORT);
    await procs.startPlain(PORT);
    const code = await Promise.race([exited(child), sleep(120_000).then(() => -99)]);
    expect(code, `the run did not end within 120 s of losing its state:\n${log.err()}`).not.toBe(-99);
    expect(code, log.err()).toBe(1);
    const err = log.err();
    process.stderr.write(`redis lost state:\n${err}\n`);
    expect(err).toContain(`run ${runId}: Redis lost this run's state (restarted empty? flushed? keys evicted?): Redis at ${URL_} answers but no longer knows the run.`);
    expect(err).not.toMatch(/lost Redis at|no answer|unexpected error/);
    const continueLines = err.split('\n').filter((l) => l.startsWith('continue with: '));
    expect(continueLines).toEqual([`continue with: vault-loop run --vault ${vault}`]);

    // run.json: interrupted, with the reason and how to go on.
    const run = readJson<Record<string, unknown>>(join(runDir(vault, runId), 'run.json'))!;
    expect(run.status).toBe('interrupted');
    expect(run.stopped_reason).toMatch(/^Redis lost this run's state/);
    expect(run.continue_with).toBe(`vault-loop run --vault ${vault}`);
    expect(typeof run.interrupted_at).toBe('string');
    // The closed iteration's record stays; the open one says interrupted and lists its drafts on disk.
    expect(existsSync(join(iterDir(vault, runId, 0), 'iter_record.json'))).toBe(true);
    const open = readJson<{ status: string; drafts_unjudged: string[] }>(join(iterDir(vault, runId, 1), 'interrupted.json'))!;
    expect(open.status).toBe('interrupted');
    expect(open.drafts_unjudged.length).toBeGreaterThan(0);
    for (const p of open.drafts_unjudged) expect(existsSync(join(vault, p)), p).toBe(true);

    // --resume of the lost run: a plain refusal naming why, non-zero; the records unchanged.
    const resumed = await runCli(['run', ...common, '--resume', runId], ENV, children);
    expect(resumed.code, resumed.out).toBe(1);
    expect(resumed.out).toContain(`vault-loop: run ${runId} cannot be resumed: this Redis (prefix ${PREFIX}) no longer knows it`);
    expect(resumed.out).toMatch(/could exceed its budget of 60 calls/);
    expect(resumed.out).not.toMatch(/unexpected error/);
    expect(readJson<Record<string, unknown>>(join(runDir(vault, runId), 'run.json'))!.status).toBe('interrupted');

    // An id that was never a run.
    const unknown = await runCli(['run', ...common, '--resume', '19990101_000000'], ENV, children);
    expect(unknown.code, unknown.out).toBe(1);
    expect(unknown.out).toContain(`vault-loop: run 19990101_000000 is not known to this Redis (prefix ${PREFIX}) and has no records in ${join(vault, '_validation_results', 'coverage_loop')}`);
  }, 360_000);
});
