/**
 * The real providers inside whole runs: each HTTP provider (openai, gemini, anthropic) through its
 * real SDK against a fake server speaking its wire protocol, and gemini-cli through a stand-in
 * executable; the offline provider is the "model" behind them. Also the cost of a run, priced
 * from the table, as `status`, iter_record.json and loop_summary.json show it.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costOf, priceTable } from '../../src/llm/cost.js';
import { readJson, runDir, type LoopSummary } from '../../src/scheduler/records.js';
import { FakeLlmServer, fakeUsage, installFakeGeminiCli, type Protocol, type SeenRequest } from '../helpers/fake-llm/index.js';
import { expectGeneratePrompts, expectJudgePrompts, expectRunApplied, isGenerate, isJudge } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, offlineAnswerer, runToEnd, runCli, testConfig } from '../helpers/pipeline.js';

let redis: TestRedis;
const children: ChildProcess[] = [];
beforeAll(async () => {
  redis = await useTestRedis('provrun');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await redis.cleanup();
});

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
    const { runId, state, host } = await runToEnd(redis, cfg);
    try {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      // Two iterations, or one when the defects happened to drop every draft of the top cell
      // (then the second plan sees the same top cell and priority: converged).
      expect(['max iterations reached', 'same top-priority cell two iterations in a row — converged']).toContain(state.stopReason);
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
    } finally {
      await host.close();
      await genServer.close();
      await judgeServer.close();
    }
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
      const { runId, state, host } = await runToEnd(redis, cfg);
      try {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(cli.calls.flatMap((c) => c.violations)).toEqual([]);
        expect(cli.calls.every((c) => c.model === 'gemini-test-pro')).toBe(true);
        expect(cli.calls.some(isGenerate) && cli.calls.some(isJudge)).toBe(true);
        const { rec, drafts } = await expectRunApplied(host, vault, runId);
        expectGeneratePrompts(cli.calls, rec, { schema: false });
        expectJudgePrompts(cli.calls, drafts, cfg.judgeChunkSize);
        expect(state.callsUsed).toBe(cli.calls.length);
      } finally {
        await host.close();
      }
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.FAKE_GEMINI_URL === undefined) delete process.env.FAKE_GEMINI_URL;
      else process.env.FAKE_GEMINI_URL = saved.FAKE_GEMINI_URL;
      await cli.close();
    }
  });
});

describe('OpenAI-compatible servers without strict json_schema', () => {
  it('`run --structured-output json_object --judge-structured-output none --judge-temperature 0.2`: each role asks as told, and the run completes', async () => {
    const vault = await freshVault(300, 23);
    const server = await serverFor('openai', 'local-model', 23);
    try {
      const { code, out } = await runCli(
        // prettier-ignore
        ['run', '--vault', vault, '--provider', 'openai', '--model', 'local-model', '--base-url', server.baseUrl,
         '--structured-output', 'json_object', '--judge-structured-output', 'none', '--judge-temperature', '0.2',
         '--max-iters', '1', '--max-calls', '20', '--max-drop-rate', '1', '--gen-batch-size', '5', '--gen-calls-per-iter', '2', '--judge-chunk-size', '5',
         '--batch-window', '50', '--progress', 'none', '--json', '--redis', redis.url, '--prefix', redis.prefix],
        { OPENAI_API_KEY: 'key-openai' },
        children,
      );
      expect(code, out).toBe(0);
      expect(server.violations).toEqual([]);
      const gen = server.requests.filter(isGenerate);
      const judge = server.requests.filter(isJudge);
      expect(gen.length).toBeGreaterThan(0);
      expect(judge.length).toBeGreaterThan(0);
      // Generation: json_object, with the wrapping asked for in the system message (the server answered wrapped).
      for (const r of gen) {
        expect((r.body as { response_format?: unknown }).response_format).toEqual({ type: 'json_object' });
        expect(r.system).toMatch(/\{"items": \[\.\.\.\]\}/);
      }
      // Judging: no response_format at all, and the judge's own temperature.
      for (const r of judge) {
        expect((r.body as { response_format?: unknown }).response_format).toBeUndefined();
        expect(r.temperature).toBe(0.2);
      }
      // Every draft written was judged from the plain-text answers: nothing left unjudged, none failed to parse.
      const summary = JSON.parse(out.slice(out.indexOf('{\n'))) as LoopSummary;
      expect(summary.stopped_reason).toBe('max iterations reached');
      const it0 = summary.history[0]!;
      expect(it0.generated).toBeGreaterThan(0);
      expect(it0.unjudged).toBe(0);
      expect(it0.applied.dropped + it0.applied.kept_pass + it0.applied.kept_needs_fix).toBe(it0.generated);
    } finally {
      await server.close();
    }
  });
});

describe('cost', () => {
  it('tokens and USD per call, per iteration and per run, from the price table, in status and the records', async () => {
    const vault = await freshVault(300, 23);
    const offline = await offlineAnswerer(23);
    // What the server answered to each request, to compute the expected usage per call.
    const answered = new Map<SeenRequest, string>();
    const server = await FakeLlmServer.start({
      protocol: 'openai',
      apiKey: 'sk-cost',
      answer: async (req) => {
        const text = await offline(req);
        answered.set(req, text);
        return text;
      },
      // A known list-price model (dated ids resolve to it) and a custom one priced by config.
      reportedModel: (m) => (m === 'gpt-4o-mini' ? 'gpt-4o-mini-2024-07-18' : m),
    });
    const prices = { 'acme-judge': { input: 100, output: 300 } };
    const cfg = testConfig(redis, vault, {
      provider: 'openai',
      model: 'gpt-4o-mini',
      baseUrl: server.baseUrl,
      judgeModel: 'acme-judge',
      openaiApiKey: 'sk-cost',
      prices,
      maxIters: 2,
      maxDropRate: 1,
      maxCalls: 40,
    });
    const { runId, state, host } = await runToEnd(redis, cfg);
    await host.close();
    await server.close();
    expect(state.status).toBe('completed');
    expect(server.violations).toEqual([]);
    // Per call: what the server counted, priced per model from the table (defaults + config).
    const table = priceTable(prices);
    let tokensIn = 0;
    let tokensOut = 0;
    let cost = 0;
    for (const r of server.requests) {
      const u = fakeUsage(`${r.system ?? ''}${r.prompt ?? ''}`, answered.get(r)!);
      tokensIn += u.input;
      tokensOut += u.output;
      cost += costOf(r.model === 'gpt-4o-mini' ? 'gpt-4o-mini-2024-07-18' : r.model!, { inputTokens: u.input, outputTokens: u.output }, table);
    }
    expect(server.requests.some((r) => r.model === 'acme-judge')).toBe(true);
    expect(tokensIn).toBeGreaterThan(0);
    expect(state.tokensIn).toBe(tokensIn);
    expect(state.tokensOut).toBe(tokensOut);
    expect(state.costUsd).toBeCloseTo(cost, 9);
    // The judge's custom price dominates: the config's table was used, not only the defaults.
    expect(cost).toBeGreaterThan(costOf('gpt-4o-mini', { inputTokens: tokensIn, outputTokens: tokensOut }));

    // Per iteration (iter_record.json) adds up to the run (loop_summary.json).
    const dir = runDir(vault, runId);
    const iters = [0, 1].map((n) => readJson<{ tokens: { input: number; output: number }; cost_usd: number; calls: number }>(join(dir, `iter_${String(n).padStart(2, '0')}`, 'iter_record.json'))!);
    for (const i of iters) {
      expect(i.tokens.input).toBeGreaterThan(0);
      expect(i.cost_usd).toBeGreaterThan(0);
    }
    expect(iters.reduce((a, i) => a + i.tokens.input, 0)).toBe(tokensIn);
    expect(iters.reduce((a, i) => a + i.tokens.output, 0)).toBe(tokensOut);
    expect(iters.reduce((a, i) => a + i.cost_usd, 0)).toBeCloseTo(cost, 5);
    const summary = readJson<{ tokens: { input: number; output: number }; cost_usd: number }>(join(dir, 'loop_summary.json'))!;
    expect(summary.tokens).toEqual({ input: tokensIn, output: tokensOut, cached: 0 });
    // Rounded to 6 decimals in the record: at most half a unit of the 6th decimal off (plus float noise).
    expect(Math.abs(summary.cost_usd - cost)).toBeLessThanOrEqual(5e-7 + 1e-12);

    // `status RUN` in a child process shows the same numbers.
    const { code, out } = await runCli(['status', runId, '--redis', redis.url, '--prefix', redis.prefix], {}, children);
    expect(code, out).toBe(0);
    expect(out).toContain(`tokens in ${tokensIn} out ${tokensOut}, cost $${cost.toFixed(4)}`);
  });
});
