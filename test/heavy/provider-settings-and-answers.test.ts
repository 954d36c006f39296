/**
 * Provider settings and real answers inside whole runs: structured output off, the cost of a run
 * priced from the table (status, iter_record.json, loop_summary.json), the deterministic pre-judge,
 * verdicts for unknown ids, gemini-cli's timeout, the raw-text cache, answer shapes a real model
 * sends, rate limits, the config file, temperature, repair calls, timeouts and the judge prompt's
 * Bloom levels. (A whole run through each provider: test/redis/providers-run.redis.test.ts.)
 */
import type { ChildProcess } from 'node:child_process';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { costOf, priceTable } from '../../src/llm/cost.js';
import { type LoopSummary, readJson, runDir } from '../../src/scheduler/records.js';
import { FakeLlmServer, fakeUsage, installFakeGeminiCli, type Protocol, type SeenRequest } from '../helpers/fake-llm/index.js';
import { expectJudgePrompts, expectRunApplied, openaiRunConfig, isGenerate, isJudge, isRepair, kindOf, offlineServer, offlineServer as offlineServerOf, questionFiles, type Rewrite } from '../helpers/provider-runs.js';
import { fileRedis, type TestRedis } from '../helpers/redis.js';
import { closeAfter } from '../helpers/closing.js';
import { afterRun, freshVault, offlineAnswerer, readRecords, runCli, runToEnd, testConfig } from '../helpers/pipeline.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { ConnectionOptions } from 'bullmq';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_NEAR_DUP_THRESHOLD, similarity } from '../../src/checks/index.js';
import { LlmRateLimitedError, LlmTransientError } from '../../src/errors.js';
import { loadVault } from '../../src/corpus/loader.js';
import { cacheKey } from '../../src/llm/cache.js';
import { parseGenerateAnswer } from '../../src/llm/parse.js';
import { type JudgePromptDraft, readPromptBlock } from '../../src/llm/prompts.js';
import { createQueues } from '../../src/queues/index.js';
import { CorpusHost, storedConfig } from '../../src/host/corpus-host.js';
import { RunStore } from '../../src/state/run-state.js';
import { silentLogger } from '../../src/util/log.js';
import { createRuntimeContext } from '../../src/host/runtime-context.js';
import { CONFIG_FILE_NAME, type ConfigInput } from '../../src/config/index.js';
import { type Level, LEVEL_BLOOM } from '../../src/corpus/taxonomy.js';

const children: ChildProcess[] = [];
const redis = fileRedis('provrun', { children });

async function serverFor(protocol: Protocol, model: string, seed: number): Promise<FakeLlmServer> {
  return await FakeLlmServer.start({ protocol, apiKey: `key-${protocol}`, expectModel: model, answer: await offlineAnswerer(seed, 0.6) });
}

/** `run <args>` through the CLI as one small iteration on `at.redis` (the child tracked in `at.children`): it exits 0; its loop summary. */
async function smallCliRun(at: { redis: TestRedis; children: ChildProcess[] }, args: string[], env: NodeJS.ProcessEnv): Promise<LoopSummary> {
  const { code, out } = await runCli(
    // prettier-ignore
    ['run', ...args,
     '--max-iters', '1', '--max-calls', '20', '--max-drop-rate', '1', '--gen-batch-size', '5', '--gen-calls-per-iter', '2', '--judge-chunk-size', '5',
     '--batch-window', '50', '--progress', 'none', '--json', '--redis', at.redis.url, '--prefix', at.redis.prefix],
    env,
    at.children,
  );
  expect(code, out).toBe(0);
  return JSON.parse(out.slice(out.indexOf('{\n'))) as LoopSummary;
}

/** The generate and judge requests `server` got, at least one of each. */
function generateAndJudge(server: FakeLlmServer): { gen: SeenRequest[]; judge: SeenRequest[] } {
  const gen = server.requests.filter(isGenerate);
  const judge = server.requests.filter(isJudge);
  expect(gen.length).toBeGreaterThan(0);
  expect(judge.length).toBeGreaterThan(0);
  return { gen, judge };
}

