/**
 * More issue #5 lines inside the worker stack and whole runs (real SDKs against their fake servers
 * on 127.0.0.1, the offline provider as the model behind them): the shared rate limits taken from
 * the config keys requestsPerMinute / tokensPerMinute; a zod-invalid item repaired by one counted
 * call whose <errors> block names the cell and the field; a timed-out call retried after the
 * queue's backoff; the generation temperature of `run --temperature`; the provider keys of
 * vault-loop.config.yaml in a `run`; the judge prompt's Bloom level for every draft.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, type ConfigInput } from '../../src/config/index.js';
import { LEVEL_BLOOM, type Level } from '../../src/corpus/taxonomy.js';
import { LlmRateLimitedError } from '../../src/errors.js';
import { readPromptBlock, type JudgeDraft } from '../../src/llm/prompts.js';
import { createQueues } from '../../src/queues/index.js';
import { storedConfig } from '../../src/scheduler/host.js';
import { readJson, runDir, type LoopSummary } from '../../src/scheduler/records.js';
import { RunStore } from '../../src/scheduler/state.js';
import { silentLogger } from '../../src/util/log.js';
import { createRuntimeContext } from '../../src/workers/context.js';
import { FakeLlmServer, fakeUsage, type Protocol, type SeenRequest } from '../helpers/fake-llm/index.js';
import { expectJudgePrompts, expectRunApplied, isGenerate, isJudge, isRepair, offlineServer as offlineServerOf, type Rewrite } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, runCli, runToEnd, testConfig } from '../helpers/pipeline.js';

const KEY = 'sk-evidence2';
let redis: TestRedis;
const children: ChildProcess[] = [];
beforeAll(async () => {
  redis = await useTestRedis('provevid2');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis.cleanup();
});

type Item = Record<string, unknown>;
/** A fake server answering with the offline provider, through `rewrite` (this file's key unless given). */
const offlineServer = (protocol: Protocol, seed: number, opts: { apiKey?: string; expectModel?: string; defectRate?: number; rewrite?: Rewrite } = {}) =>
  offlineServerOf(protocol, seed, { ...opts, apiKey: opts.apiKey ?? KEY });

function openaiConfig(vault: string, server: FakeLlmServer, flags: ConfigInput = {}) {
  return testConfig(redis, vault, {
    provider: 'openai',
    model: 'gen-model',
    judgeModel: 'judge-model',
    baseUrl: server.baseUrl,
    openaiApiKey: KEY,
    maxIters: 1,
    maxDropRate: 1,
    maxCalls: 40,
    ...flags,
  });
}

/** The tokens the fake server counted for each request it answered (its usage formula). */
const usageOf = (answered: Map<SeenRequest, string>, reqs: SeenRequest[]): number =>
  reqs.reduce((a, r) => {
    const u = fakeUsage(`${r.system ?? ''}${r.prompt ?? ''}`, answered.get(r)!);
    return a + u.input + u.output;
  }, 0);

