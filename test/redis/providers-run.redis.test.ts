/**
 * The real providers inside whole runs: each HTTP provider (openai, gemini, anthropic) through its
 * real SDK against a fake server speaking its wire protocol, and gemini-cli through a stand-in
 * executable; the offline provider is the "model" behind them. Cost, caching, rate limits, answer
 * shapes and the other provider settings in whole runs:
 * test/heavy/provider-settings-and-answers.test.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FakeLlmServer, installFakeGeminiCli, type Protocol } from '../helpers/fake-llm/index.js';
import { expectGeneratePrompts, expectJudgePrompts, expectRunApplied, isGenerate, isJudge } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { afterRun, freshVault, offlineAnswerer, testConfig } from '../helpers/pipeline.js';

const children: ChildProcess[] = [];
const redis = fileRedis('provrun', { children });

const KEY_FLAG: Record<Protocol, 'openaiApiKey' | 'geminiApiKey' | 'anthropicApiKey'> = { openai: 'openaiApiKey', gemini: 'geminiApiKey', anthropic: 'anthropicApiKey' };

async function serverFor(protocol: Protocol, model: string, seed: number): Promise<FakeLlmServer> {
  return await FakeLlmServer.start({ protocol, apiKey: `key-${protocol}`, expectModel: model, answer: await offlineAnswerer(seed, 0.6) });
}

describe('whole runs through each provider', () => {
  // Generator → judge pairs: each HTTP provider generates once and judges once.
  const pairs: [Protocol, Protocol][] = [
    ['openai', 'anthropic'],
    ['gemini', 'openai'],
    ['anthropic', 'gemini'],
  ];
  it.each(pairs)('%s generates, %s judges', async (gen, judge) => {
    const vault = await freshVault(300, 21);
    const genServer = await serverFor(gen, `gen-${gen}`, 21);
    const judgeServer = await serverFor(judge, `judge-${judge}`, 21);
    const cfg = testConfig(redis, vault, {
      provider: gen,
      model: `gen-${gen}`,
      baseUrl: genServer.baseUrl,
      judgeProvider: judge,
      judgeModel: `judge-${judge}`,
      judgeBaseUrl: judgeServer.baseUrl,
      [KEY_FLAG[gen]]: `key-${gen}`,
      [KEY_FLAG[judge]]: `key-${judge}`,
      maxIters: 2,
      maxDropRate: 1,
      maxCalls: 40,
    });
    await afterRun(redis, cfg, [genServer, judgeServer], async ({ runId, state, host }) => {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      // Two iterations: convergence needs the two previous iterations, so it cannot stop this run.
      expect(state.stopReason).toBe('max iterations reached');
      expect(genServer.violations).toEqual([]);
      expect(judgeServer.violations).toEqual([]);
      // Each server got only its role's prompts.
      expect(genServer.requests.length).toBeGreaterThan(0);
      expect(genServer.requests.every(isGenerate)).toBe(true);
      expect(judgeServer.requests.length).toBeGreaterThan(0);
      expect(judgeServer.requests.every(isJudge)).toBe(true);
      const { rec, drafts, verdicts, unjudged } = await expectRunApplied(host, vault, runId);
      expectGeneratePrompts(genServer.requests, rec, { schema: true });
      expectJudgePrompts(judgeServer.requests, drafts, cfg.judgeChunkSize);
      // With defects on, the judge both keeps and drops; every draft is accounted for.
      const kinds = new Set([...verdicts.values()].map((v) => v.verdict));
      expect(kinds.has('DROP')).toBe(true);
      expect(kinds.has('PASS')).toBe(true);
      for (const id of drafts.keys()) expect(Number(verdicts.has(id)) + Number(unjudged.has(id))).toBe(1);
      expect(unjudged.size).toBe(0);
      // The model ids the servers reported are what the records carry.
      expect([...verdicts.values()].filter((v) => v.source === 'model').every((v) => v.model === `judge-${judge}-fake-001`)).toBe(true);
      expect(state.callsUsed).toBe(genServer.requests.length + judgeServer.requests.length);
    });
  });

  it('gemini-cli generates and judges through the `gemini` executable', async () => {
    const vault = await freshVault(300, 22);
    const answer = await offlineAnswerer(22, 0.4);
    const cli = await installFakeGeminiCli(async (call) => await answer({ prompt: call.prompt }));
    const saved = { PATH: process.env.PATH, FAKE_GEMINI_URL: process.env.FAKE_GEMINI_URL };
    // The in-process workers spawn `gemini` with this process's environment.
    process.env.PATH = cli.env.PATH;
    process.env.FAKE_GEMINI_URL = cli.env.FAKE_GEMINI_URL;
    const cfg = testConfig(redis, vault, { provider: 'gemini-cli', model: 'gemini-test-pro', maxIters: 1, maxDropRate: 1, maxCalls: 20 });
    try {
      await afterRun(redis, cfg, [], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(cli.calls.flatMap((c) => c.violations)).toEqual([]);
        expect(cli.calls.every((c) => c.model === 'gemini-test-pro')).toBe(true);
        expect(cli.calls.some(isGenerate) && cli.calls.some(isJudge)).toBe(true);
        const { rec, drafts } = await expectRunApplied(host, vault, runId);
        expectGeneratePrompts(cli.calls, rec, { schema: false });
        expectJudgePrompts(cli.calls, drafts, cfg.judgeChunkSize);
        expect(state.callsUsed).toBe(cli.calls.length);
      });
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.FAKE_GEMINI_URL === undefined) delete process.env.FAKE_GEMINI_URL;
      else process.env.FAKE_GEMINI_URL = saved.FAKE_GEMINI_URL;
      await cli.close();
    }
  });
});