describe('OpenAI-compatible servers without strict json_schema', () => {
  it('`run --structured-output json_object --judge-structured-output none --judge-temperature 0.2`: each role asks as told, and the run completes', async () => {
    const vault = await freshVault(300, 23);
    const server = await serverFor('openai', 'local-model', 23);
    await closeAfter([server], async () => {
      const summary = await smallCliRun(
        { redis, children },
        // prettier-ignore
        ['--vault', vault, '--provider', 'openai', '--model', 'local-model', '--base-url', server.baseUrl,
         '--structured-output', 'json_object', '--judge-structured-output', 'none', '--judge-temperature', '0.2'],
        { OPENAI_API_KEY: 'key-openai' },
      );
      expect(server.violations).toEqual([]);
      const { gen, judge } = generateAndJudge(server);
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
      expect(summary.stopped_reason).toBe('max iterations reached');
      const it0 = summary.history[0]!;
      expect(it0.generated).toBeGreaterThan(0);
      expect(it0.unjudged).toBe(0);
      expect(it0.applied.dropped + it0.applied.kept_pass + it0.applied.kept_needs_fix).toBe(it0.generated);
    });
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

describe('pre-judge DROPs, unknown verdicts, gemini-cli timeout, raw-text cache, tolerant parsing, in whole runs', () => {
  /**
   * Provider behaviour shown inside whole runs through the openai SDK and its fake server (the offline
   * provider as the model behind it): the pre-judge's duplicate DROPs cost no judge call; a verdict
   * for an unknown id is ignored and logged, a draft with no verdict stays unjudged; gemini-cli's
   * 300 s timeout reaches the kill logic through a worker's provider stack; the response cache keeps
   * the raw text and parses it on every read; brackets inside strings, prose and fences, extra and
   * duplicate items. (A killed generate worker's retry, served from the cache and counted once in the
   * budget, is in providers-faults.)
   */
  const KEY = 'sk-whole-run';
  const redis = fileRedis('provevid');

  type Item = Record<string, unknown>;
  /** An openai fake server answering with the offline provider (no defects), through `rewrite`. */
  const wholeRunServer = (seed: number, rewrite?: Rewrite) => offlineServer('openai', seed, { apiKey: KEY, ...(rewrite ? { rewrite } : {}) });

  function wholeRunConfig(vault: string, server: FakeLlmServer, flags: Record<string, unknown> = {}, on: TestRedis = redis) {
    // One batch of five cells per call (a full batch goes at once; the long window keeps a loaded
    // machine from splitting it).
    return openaiRunConfig(on, vault, server, KEY, { genCallsPerIter: 1, batchWindowMs: 2000, ...flags });
  }

  interface PromptCellJson {
    index: number;
    variant: string;
  }
  const promptCells = (req: SeenRequest): PromptCellJson[] => readPromptBlock(req.prompt!, 'cells') as PromptCellJson[];
  /** The plan cell a prompt cell stands for: its variant ends with `-<iter>-<cellIndex>-s<seed>`. */
  function planIndex(c: PromptCellJson): number {
    const m = /-(\d+)-(\d+)-s\d+$/.exec(c.variant);
    if (!m) throw new Error(`variant ${c.variant} has no cell index`);
    return Number(m[2]);
  }
  const judgedIds = (req: SeenRequest): string[] => (readPromptBlock(req.prompt!, 'drafts') as { id: string }[]).map((d) => d.id);

  const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
  /** Every question file of the vault with the hash of its bytes. */
  const questionHashes = (vault: string) => new Map(questionFiles(vault).map((f) => [f, sha(readFileSync(join(vault, f)))]));

  const PASS_CRITERIA = { math_correct: 'PASS', cell_fit: 'PASS', scenario_realism: 'PASS', uniqueness: 'PASS', visual_alignment: 'PASS' };

  describe('deterministic pre-judge inside a run with an HTTP provider', () => {
    it('a generated exact copy is DROPped without a call and a near copy reaches the judge with the finding: the judge never sees the dropped id, and only chunks with other drafts cost a judge call', async () => {
      const vault = await freshVault(300, 51);
      const { files } = await loadVault(vault);
      const docs = files.map((f) => f.doc).filter((d): d is Record<string, unknown> => Boolean(d && typeof d.id === 'string'));
      const text = (d: Record<string, unknown>) => ({ title: String(d.title), scenario: String(d.scenario), question: String(d.question) });
      const exact = docs[10]!;
      const near = docs.find((d) => similarity(text(d), text(exact)) < 0.3)!;
      const nearCopy = { ...text(near), scenario: `${String(near.scenario)} Assume a steady state throughout.` };
      // The near copy is one the checker must call near (not exact), and it is near.
      const sim = similarity(nearCopy, text(near));
      expect(sim).toBeGreaterThanOrEqual(DEFAULT_NEAR_DUP_THRESHOLD);
      expect(sim).toBeLessThan(0.999);
      const copies = new Map<number, ReturnType<typeof text>>([
        [0, text(exact)],
        [1, nearCopy],
      ]);
      // Plan cells 0 and 1 (the first judge chunk of two) get the copies, whatever batch they are in.
      const { server } = await wholeRunServer(51, (answer, req, kind) => {
        if (kind !== 'generate') return answer;
        const cells = promptCells(req);
        return JSON.stringify(
          (JSON.parse(answer) as Item[]).map((it) => {
            const cell = cells.find((c) => c.index === it.cell_index);
            const copy = cell ? copies.get(planIndex(cell)) : undefined;
            return copy ? { ...it, ...copy } : it;
          }),
        );
      });
      await afterRun(redis, wholeRunConfig(vault, server, { judgeChunkSize: 2 }), [server], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(server.violations).toEqual([]);
        const { drafts, verdicts, unjudged } = await expectRunApplied(host, vault, runId);
        const byCell = new Map([...drafts.values()].map((d) => [d.cellIndex, d]));
        expect([...byCell.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
        // The exact copy is certain: DROPped by the pre-judge without a call. The near copy is
        // evidence (the certainty ladder, docs/checks.md): the judge sees it with the finding.
        const exactDraft = byCell.get(0)!;
        const nearDraft = byCell.get(1)!;
        const dropped = [exactDraft];
        const v = verdicts.get(exactDraft.id)!;
        expect(v.verdict).toBe('DROP');
        expect(v.source).toBe('prejudge');
        expect(v.model).toBe('prejudge');
        expect(v.issues.join('\n')).toMatch(/exact duplicate of vault question [a-z]+-\d+/);
        expect(v.applied).toBe('pruned');
        expect(existsSync(join(vault, exactDraft.path)), exactDraft.path).toBe(false);
        expect(verdicts.get(nearDraft.id)!.source).not.toBe('prejudge');
        const nearPrompt = server.requests.filter(isJudge).find((r) => judgedIds(r).includes(nearDraft.id));
        expect(nearPrompt, 'the near copy reaches the judge').toBeDefined();
        expect(nearPrompt!.prompt!).toMatch(/near-duplicate|near duplicate/i);
        // Chunks are formed after the pre-judge: the dropped draft's chunk has no draft for the model.
        const droppedChunk = exactDraft.chunk;
        // No judge request carried a dropped draft, in its <drafts> block or anywhere in its text.
        const judged = server.requests.filter(isJudge);
        for (const r of judged) for (const d of dropped) expect(r.prompt!.includes(d.id), `${d.id} sent to the judge`).toBe(false);
        // What the remaining drafts need: one call per chunk with a draft the pre-judge left to the model.
        const needModel = new Map<number, string[]>();
        for (const d of drafts.values()) if (verdicts.get(d.id)?.source !== 'prejudge') needModel.set(d.chunk, [...(needModel.get(d.chunk) ?? []), d.id]);
        expect(needModel.has(droppedChunk)).toBe(false);
        expect(needModel.size).toBeGreaterThan(0);
        expect(judged).toHaveLength(needModel.size);
        const sortedIds = (ids: string[]) => [...ids].sort().join(',');
        expect(judged.map((r) => sortedIds(judgedIds(r))).sort()).toEqual([...needModel.values()].map(sortedIds).sort());
        expect(unjudged.size).toBe(0);
        expect(state.callsUsed).toBe(server.requests.length);
      });
    });
  });

  describe('judge answers that do not match the chunk', () => {
    it('a verdict for an unknown id (a vault question, drafts of another chunk) is ignored and logged with that id; a draft the answer omits stays unjudged', async () => {
      const vault = await freshVault(300, 52);
      const original = questionHashes(vault);
      const { files } = await loadVault(vault);
      const vaultId = String(files[5]!.doc!.id);
      const vaultPath = files[5]!.relPath;
      const root = join(vault, '_validation_results', 'coverage_loop');
      /** The run's drafts in chunk order (judge_inputs.txt is written before the judge jobs exist). */
      const draftOrder = (): string[] => {
        const run = readdirSync(root).find((d) => existsSync(join(root, d, 'iter_00', 'judge_inputs.txt')))!;
        return readFileSync(join(root, run, 'iter_00', 'judge_inputs.txt'), 'utf8')
          .trim()
          .split('\n')
          .map((p) => basename(p, '.yaml'));
      };
      const rewritten = { extra: 0, omitted: 0 };
      const { server, answered } = await wholeRunServer(52, (answer, req, kind) => {
        if (kind !== 'judge') return answer;
        const order = draftOrder();
        const chunk = Math.floor(order.indexOf(judgedIds(req)[0]!) / 2);
        const items = JSON.parse(answer) as Item[];
        if (chunk === 0) {
          rewritten.extra++;
          // Extra DROPs: a vault question, and both drafts of chunk 1 (not in this chunk).
          const drop = (id: string) => ({ ...items[0], id, verdict: 'DROP', issues: ['duplicate'], fix_suggestion: '' });
          return JSON.stringify([...items, drop(vaultId), drop(order[2]!), drop(order[3]!)]);
        }
        if (chunk === 1) {
          rewritten.omitted++;
          // The third draft PASSes; the fourth has no verdict at all.
          return JSON.stringify(
            items.filter((v) => v.id !== order[3]).map((v) => (v.id === order[2] ? { ...v, verdict: 'PASS', criteria: PASS_CRITERIA, issues: [], fix_suggestion: '' } : v)),
          );
        }
        return answer;
      });
      // The pipeline's logger is pino at the default level (warn), here into memory instead of stderr.
      let logText = '';
      const log = pino({ level: 'warn', base: { pid: process.pid } }, { write: (line: string) => void (logText += line) });
      const cfg = wholeRunConfig(vault, server, { judgeChunkSize: 2 });
      const host = await CorpusHost.open({ cfg, vault, target: { options: redis.options, describe: redis.url }, log, inProcessWorkers: true, timings: { lockDuration: 10_000, stalledInterval: 2_000 } });
      try {
        const runId = await host.startRun(cfg);
        const state = await host.waitForRun(runId, undefined, undefined, 100);
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(server.violations).toEqual([]);
        expect(rewritten).toEqual({ extra: 1, omitted: 1 });

        const order = draftOrder();
        expect(order.length).toBe(5);
        const store = host.store;
        const drafts = await store.drafts(runId);
        const verdicts = await store.verdicts(runId);
        const unjudged = await store.unjudged(runId);

        // Nothing happened to the vault question the judge named: no verdict, its file byte for byte.
        expect(verdicts.has(vaultId)).toBe(false);
        const after = questionHashes(vault);
        for (const [f, h] of original) expect(after.get(f), f).toBe(h);
        expect(existsSync(join(vault, vaultPath))).toBe(true);
        // The other chunk's drafts were decided by their own chunk's answer only.
        const own = [...answered].find(([r]) => isJudge(r) && judgedIds(r).includes(order[2]!))!;
        expect(judgedIds(own[0]).sort()).toEqual([order[2], order[3]].sort());
        expect(verdicts.get(order[2]!)).toMatchObject({ verdict: 'PASS', source: 'model', applied: 'kept' });
        expect(existsSync(join(vault, drafts.get(order[2]!)!.path))).toBe(true);
        // The omitted draft: no verdict (not even the foreign DROP), recorded unjudged, file kept as a draft.
        const omitted = drafts.get(order[3]!)!;
        expect(verdicts.has(omitted.id)).toBe(false);
        expect(unjudged.get(omitted.id)).toMatchObject({ reason: expect.stringMatching(/no verdict/) });
        expect([...unjudged.keys()]).toEqual([omitted.id]);
        const doc = parseYaml(readFileSync(join(vault, omitted.path), 'utf8')) as { id: string; status: string };
        expect(doc).toMatchObject({ id: omitted.id, status: 'draft' });
        // Every draft other than the omitted one has exactly one verdict; files match verdicts.
        for (const d of drafts.values()) {
          if (d.id === omitted.id) continue;
          const v = verdicts.get(d.id)!;
          expect(v, d.id).toBeTruthy();
          expect(existsSync(join(vault, d.path))).toBe(v.verdict !== 'DROP');
        }
        // The records say so too.
        const rec = readRecords(vault, runId);
        expect(rec.iters[0]!.record!.unjudged).toBe(1);
        expect(rec.iters[0]!.judge!.unjudged.map((u) => u.id)).toEqual([omitted.id]);
        expect(rec.summary.history[0]!.unjudged).toBe(1);

        // The log names every unknown id, once per verdict ignored, at warn level with the run id.
        const logged = logText
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level: number; msg: string; id?: string; runId?: string })
          .filter((l) => /unknown id/.test(l.msg));
        expect(logged.map((l) => l.id).sort()).toEqual([vaultId, order[2], order[3]].sort());
        for (const l of logged) {
          expect(l.level).toBe(40);
          expect(l.msg).toBe('judge returned a verdict for an unknown id; ignored');
          expect(l.runId).toBe(runId);
        }
      } finally {
        await host.close();
        await server.close();
      }
    });
  });

  describe('gemini-cli in a worker', () => {
    let cli: Awaited<ReturnType<typeof installFakeGeminiCli>>;
    const saved = { PATH: process.env.PATH, FAKE_GEMINI_URL: process.env.FAKE_GEMINI_URL };
    beforeAll(async () => {
      cli = await installFakeGeminiCli();
      // The worker's provider spawns `gemini` with this process's environment.
      process.env.PATH = cli.env.PATH;
      process.env.FAKE_GEMINI_URL = cli.env.FAKE_GEMINI_URL;
    });
    afterAll(async () => {
      vi.useRealTimers();
      process.env.PATH = saved.PATH;
      if (saved.FAKE_GEMINI_URL === undefined) delete process.env.FAKE_GEMINI_URL;
      else process.env.FAKE_GEMINI_URL = saved.FAKE_GEMINI_URL;
      await cli.close();
    });

    it('a run with default settings gives its generate and judge calls a 300 s timeout, and the `gemini` process is killed at 300 s, not before', async () => {
      const cfg = testConfig(redis, '/nonexistent/vault', { provider: 'gemini-cli', model: 'gemini-test-pro' });
      expect(cfg.callTimeoutMs).toBe(300_000);
      const store = new RunStore(redis.client, redis.prefix);
      const runId = 'gemini-cli-timeout';
      await store.create({ runId, vault: '/nonexistent/vault', maxCalls: 5, config: storedConfig(cfg), generator: { provider: 'gemini-cli', model: 'gemini-test-pro' }, judge: { provider: 'gemini-cli', model: 'gemini-test-pro' } });
      const queues = createQueues({ connection: redis.options as ConnectionOptions, prefix: cfg.prefix });
      const ctx = createRuntimeContext({ cfg, target: { options: redis.options, describe: redis.url }, redis: redis.client, store, queues, log: silentLogger });
      const realSetTimeout = globalThis.setTimeout;
      const sleep = (ms: number) => new Promise<void>((r) => realSetTimeout(r, ms));
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const until = async (cond: () => boolean) => {
        for (let i = 0; i < 500 && !cond(); i++) await sleep(20);
        return cond();
      };
      try {
        // What the generate and judge processors are handed for this run (from its stored config).
        const gen = await ctx.generateDeps().provider(runId, 0);
        const judge = await (await ctx.judgeDeps(runId)).provider(runId, 0);
        expect(gen.provider.name).toBe('gemini-cli');
        expect(gen.timeoutMs).toBe(300_000);
        expect(judge.timeoutMs).toBe(300_000);

        // That value through the whole stack (cache → budget → provider) into the kill logic, on a
        // virtual clock: the stand-in never answers.
        cli.script({ mode: 'hang' });
        const before = cli.calls.length;
        vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
        let settled = false;
        const p = gen.provider
          .complete({ purpose: 'generate', prompt: 'never answered', temperature: gen.temperature, timeoutMs: gen.timeoutMs })
          .catch((e: unknown) => e)
          .finally(() => (settled = true));
        expect(await until(() => cli.calls.length > before)).toBe(true);
        const call = cli.calls.at(-1)!;
        expect(call.violations).toEqual([]);
        expect(call.model).toBe('gemini-test-pro');
        vi.advanceTimersByTime(299_999);
        await sleep(300);
        expect(settled).toBe(false);
        expect(alive(call.pid)).toBe(true);
        vi.advanceTimersByTime(1);
        const err = await p;
        vi.useRealTimers();
        expect(err).toBeInstanceOf(LlmTransientError);
        expect((err as Error).message).toMatch(/no answer within 300000 ms/);
        expect(await until(() => !alive(call.pid))).toBe(true);
        // The call reached the provider: it counts against the run's budget, once.
        expect((await store.get(runId))!.callsUsed).toBe(1);
      } finally {
        vi.useRealTimers();
        await queues.close();
      }
    });
  });

  describe('response cache inside runs', () => {
    const own = fileRedis('provevid-cache');

    it('stores the provider raw text (prose, fences and all) with the configured TTL, never an error, and parses it on every read: a rewritten cached answer becomes the next run’s drafts with no generate call', async () => {
      const TTL = 4321;
      const salt = 'cache-parse';
      const proseWrap = (json: string) => `Sure — here are the questions [as asked]:\n\n\`\`\`json\n${json}\n\`\`\`\n\nLet me know {if} you need changes.`;
      // Run 1: the generator answers in prose around a fenced JSON block; the first judge call fails with a 500.
      const first = await wholeRunServer(53, (answer, _req, kind) => (kind === 'generate' ? proseWrap(JSON.stringify(JSON.parse(answer), null, 2)) : answer));
      const genIdx = 0;
      first.server.script({ type: 'answer' }, { type: 'error', status: 500, message: 'scripted boom, never cache me' });
      const vault1 = await freshVault(300, 53);
      const flags = { cacheTtlSeconds: TTL, variantSalt: salt };
      const rewrittenTitles = await afterRun(own, wholeRunConfig(vault1, first.server, flags, own), [first.server], async (run1) => {
        expect(run1.state.status, run1.state.stopReason ?? '').toBe('completed');
        expect(first.server.violations).toEqual([]);
        const gens = first.server.requests.filter(isGenerate);
        expect(gens).toHaveLength(1);
        const genPrompt = gens[genIdx]!.prompt!;
        const failed = first.server.requests.filter((r) => r.step.type === 'error');
        expect(failed).toHaveLength(1);
        expect(isJudge(failed[0]!)).toBe(true);
        // The failed judge prompt was asked again and answered.
        expect(first.server.requests.filter((r) => r.prompt === failed[0]!.prompt && r.step.type === 'answer')).toHaveLength(1);

        // One cache entry per answered request, none for the error; each with the configured TTL.
        const keys = await own.client.keys(cacheKey(own.prefix, '*'));
        const okRequests = first.server.requests.filter((r) => r.step.type === 'answer');
        expect(keys.length).toBe(new Set(okRequests.map((r) => r.prompt)).size);
        const stored = new Map<string, { text: string }>();
        for (const k of keys) {
          const ttl = await own.client.ttl(k);
          expect(ttl).toBeGreaterThan(TTL - 300);
          expect(ttl).toBeLessThanOrEqual(TTL);
          stored.set(k, JSON.parse((await own.client.get(k))!) as { text: string });
        }
        for (const s of stored.values()) expect(s.text).not.toContain('scripted boom');
        // The generate entry holds the server's text byte for byte: prose, fence and all, unparsed.
        const sent = first.answered.get(gens[genIdx]!)!;
        expect(sent.startsWith('Sure — here are the questions')).toBe(true);
        const genEntries = [...stored].filter(([, s]) => s.text === sent);
        expect(genEntries).toHaveLength(1);
        const [genKey] = genEntries[0]!;

        // Rewrite that raw entry: other titles, wrapped in an object under prose, areas in a malformed
        // spelling — text only the parser, reading it after the cache, can turn into drafts.
        const cells = readPromptBlock(genPrompt, 'cells') as { index: number; competency_area: string; with_visual: boolean; level: string }[];
        const items = (JSON.parse(sent.slice(sent.indexOf('```json') + 7, sent.lastIndexOf('```'))) as Item[]).map((it) => {
          const cell = cells.find((c) => c.index === it.cell_index)!;
          return { ...it, title: `Cached Rewrite ${String(it.cell_index)}: ${String(it.title)}`.split(' ').slice(0, 9).join(' '), competency_area: ` ${cell.competency_area.replace(/-/g, '_').toUpperCase()} ` };
        });
        const titles = items.map((it) => String(it.title));
        const rewritten = `The answer, revised.\n\`\`\`json\n${JSON.stringify({ items })}\n\`\`\`\n[end]`;
        // The current parser reads it (as the generate processor will).
        expect(parseGenerateAnswer(rewritten, cells as never).items.size).toBe(cells.length);
        await own.client.set(genKey, JSON.stringify({ ...JSON.parse((await own.client.get(genKey))!), text: rewritten }), 'KEEPTTL');
        return titles;
      });

      // Run 2: the same vault content, config and salt, so the same generate prompt.
      const second = await wholeRunServer(53);
      const vault2 = await freshVault(300, 53);
      await afterRun(own, wholeRunConfig(vault2, second.server, flags, own), [second.server], async (run2) => {
        expect(run2.state.status, run2.state.stopReason ?? '').toBe('completed');
        expect(second.server.violations).toEqual([]);
        // Served from the cache: the provider never saw a generate prompt, and the budget counts only the judge.
        expect(second.server.requests.filter(isGenerate)).toHaveLength(0);
        expect(second.server.requests.filter(isRepair)).toHaveLength(0);
        expect(second.server.requests.filter(isJudge).length).toBeGreaterThan(0);
        expect(run2.state.callsUsed).toBe(second.server.requests.length);
        // The drafts are what the rewritten raw text says, parsed now.
        const { drafts } = await expectRunApplied(run2.host, vault2, run2.runId);
        expect(drafts.size).toBe(rewrittenTitles.length);
        const titles = [...second.server.requests.filter(isJudge)].flatMap((r) => readPromptBlock(r.prompt!, 'drafts') as { title: string }[]).map((d) => d.title);
        expect(titles.sort()).toEqual([...rewrittenTitles].sort());
        const planned = readRecords(vault2, run2.runId).iters[0]!.plan as { competency_area: string }[];
        for (const d of drafts.values()) expect(d.path).toContain(`/${planned[d.cellIndex]!.competency_area}/`);
      });
    });
  });

  describe('answer shapes a real model sends, through whole runs', () => {
    it('brackets inside strings, the whole answer in prose and ```json fences: every cell drafted with its strings intact, every verdict applied, no repair call', async () => {
      const vault = await freshVault(300, 54);
      const scenarioTail = ' Its config reads {"batch": [8, 16]} and the log ends with "]]}{" then a stray [ and }.';
      const questionTail = ' Answer as [value] {unit}.';
      const reasoningTail = ' Checked [all] numbers}} {twice] [[.';
      const wrap = (json: string) => `Here is the JSON [see below] you asked for {as requested}:\n\`\`\`json\n${json}\n\`\`\`\nNotes: ] } [ { — done.`;
      const { server, answered } = await wholeRunServer(54, (answer, _req, kind) => {
        const items = JSON.parse(answer) as Item[];
        if (kind === 'generate') return wrap(JSON.stringify(items.map((it) => ({ ...it, scenario: `${String(it.scenario)}${scenarioTail}`, question: `${String(it.question)}${questionTail}` })), null, 2));
        if (kind === 'judge') return wrap(JSON.stringify(items.map((v) => ({ ...v, reasoning: `${String(v.reasoning ?? '')}${reasoningTail}` }))));
        return answer;
      });
      await afterRun(redis, wholeRunConfig(vault, server), [server], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(server.violations).toEqual([]);
        expect(server.requests.filter(isRepair)).toHaveLength(0);
        // Every answer really went out in prose and fences (the server passes non-JSON text through as is).
        expect(server.requests.length).toBeGreaterThanOrEqual(2);
        for (const r of server.requests) expect(answered.get(r)!.startsWith('Here is the JSON [see below]'), kindOf(r)).toBe(true);
        const { drafts, verdicts, unjudged, rec } = await expectRunApplied(host, vault, runId);
        expect(drafts.size).toBe(rec.iters[0]!.plan!.length);
        expect(unjudged.size).toBe(0);
        expect(verdicts.size).toBe(drafts.size);
        for (const v of verdicts.values()) if (v.source === 'model') expect(v.reasoning?.endsWith(reasoningTail), v.id).toBe(true);
        expect([...verdicts.values()].some((v) => v.source === 'model')).toBe(true);
        // The strings arrived whole in the drafts (the kept files say so; the judge saw them too).
        const sentToJudge = server.requests.filter(isJudge).flatMap((r) => readPromptBlock(r.prompt!, 'drafts') as { id: string; scenario: string; question: string }[]);
        for (const d of sentToJudge) {
          expect(d.scenario.endsWith(scenarioTail), d.id).toBe(true);
          expect(d.question.endsWith(questionTail), d.id).toBe(true);
        }
        for (const d of drafts.values()) {
          if (!existsSync(join(vault, d.path))) continue;
          const doc = parseYaml(readFileSync(join(vault, d.path), 'utf8')) as { scenario: string; question: string };
          expect(doc.scenario.endsWith(scenarioTail)).toBe(true);
          expect(doc.question.endsWith(questionTail)).toBe(true);
        }
        expect(state.callsUsed).toBe(server.requests.length);
      });
    });

    describe.each([
      [
        'extra items (cell indexes past the batch, negative, missing)',
        (items: Item[]) => [
          ...items,
          { ...items[0], cell_index: items.length, title: 'EXTRA past the batch' },
          { ...items[1], cell_index: 99, title: 'EXTRA far past the batch' },
          { ...items[2], cell_index: -1, title: 'EXTRA negative index' },
          { ...Object.fromEntries(Object.entries(items[3]!).filter(([k]) => k !== 'cell_index')), title: 'EXTRA without an index' },
        ],
      ],
      [
        'duplicate cell indexes (a second item for two cells)',
        (items: Item[]) => [
          ...items,
          { ...items[0], title: 'DUPLICATE for the first cell', scenario: 'DUPLICATE scenario text.' },
          { ...items[3], title: 'DUPLICATE for the fourth cell', scenario: 'DUPLICATE scenario text.' },
        ],
      ],
    ] as const)('a generate answer with %s', (_name, mutate) => {
      it('drafts land one per cell from the first item of each, no repair call, and the extra or duplicate items create no file', async () => {
        const vault = await freshVault(300, 55);
        const before = new Set(questionFiles(vault));
        const firstTitles = new Map<number, string>();
        const { server } = await wholeRunServer(55, (answer, req, kind) => {
          if (kind !== 'generate') return answer;
          const items = JSON.parse(answer) as Item[];
          const cells = promptCells(req);
          for (const it of items) firstTitles.set(planIndex(cells.find((c) => c.index === it.cell_index)!), String(it.title));
          return JSON.stringify(mutate(items));
        });
        await afterRun(redis, wholeRunConfig(vault, server), [server], async ({ runId, state, host }) => {
          expect(state.status, state.stopReason ?? '').toBe('completed');
          expect(server.violations).toEqual([]);
          expect(server.requests.filter(isRepair)).toHaveLength(0);
          const { drafts, verdicts, rec } = await expectRunApplied(host, vault, runId);
          const planned = rec.iters[0]!.plan!.length;
          expect(planned).toBe(5);
          expect(drafts.size).toBe(planned);
          expect(new Set([...drafts.values()].map((d) => d.cellIndex)).size).toBe(planned);
          expect(rec.summary.history[0]!.generated).toBe(planned);
          // Each cell's draft is its first item; the judge saw those and nothing else.
          const judged = server.requests.filter(isJudge).flatMap((r) => readPromptBlock(r.prompt!, 'drafts') as { id: string; title: string; scenario: string }[]);
          for (const j of judged) {
            const d = drafts.get(j.id)!;
            expect(j.title).toBe(firstTitles.get(d.cellIndex));
            expect(`${j.title} ${j.scenario}`).not.toMatch(/EXTRA|DUPLICATE/);
          }
          // The new files are exactly the drafts that were kept, and none carries an extra item.
          const added = questionFiles(vault).filter((f) => !before.has(f));
          const kept = [...drafts.values()].filter((d) => verdicts.get(d.id)?.verdict !== 'DROP').map((d) => d.path);
          expect(added.sort()).toEqual(kept.sort());
          for (const f of added) expect(readFileSync(join(vault, f), 'utf8')).not.toMatch(/EXTRA|DUPLICATE/);
          expect(state.callsUsed).toBe(server.requests.length);
        });
      });
    });
  });
});

describe('rate limits from config, counted repairs, timeout retries, temperature, config provider keys, Bloom levels', () => {
  /**
   * Provider behaviour inside the worker stack and whole runs (real SDKs against their fake servers
   * on 127.0.0.1, the offline provider as the model behind them): the shared rate limits taken from
   * the config keys requestsPerMinute / tokensPerMinute; a zod-invalid item repaired by one counted
   * call whose <errors> block names the cell and the field; a timed-out call retried after the
   * queue's backoff; the generation temperature of `run --temperature`; the provider keys of
   * vault-loop.config.yaml in a `run`; the judge prompt's Bloom level for every draft.
   */
  const KEY = 'sk-stack';
  const children: ChildProcess[] = [];
  const redis = fileRedis('provevid2', { children });

  type Item = Record<string, unknown>;
  /** A fake server answering with the offline provider, through `rewrite` (this file's key unless given). */
  const offlineServer = (protocol: Protocol, seed: number, opts: { apiKey?: string; expectModel?: string; defectRate?: number; rewrite?: Rewrite } = {}) =>
    offlineServerOf(protocol, seed, { ...opts, apiKey: opts.apiKey ?? KEY });

  function openaiConfig(vault: string, server: FakeLlmServer, flags: ConfigInput = {}) {
    return openaiRunConfig(redis, vault, server, KEY, flags);
  }

  /** The rate-limit key `key` lives in a fixed window of one minute. */
  async function expectMinuteWindow(key: string): Promise<void> {
    const ttl = await redis.client.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
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
    /** The call fails with the rate-limit error naming `limit` (provider:model). */
    async function refusedByLimit(call: Promise<unknown>, limit: string): Promise<LlmRateLimitedError> {
      const err = await call.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LlmRateLimitedError);
      expect((err as Error).message).toContain(`${limit} limit reached`);
      return err as LlmRateLimitedError;
    }

    it('requestsPerMinute: each call takes a point in {prefix}:rl:req:<provider>:<model> for the minute; the call past the limit is refused before it reaches the server and is not counted', async () => {
      const s = await workerStack('evid2-rpm', { model: 'rpm-model', judgeModel: 'rpm-judge', requestsPerMinute: 2 });
      try {
        await s.call(s.gen, 'rpm one');
        await s.call(s.gen, 'rpm two');
        expect(sentTo('rpm-model')).toBe(2);
        expect(await redis.client.get(rlKey('req', 'rpm-model'))).toBe('2');
        // A fixed window of one minute.
        await expectMinuteWindow(rlKey('req', 'rpm-model'));

        const err = await refusedByLimit(s.call(s.gen, 'rpm three'), 'openai:rpm-model');
        // The next slot is in the next minute window: more than the 30 s a call may wait, so the job is given back to the queue.
        expect(err.retryAfterMs).toBeGreaterThan(30_000);
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
        await expectMinuteWindow(rlKey('tok', 'tpm-model'));

        // ~1000 more tokens (the output cap) do not fit in 1500 this minute.
        await refusedByLimit(s.call(s.gen, 'tpm two'), 'openai:tpm-model');
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
      await closeAfter([gen.server, judge.server], async () => {
        const summary = await smallCliRun({ redis, children }, ['--vault', vault, '--trust-vault-config', '--judge-model', 'flag-judge-model'], { OPENAI_API_KEY: 'sk-file', ANTHROPIC_API_KEY: 'ak-file' });
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
        for (const k of [key('req', 'openai', 'file-gen-model'), key('tok', 'anthropic', 'flag-judge-model')]) await expectMinuteWindow(k);
        expect(await redis.client.exists(key('req', 'anthropic', 'file-judge-model'))).toBe(0);
      });
    });
  });

  describe('generation temperature', () => {
    it('`run --temperature 1.1 --judge-temperature 0.2`: every generate request carries 1.1 and every judge request 0.2', async () => {
      const vault = await freshVault(300, 62);
      const { server } = await offlineServer('openai', 62, { expectModel: 'temp-model' });
      await closeAfter([server], async () => {
        const summary = await smallCliRun(
          { redis, children },
          ['--vault', vault, '--provider', 'openai', '--model', 'temp-model', '--base-url', server.baseUrl, '--temperature', '1.1', '--judge-temperature', '0.2'],
          { OPENAI_API_KEY: KEY },
        );
        expect(server.violations).toEqual([]);
        const { gen, judge } = generateAndJudge(server);
        expect(gen.length + judge.length).toBe(server.requests.length);
        expect(gen.map((r) => r.temperature)).toEqual(gen.map(() => 1.1));
        expect(judge.map((r) => r.temperature)).toEqual(judge.map(() => 0.2));
        expect(readJson<{ config: { temperature: number; judgeTemperature: number } }>(join(runDir(vault, summary.run_id), 'run.json'))!.config).toMatchObject({ temperature: 1.1, judgeTemperature: 0.2 });
      });
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
      await afterRun(redis, openaiConfig(vault, server, { genCallsPerIter: 1, batchWindowMs: 2000 }), [server], async ({ runId, state, host }) => {
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
      });
    });
  });

  describe('timeouts', () => {
    it('a hung call times out after callTimeoutMs and its cells are retried after the queue backoff: the retry comes no sooner than timeout + first backoff, and each of those jobs completes on attempt 2', async () => {
      const vault = await freshVault(300, 64);
      const { server } = await offlineServer('openai', 64);
      server.script({ type: 'hang' });
      const TIMEOUT = 1000;
      const cfg = openaiConfig(vault, server, { callTimeoutMs: TIMEOUT, genCallsPerIter: 1 });
      await afterRun(redis, cfg, [server], async ({ runId, state, host }) => {
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
      });
    });
  });

  describe('the judge prompt in a run', () => {
    it("gives every draft its cell's track, topic, zone, level and the Bloom level of that level", async () => {
      const vault = await freshVault(300, 65);
      const { server } = await offlineServer('openai', 65, { defectRate: 0.3 });
      const cfg = openaiConfig(vault, server, { maxIters: 2, genCallsPerIter: 2 });
      await afterRun(redis, cfg, [server], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(server.violations).toEqual([]);
        const { rec, drafts } = await expectRunApplied(host, vault, runId);
        expectJudgePrompts(server.requests, drafts, cfg.judgeChunkSize);
        const plans = rec.iters.map((i) => (i.plan ?? []) as { track: string; topic: string; zone: string; level: Level }[]);
        const seen: JudgePromptDraft[] = server.requests.filter(isJudge).flatMap((r) => readPromptBlock(r.prompt!, 'drafts') as JudgePromptDraft[]);
        expect(seen.length).toBeGreaterThan(0);
        for (const d of seen) {
          const rec = drafts.get(d.id)!;
          const cell = plans[rec.iter]![rec.cellIndex]!;
          expect({ track: d.track, topic: d.topic, zone: d.zone, level: d.level }, d.id).toEqual({ track: cell.track, topic: cell.topic, zone: cell.zone, level: cell.level });
          expect(d.bloom_level, d.id).toBe(LEVEL_BLOOM[cell.level]);
        }
        // Not one level only: the check covers different Bloom levels.
        expect(new Set(seen.map((d) => d.bloom_level)).size).toBeGreaterThan(1);
      });
    });
  });
});