describe('rate limits from the config keys requestsPerMinute and tokensPerMinute', () => {
  let server: FakeLlmServer;
  beforeAll(async () => {
    // A long answer for the token-limit model: its real usage is ~1000 tokens a call.
    server = await FakeLlmServer.start({ protocol: 'openai', apiKey: KEY, answer: (req) => (req.model === 'tpm-model' ? 'x'.repeat(4000) : 'ok') });
  });
  afterAll(async () => {
    await server.close();
  });

  /** A stored run with these config keys, and the worker-side provider stack built for it (as the processors get it). */
  async function workerStack(runId: string, flags: ConfigInput) {
    const vault = '/nonexistent/vault';
    const cfg = testConfig(redis, vault, { provider: 'openai', baseUrl: server.baseUrl, openaiApiKey: KEY, cacheTtlSeconds: 0, maxCalls: 40, ...flags });
    const store = new RunStore(redis.client, cfg.prefix);
    await store.create({ runId, vault, maxCalls: cfg.maxCalls, config: storedConfig(cfg), generator: { provider: 'openai', model: cfg.model! }, judge: { provider: 'openai', model: cfg.judgeModel ?? cfg.model! } });
    const queues = createQueues({ connection: redis.options as ConnectionOptions, prefix: cfg.prefix });
    const ctx = createRuntimeContext({ cfg, target: { options: redis.options, describe: redis.url }, redis: redis.client, store, queues, log: silentLogger });
    const gen = await ctx.generateDeps().provider(runId, 0);
    const judge = await (await ctx.judgeDeps(runId)).provider(runId, 0);
    const call = (p: typeof gen, prompt: string) => p.provider.complete({ purpose: 'generate', prompt, temperature: p.temperature, timeoutMs: p.timeoutMs });
    return { cfg, store, gen, judge, call, close: () => queues.close() };
  }

  const rlKey = (kind: 'req' | 'tok', model: string) => `{${redis.prefix}}:rl:${kind}:openai:${model}`;
  const sentTo = (model: string) => server.requests.filter((r) => r.model === model).length;

  it('requestsPerMinute: each call takes a point in {prefix}:rl:req:<provider>:<model> for the minute; the call past the limit is refused before it reaches the server and is not counted', async () => {
    const s = await workerStack('evid2-rpm', { model: 'rpm-model', judgeModel: 'rpm-judge', requestsPerMinute: 2 });
    try {
      await s.call(s.gen, 'rpm one');
      await s.call(s.gen, 'rpm two');
      expect(sentTo('rpm-model')).toBe(2);
      expect(await redis.client.get(rlKey('req', 'rpm-model'))).toBe('2');
      // A fixed window of one minute.
      const ttl = await redis.client.pttl(rlKey('req', 'rpm-model'));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);

      const err = await s.call(s.gen, 'rpm three').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LlmRateLimitedError);
      expect((err as Error).message).toContain('openai:rpm-model limit reached');
      // The next slot is in the next minute window: more than the 30 s a call may wait, so the job is given back to the queue.
      expect((err as LlmRateLimitedError).retryAfterMs).toBeGreaterThan(30_000);
      expect(sentTo('rpm-model')).toBe(2);
      const state = (await s.store.get('evid2-rpm'))!;
      expect(state.callsUsed).toBe(2);
      expect(state.callsReserved).toBe(0);

      // The judge model has a limit of its own (provider and model make the key).
      await s.call(s.judge, 'judge one');
      expect(sentTo('rpm-judge')).toBe(1);
      expect(await redis.client.get(rlKey('req', 'rpm-judge'))).toBe('1');
      // No token limiter without tokensPerMinute.
      expect(await redis.client.exists(rlKey('tok', 'rpm-model'))).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('tokensPerMinute: the window holds the tokens the server counted; a call whose estimate no longer fits is refused unsent', async () => {
    const s = await workerStack('evid2-tpm', { model: 'tpm-model', tokensPerMinute: 1500 });
    try {
      const first = 'tpm one';
      await s.call(s.gen, first);
      expect(sentTo('tpm-model')).toBe(1);
      // The estimate taken before the call was settled against the real usage.
      const u = fakeUsage(first, 'x'.repeat(4000));
      expect(u.input + u.output).toBeGreaterThan(1000);
      expect(Number(await redis.client.get(rlKey('tok', 'tpm-model')))).toBe(u.input + u.output);
      const ttl = await redis.client.pttl(rlKey('tok', 'tpm-model'));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);

      // ~1000 more tokens (the output cap) do not fit in 1500 this minute.
      const err = await s.call(s.gen, 'tpm two').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LlmRateLimitedError);
      expect((err as Error).message).toContain('openai:tpm-model limit reached');
      expect(sentTo('tpm-model')).toBe(1);
      expect((await s.store.get('evid2-tpm'))!.callsUsed).toBe(1);
      // No request limiter without requestsPerMinute.
      expect(await redis.client.exists(rlKey('req', 'tpm-model'))).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('control: with requestsPerMinute and tokensPerMinute at 0 (the default) there is no limiter: no rate-limit key, and every call goes', async () => {
    const s = await workerStack('evid2-free', { model: 'free-model' });
    try {
      expect(s.cfg.requestsPerMinute).toBe(0);
      expect(s.cfg.tokensPerMinute).toBe(0);
      for (let i = 0; i < 4; i++) await s.call(s.gen, `free ${i}`);
      expect(sentTo('free-model')).toBe(4);
      const keys = await redis.client.keys(`{${redis.prefix}}:rl:*`);
      expect(keys.filter((k) => k.includes('free-model'))).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('vault-loop.config.yaml in a whole `run`', () => {
  it('provider, model, baseUrl, temperature, judgeProvider, judgeBaseUrl, judgeTemperature, requestsPerMinute and tokensPerMinute come from the file; --judge-model overrides the file', async () => {
    const vault = await freshVault(300, 61);
    const gen = await offlineServer('openai', 61, { apiKey: 'sk-file', expectModel: 'file-gen-model' });
    const judge = await offlineServer('anthropic', 61, { apiKey: 'ak-file', expectModel: 'flag-judge-model' });
    writeFileSync(
      join(vault, CONFIG_FILE_NAME),
      [
        'provider: openai',
        'model: file-gen-model',
        `baseUrl: ${gen.server.baseUrl}`,
        'temperature: 0.4',
        'judgeProvider: anthropic',
        'judgeModel: file-judge-model',
        `judgeBaseUrl: ${judge.server.baseUrl}`,
        'judgeTemperature: 0.25',
        'requestsPerMinute: 100',
        'tokensPerMinute: 1000000',
        '',
      ].join('\n'),
    );
    try {
      const { code, out } = await runCli(
        // prettier-ignore
        ['run', '--vault', vault, '--trust-vault-config', '--judge-model', 'flag-judge-model',
         '--max-iters', '1', '--max-calls', '20', '--max-drop-rate', '1', '--gen-batch-size', '5', '--gen-calls-per-iter', '2', '--judge-chunk-size', '5',
         '--batch-window', '50', '--progress', 'none', '--json', '--redis', redis.url, '--prefix', redis.prefix],
        { OPENAI_API_KEY: 'sk-file', ANTHROPIC_API_KEY: 'ak-file' },
        children,
      );
      expect(code, out).toBe(0);
      expect(gen.server.violations).toEqual([]);
      expect(judge.server.violations).toEqual([]);
      // Generation went to the file's openai server with the file's model and temperature; judging
      // to the file's anthropic server with the flag's model and the file's judge temperature.
      const genReqs = gen.server.requests;
      const judgeReqs = judge.server.requests;
      expect(genReqs.length).toBeGreaterThan(0);
      expect(judgeReqs.length).toBeGreaterThan(0);
      for (const r of genReqs) expect([isGenerate(r), r.model, r.temperature]).toEqual([true, 'file-gen-model', 0.4]);
      for (const r of judgeReqs) expect([isJudge(r), r.model, r.temperature]).toEqual([true, 'flag-judge-model', 0.25]);
      const summary = JSON.parse(out.slice(out.indexOf('{\n'))) as LoopSummary;
      const runJson = readJson<{ config: Record<string, unknown>; generator: unknown; judge: unknown }>(join(runDir(vault, summary.run_id), 'run.json'))!;
      expect(runJson.generator).toEqual({ provider: 'openai', model: 'file-gen-model' });
      expect(runJson.judge).toEqual({ provider: 'anthropic', model: 'flag-judge-model' });
      expect(runJson.config).toMatchObject({ requestsPerMinute: 100, tokensPerMinute: 1_000_000, baseUrl: gen.server.baseUrl, judgeBaseUrl: judge.server.baseUrl });

      // The file's limits were applied by the run's workers: one point per request and the tokens
      // the servers counted, per provider and model, in one-minute windows (a role's requests come
      // within seconds of its first one, so all of them fall in its first window).
      const key = (kind: 'req' | 'tok', provider: string, model: string) => `{${redis.prefix}}:rl:${kind}:${provider}:${model}`;
      expect(Number(await redis.client.get(key('req', 'openai', 'file-gen-model')))).toBe(genReqs.length);
      expect(Number(await redis.client.get(key('req', 'anthropic', 'flag-judge-model')))).toBe(judgeReqs.length);
      expect(Number(await redis.client.get(key('tok', 'openai', 'file-gen-model')))).toBe(usageOf(gen.answered, genReqs));
      expect(Number(await redis.client.get(key('tok', 'anthropic', 'flag-judge-model')))).toBe(usageOf(judge.answered, judgeReqs));
      for (const k of [key('req', 'openai', 'file-gen-model'), key('tok', 'anthropic', 'flag-judge-model')]) {
        const ttl = await redis.client.pttl(k);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
      expect(await redis.client.exists(key('req', 'anthropic', 'file-judge-model'))).toBe(0);
    } finally {
      await gen.server.close();
      await judge.server.close();
    }
  });
});

describe('generation temperature', () => {
  it('`run --temperature 1.1 --judge-temperature 0.2`: every generate request carries 1.1 and every judge request 0.2', async () => {
    const vault = await freshVault(300, 62);
    const { server } = await offlineServer('openai', 62, { expectModel: 'temp-model' });
    try {
      const { code, out } = await runCli(
        // prettier-ignore
        ['run', '--vault', vault, '--provider', 'openai', '--model', 'temp-model', '--base-url', server.baseUrl, '--temperature', '1.1', '--judge-temperature', '0.2',
         '--max-iters', '1', '--max-calls', '20', '--max-drop-rate', '1', '--gen-batch-size', '5', '--gen-calls-per-iter', '2', '--judge-chunk-size', '5',
         '--batch-window', '50', '--progress', 'none', '--json', '--redis', redis.url, '--prefix', redis.prefix],
        { OPENAI_API_KEY: KEY },
        children,
      );
      expect(code, out).toBe(0);
      expect(server.violations).toEqual([]);
      const gen = server.requests.filter(isGenerate);
      const judge = server.requests.filter(isJudge);
      expect(gen.length).toBeGreaterThan(0);
      expect(judge.length).toBeGreaterThan(0);
      expect(gen.length + judge.length).toBe(server.requests.length);
      expect(gen.map((r) => r.temperature)).toEqual(gen.map(() => 1.1));
      expect(judge.map((r) => r.temperature)).toEqual(judge.map(() => 0.2));
      const summary = JSON.parse(out.slice(out.indexOf('{\n'))) as LoopSummary;
      expect(readJson<{ config: { temperature: number; judgeTemperature: number } }>(join(runDir(vault, summary.run_id), 'run.json'))!.config).toMatchObject({ temperature: 1.1, judgeTemperature: 0.2 });
    } finally {
      await server.close();
    }
  });
});

describe('repair of a zod-invalid item', () => {
  it('an item with an empty title and no question: exactly one counted repair call, whose <errors> block names that cell and both fields and whose <repair> answer holds only that item; the repaired item becomes the draft', async () => {
    const vault = await freshVault(300, 63);
    let original: Item | undefined;
    let broken: Item | undefined;
    const { server } = await offlineServer('openai', 63, {
      rewrite: (text, _req, kind, nth) => {
        if (kind === 'generate' && nth === 0) {
          const items = JSON.parse(text) as Item[];
          return JSON.stringify(
            items.map((it) => {
              if (it.cell_index !== 2) return it;
              original = it;
              const { question: _dropped, ...rest } = it;
              broken = { ...rest, title: '' };
              return broken;
            }),
          );
        }
        // The model fixes what the errors name: it sends the item again with its title and question.
        if (kind === 'repair') return JSON.stringify([original]);
        return text;
      },
    });
    // One batch of five cells: the prompt's cell_index is the plan's cell index.
    const { runId, state, host } = await runToEnd(redis, openaiConfig(vault, server, { genCallsPerIter: 1, batchWindowMs: 2000 }));
    try {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);
      expect(original).toBeDefined();
      const gens = server.requests.filter(isGenerate);
      expect(gens).toHaveLength(1);
      expect((readPromptBlock(gens[0]!.prompt!, 'cells') as unknown[]).length).toBe(5);
      const repairs = server.requests.filter(isRepair);
      expect(repairs).toHaveLength(1);
      expect(repairs[0]!.receivedAt).toBeGreaterThanOrEqual(gens[0]!.receivedAt);

      // <errors>: one line, for cell 2, naming the empty title and the missing question.
      const errors = readPromptBlock(repairs[0]!.prompt!, 'errors') as string[];
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^cell_index 2: /);
      expect(errors[0]).toMatch(/\btitle: /);
      expect(errors[0]).toMatch(/\bquestion: /);
      // <repair>: the generate purpose and schema, and only that cell's item (as the model sent it).
      const block = readPromptBlock(repairs[0]!.prompt!, 'repair') as { purpose: string; schema: unknown; answer: { cell_index: number; item: Item | null }[] };
      expect(block.purpose).toBe('generate');
      expect(block.schema).toBeTruthy();
      expect(block.answer.map((a) => a.cell_index)).toEqual([2]);
      expect(block.answer[0]!.item).toEqual(broken);

      // The repair call was counted like any other.
      expect(state.callsUsed).toBe(server.requests.length);
      // No cell went back to the queue: every generate job completed on its first attempt; only cell 2's draft came from the repair.
      const jobs = (await host.queues.generate.getJobs(['completed', 'failed', 'delayed', 'wait', 'active'])).filter((j) => j?.data.runId === runId);
      expect(jobs).toHaveLength(5);
      for (const j of jobs) {
        expect(await j.getState()).toBe('completed');
        expect(j.attemptsMade).toBe(1);
        expect((j.returnvalue as { repaired: boolean }).repaired).toBe(j.data.cellIndex === 2);
      }
      const repaired = jobs.find((j) => j.data.cellIndex === 2)!.returnvalue as { draft: { doc: Item } };
      expect(repaired.draft.doc.title).toBe(original!.title);
      expect(repaired.draft.doc.question).toBe(original!.question);
      const { drafts } = await expectRunApplied(host, vault, runId);
      expect(drafts.size).toBe(5);
    } finally {
      await host.close();
      await server.close();
    }
  });
});

describe('timeouts', () => {
  it('a hung call times out after callTimeoutMs and its cells are retried after the queue backoff: the retry comes no sooner than timeout + first backoff, and each of those jobs completes on attempt 2', async () => {
    const vault = await freshVault(300, 64);
    const { server } = await offlineServer('openai', 64);
    server.script({ type: 'hang' });
    const TIMEOUT = 1000;
    const cfg = openaiConfig(vault, server, { callTimeoutMs: TIMEOUT, genCallsPerIter: 1 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    try {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);
      const hung = server.requests[0]!;
      expect(hung.step.type).toBe('hang');
      expect(isGenerate(hung)).toBe(true);
      const variantsOf = (r: SeenRequest) => (readPromptBlock(r.prompt!, 'cells') as { variant: string }[]).map((c) => c.variant);
      const hungVariants = variantsOf(hung);
      expect(hungVariants.length).toBeGreaterThan(0);

      const jobs = (await host.queues.generate.getJobs(['completed', 'failed', 'delayed', 'wait', 'active'])).filter((j) => j?.data.runId === runId);
      expect(jobs).toHaveLength(5);
      const backoff = jobs[0]!.opts.backoff as { type: string; delay: number };
      expect(backoff).toEqual({ type: 'exponential', delay: 2000 });
      // The provider saw each cell of the hung call twice: the hung try, then one answered retry.
      const gens = server.requests.filter(isGenerate);
      for (const v of hungVariants) {
        const tries = gens.filter((r) => variantsOf(r).includes(v));
        expect(tries, v).toHaveLength(2);
        expect(tries[0]).toBe(hung);
        expect(tries[1]!.step.type).toBe('answer');
      }
      // When each of those jobs became active, from the queue's event stream (Redis time): the first
      // attempt began before the call was made; the retry could not begin before the call timed out
      // and the first backoff (delay × 2^0) had passed. (5 ms: the clocks' millisecond rounding.)
      const events = await redis.client.xrange(host.queues.generate.keys.events!, '-', '+');
      const field = (f: string[], name: string) => f[f.indexOf(name) + 1];
      const activeAt = (jobId: string) => events.filter(([, f]) => field(f, 'event') === 'active' && field(f, 'jobId') === jobId).map(([id]) => Number(id.split('-')[0]));
      const hungJobs = jobs.filter((j) => hungVariants.includes(j.data.variant));
      expect(hungJobs).toHaveLength(hungVariants.length);
      for (const j of hungJobs) {
        const at = activeAt(j.id!);
        expect(at, `job ${j.id}`).toHaveLength(2);
        expect(at[1]! - at[0]!, `job ${j.id}`).toBeGreaterThanOrEqual(TIMEOUT + backoff.delay - 5);
        // The attempt that failed was the timed-out call.
        expect(j.failedReason).toBe(`openai: no answer within ${TIMEOUT} ms (timeout)`);
        expect((j.stacktrace ?? []).join('\n')).toMatch(/^LlmTransientError: /);
      }
      for (const j of jobs) {
        expect(await j.getState()).toBe('completed');
        // Failed once (the timeout), then completed: two attempts; the cells the hung call did not carry, one.
        expect(j.attemptsMade, `cell ${j.data.cellIndex}`).toBe(hungVariants.includes(j.data.variant) ? 2 : 1);
      }
      const { drafts } = await expectRunApplied(host, vault, runId);
      expect(drafts.size).toBe(5);
      // The timed-out call reached the provider: it is counted.
      expect(state.callsUsed).toBe(server.requests.length);
    } finally {
      await host.close();
      await server.close();
    }
  });
});

describe('the judge prompt in a run', () => {
  it("gives every draft its cell's track, topic, zone, level and the Bloom level of that level", async () => {
    const vault = await freshVault(300, 65);
    const { server } = await offlineServer('openai', 65, { defectRate: 0.3 });
    const cfg = openaiConfig(vault, server, { maxIters: 2, genCallsPerIter: 2 });
    const { runId, state, host } = await runToEnd(redis, cfg);
    try {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);
      const { rec, drafts } = await expectRunApplied(host, vault, runId);
      expectJudgePrompts(server.requests, drafts, cfg.judgeChunkSize);
      const plans = rec.iters.map((i) => (i.plan ?? []) as { track: string; topic: string; zone: string; level: Level }[]);
      const seen: JudgeDraft[] = server.requests.filter(isJudge).flatMap((r) => readPromptBlock(r.prompt!, 'drafts') as JudgeDraft[]);
      expect(seen.length).toBeGreaterThan(0);
      for (const d of seen) {
        const rec = drafts.get(d.id)!;
        const cell = plans[rec.iter]![rec.cellIndex]!;
        expect({ track: d.track, topic: d.topic, zone: d.zone, level: d.level }, d.id).toEqual({ track: cell.track, topic: cell.topic, zone: cell.zone, level: cell.level });
        expect(d.bloom_level, d.id).toBe(LEVEL_BLOOM[cell.level]);
      }
      // Not one level only: the check covers different Bloom levels.
      expect(new Set(seen.map((d) => d.bloom_level)).size).toBeGreaterThan(1);
    } finally {
      await host.close();
      await server.close();
    }
  });
});
