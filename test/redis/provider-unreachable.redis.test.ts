/**
 * A run whose provider never answers (nothing listens at its base URL) does not pass for
 * "completed … converged": it ends failed with "provider unreachable", charges no call (no request
 * reached a server), and its summary names the command that continues it.
 */
import { describe, expect, it } from 'vitest';
import { summaryText } from '../../src/cli/summary.js';
import { freePort } from '../../src/redis/index.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, joinedCommands, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('unreachable');

describe('provider unreachable', () => {
  for (const provider of ['openai', 'gemini'] as const) {
    it(`${provider} at a closed local port: the run ends failed, "provider unreachable", no call charged, one continue command`, async () => {
      const vault = await freshVault(300, 61);
      // Free a moment ago, and nothing listens on it.
      const port = await freePort();
      const cfg = testConfig(redis, vault, {
        provider,
        model: provider === 'openai' ? 'gen-model' : 'gemini-2.5-flash',
        baseUrl: provider === 'openai' ? `http://127.0.0.1:${port}/v1` : `http://127.0.0.1:${port}`,
        ...(provider === 'openai' ? { openaiApiKey: 'sk-x' } : { geminiApiKey: 'g-x' }),
        judgeProvider: 'offline',
        maxIters: 5,
        maxCalls: 20,
      });
      const { runId, state, host } = await runToEnd(redis, cfg);
      await host.close();
      expect(state.status).toBe('failed');
      expect(state.stopReason).toMatch(/^provider unreachable: .*ECONNREFUSED/);
      expect(state.callsUsed).toBe(0);
      expect(state.callsReserved).toBe(0);
      const rec = readRecords(vault, runId);
      // It stopped after the first iteration: no further plans against a dead provider.
      expect(rec.summary.iterations).toBe(1);
      expect(rec.summary.status).toBe('failed');
      expect(rec.iters[0]!.record!.generated).toBe(0);
      expect(rec.iters[0]!.record!.cells_failed.length).toBe(rec.iters[0]!.record!.plan_size);
      expect(rec.summary.continue_with).toBe(`vault-loop run --vault ${vault} --resume ${runId}`);
      const text = joinedCommands(summaryText(vault, runId));
      expect(text).toContain(`run ${runId}: failed, stopped: provider unreachable`);
      expect(text.split('\n').filter((l) => l.startsWith('continue with: '))).toEqual([`continue with: vault-loop run --vault ${vault} --resume ${runId}`]);
    });
  }
});
