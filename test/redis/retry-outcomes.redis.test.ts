/**
 * `vault-loop retry` tells the truth about what it did: with no run alive it judges and applies the
 * retried chunks itself; chunks the budget blocks fail again, it says so, names --max-calls, and
 * claims no rewrite; `--max-calls N` raises the run's budget and the retry lands. An unknown
 * `--resume` id is a one-line error, not an "unexpected error".
 */
import { describe, expect, it } from 'vitest';
import { failingJudge } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runCli, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('retry-outcomes');

describe('retry outcomes', () => {
  it('a retry blocked by the budget fails again and names --max-calls; with --max-calls the late verdicts land with no run alive', async () => {
    const vault = await freshVault(300, 83);
    const { server, judge } = await failingJudge(83, { apiKey: 'sk-retry', failures: 400 });
    // Two generation calls and four judge attempts: the 503s spend the rest of the budget.
    const cfg = testConfig(redis, vault, { maxIters: 1, maxCalls: 6, maxDropRate: 1, genBatchSize: 5, genCallsPerIter: 2, judgeChunkSize: 5, ...judge });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    try {
      expect(state.status).toBe('failed');
      expect(state.stopReason).toBe('judge failed for 2 chunks');
      expect(state.callsUsed).toBe(6);
      server.clearScript();
      const common = ['--redis', redis.url, '--prefix', redis.prefix];
      const env = { OPENAI_API_KEY: 'sk-retry' };

      const blocked = await runCli(['retry', '--run', runId, ...common], env);
      expect(blocked.code, blocked.out).toBe(1);
      expect(blocked.out).toMatch(/failed again: .*budget exhausted/);
      expect(blocked.out).toContain('2 of 2 retried chunk(s) failed again; their drafts stay unjudged');
      expect(blocked.out).toContain("blocked by the run's budget (6 of 6 calls used): give the retry more with --max-calls N");
      expect(blocked.out).not.toContain('applied:');
      expect(readRecords(vault, runId).summary.history[0]!.unjudged).toBe(10);

      const more = await runCli(['retry', '--run', runId, '--max-calls', '20', ...common], env);
      expect(more.code, more.out).toBe(0);
      expect(more.out).toContain(`run ${runId}: budget raised from 6 to 20 calls`);
      expect(more.out).toMatch(/judging 2 chunk\(s\) and applying 0 late result\(s\) on .* \(no vault-loop run holds it\)/);
      expect(more.out).toContain(`applied: the records of run ${runId} are rewritten`);
      const rec = readRecords(vault, runId);
      expect(rec.summary.history[0]!.unjudged).toBe(0);
      expect(rec.summary.history[0]!.late_applied).toBe(10);
      expect(rec.summary.max_calls).toBe(20);
      expect(rec.summary.failed_judge_chunks).toEqual([]);
      expect(server.violations).toEqual([]);
    } finally {
      await server.close();
    }
    // Three CLI processes on a loaded machine: a generous bound, no timing assertion.
  }, 240_000);

  it('an unknown --resume id is a one-line error naming the id', async () => {
    const vault = await freshVault(300, 84);
    const r = await runCli(['run', '--vault', vault, '--resume', '20990101_000000', '--redis', redis.url, '--prefix', redis.prefix, '--progress', 'none']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('vault-loop: run 20990101_000000 is not known to this Redis');
    expect(r.out).not.toMatch(/unexpected error|\n\s+at /);
  });
});
