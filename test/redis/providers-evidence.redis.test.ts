/**
 * Issue #5 lines shown inside whole runs through the openai SDK and its fake server (the offline
 * provider as the model behind it): the pre-judge's duplicate DROPs cost no judge call; a verdict
 * for an unknown id is ignored and logged, a draft with no verdict stays unjudged; gemini-cli's
 * 300 s timeout reaches the kill logic through a worker's provider stack; the response cache keeps
 * the raw text and parses it on every read; brackets inside strings, prose and fences, extra and
 * duplicate items. (A killed generate worker's retry, served from the cache and counted once in the
 * budget, is in providers-faults.)
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_NEAR_DUP_THRESHOLD, similarity } from '../../src/checks/index.js';
import { LlmTransientError } from '../../src/errors.js';
import { loadVault } from '../../src/corpus/loader.js';
import { cacheKey } from '../../src/llm/cache.js';
import { parseGenerateAnswer } from '../../src/llm/parse.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { createQueues } from '../../src/queues/index.js';
import { CorpusHost, storedConfig } from '../../src/scheduler/host.js';
import { RunStore } from '../../src/scheduler/state.js';
import { silentLogger } from '../../src/util/log.js';
import { createRuntimeContext } from '../../src/workers/context.js';
import { FakeLlmServer, installFakeGeminiCli, type SeenRequest } from '../helpers/fake-llm/index.js';
import { expectRunApplied, isGenerate, isJudge, isRepair, kindOf, offlineServer, questionFiles, type Rewrite } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const KEY = 'sk-evidence';
let redis: TestRedis;
beforeAll(async () => {
  redis = await useTestRedis('provevid');
});
afterAll(async () => {
  await redis.cleanup();
});

type Item = Record<string, unknown>;
/** An openai fake server answering with the offline provider (no defects), through `rewrite`. */
const evidenceServer = (seed: number, rewrite?: Rewrite) => offlineServer('openai', seed, { apiKey: KEY, ...(rewrite ? { rewrite } : {}) });

function evidenceConfig(vault: string, server: FakeLlmServer, flags: Record<string, unknown> = {}, on: TestRedis = redis) {
  return testConfig(on, vault, {
    provider: 'openai',
    model: 'gen-model',
    judgeModel: 'judge-model',
    baseUrl: server.baseUrl,
    openaiApiKey: KEY,
    maxIters: 1,
    maxDropRate: 1,
    maxCalls: 40,
    // One batch of five cells per call (a full batch goes at once; the long window keeps a loaded
    // machine from splitting it).
    genCallsPerIter: 1,
    batchWindowMs: 2000,
    ...flags,
  });
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
  it('a generated exact copy and a near copy of vault questions are DROPped without a call: the judge never sees their ids, and only chunks with other drafts cost a judge call', async () => {
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
    const { server } = await evidenceServer(51, (answer, req, kind) => {
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
    const { runId, state, host } = await runToEnd(redis, evidenceConfig(vault, server, { judgeChunkSize: 2 }));
    try {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);
      const { drafts, verdicts, unjudged } = await expectRunApplied(host, vault, runId);
      const byCell = new Map([...drafts.values()].map((d) => [d.cellIndex, d]));
      expect([...byCell.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
      const dropped = [byCell.get(0)!, byCell.get(1)!];
      for (const [d, what] of [
        [dropped[0]!, 'exact duplicate'],
        [dropped[1]!, 'near duplicate'],
      ] as const) {
        const v = verdicts.get(d.id)!;
        expect(v.verdict).toBe('DROP');
        expect(v.source).toBe('prejudge');
        expect(v.model).toBe('prejudge');
        expect(v.issues.join('\n')).toMatch(new RegExp(`${what} of vault question [a-z]+-\\d+`));
        expect(v.applied).toBe('pruned');
        expect(existsSync(join(vault, d.path)), d.path).toBe(false);
        expect(d.chunk).toBe(0);
      }
      // No judge request carried a dropped draft, in its <drafts> block or anywhere in its text.
      const judged = server.requests.filter(isJudge);
      for (const r of judged) for (const d of dropped) expect(r.prompt!.includes(d.id), `${d.id} sent to the judge`).toBe(false);
      // What the remaining drafts need: one call per chunk with a draft the pre-judge left to the model.
      const needModel = new Map<number, string[]>();
      for (const d of drafts.values()) if (verdicts.get(d.id)?.source !== 'prejudge') needModel.set(d.chunk, [...(needModel.get(d.chunk) ?? []), d.id]);
      expect(needModel.has(0)).toBe(false);
      expect(needModel.size).toBeGreaterThan(0);
      expect(judged).toHaveLength(needModel.size);
      const sortedIds = (ids: string[]) => [...ids].sort().join(',');
      expect(judged.map((r) => sortedIds(judgedIds(r))).sort()).toEqual([...needModel.values()].map(sortedIds).sort());
      expect(unjudged.size).toBe(0);
      expect(state.callsUsed).toBe(server.requests.length);
    } finally {
      await host.close();
      await server.close();
    }
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
    const { server, answered } = await evidenceServer(52, (answer, req, kind) => {
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
    const cfg = evidenceConfig(vault, server, { judgeChunkSize: 2 });
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
    const runId = 'evidence-gemini-cli-timeout';
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
  let own: TestRedis;
  beforeAll(async () => {
    // A prefix of its own: every cache key here belongs to these two runs.
    own = await useTestRedis('provevid-cache');
  });
  afterAll(async () => {
    await own.cleanup();
  });

  it('stores the provider raw text (prose, fences and all) with the configured TTL, never an error, and parses it on every read: a rewritten cached answer becomes the next run’s drafts with no generate call', async () => {
    const TTL = 4321;
    const salt = 'evidence-cache-parse';
    const proseWrap = (json: string) => `Sure — here are the questions [as asked]:\n\n\`\`\`json\n${json}\n\`\`\`\n\nLet me know {if} you need changes.`;
    // Run 1: the generator answers in prose around a fenced JSON block; the first judge call fails with a 500.
    const first = await evidenceServer(53, (answer, _req, kind) => (kind === 'generate' ? proseWrap(JSON.stringify(JSON.parse(answer), null, 2)) : answer));
    const genIdx = 0;
    first.server.script({ type: 'answer' }, { type: 'error', status: 500, message: 'scripted boom, never cache me' });
    const vault1 = await freshVault(300, 53);
    const flags = { cacheTtlSeconds: TTL, variantSalt: salt };
    const run1 = await runToEnd(own, evidenceConfig(vault1, first.server, flags, own));
    let genPrompt: string;
    let rewrittenTitles: string[];
    try {
      expect(run1.state.status, run1.state.stopReason ?? '').toBe('completed');
      expect(first.server.violations).toEqual([]);
      const gens = first.server.requests.filter(isGenerate);
      expect(gens).toHaveLength(1);
      genPrompt = gens[genIdx]!.prompt!;
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
      rewrittenTitles = items.map((it) => String(it.title));
      const rewritten = `The answer, revised.\n\`\`\`json\n${JSON.stringify({ items })}\n\`\`\`\n[end]`;
      // The current parser reads it (as the generate processor will).
      expect(parseGenerateAnswer(rewritten, cells as never).items.size).toBe(cells.length);
      await own.client.set(genKey, JSON.stringify({ ...JSON.parse((await own.client.get(genKey))!), text: rewritten }), 'KEEPTTL');
    } finally {
      await run1.host.close();
      await first.server.close();
    }

    // Run 2: the same vault content, config and salt, so the same generate prompt.
    const second = await evidenceServer(53);
    const vault2 = await freshVault(300, 53);
    const run2 = await runToEnd(own, evidenceConfig(vault2, second.server, flags, own));
    try {
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
    } finally {
      await run2.host.close();
      await second.server.close();
    }
  });
});

describe('answer shapes a real model sends, through whole runs', () => {
  it('brackets inside strings, the whole answer in prose and ```json fences: every cell drafted with its strings intact, every verdict applied, no repair call', async () => {
    const vault = await freshVault(300, 54);
    const scenarioTail = ' Its config reads {"batch": [8, 16]} and the log ends with "]]}{" then a stray [ and }.';
    const questionTail = ' Answer as [value] {unit}.';
    const reasoningTail = ' Checked [all] numbers}} {twice] [[.';
    const wrap = (json: string) => `Here is the JSON [see below] you asked for {as requested}:\n\`\`\`json\n${json}\n\`\`\`\nNotes: ] } [ { — done.`;
    const { server, answered } = await evidenceServer(54, (answer, _req, kind) => {
      const items = JSON.parse(answer) as Item[];
      if (kind === 'generate') return wrap(JSON.stringify(items.map((it) => ({ ...it, scenario: `${String(it.scenario)}${scenarioTail}`, question: `${String(it.question)}${questionTail}` })), null, 2));
      if (kind === 'judge') return wrap(JSON.stringify(items.map((v) => ({ ...v, reasoning: `${String(v.reasoning ?? '')}${reasoningTail}` }))));
      return answer;
    });
    const { runId, state, host } = await runToEnd(redis, evidenceConfig(vault, server));
    try {
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
    } finally {
      await host.close();
      await server.close();
    }
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
      const { server } = await evidenceServer(55, (answer, req, kind) => {
        if (kind !== 'generate') return answer;
        const items = JSON.parse(answer) as Item[];
        const cells = promptCells(req);
        for (const it of items) firstTitles.set(planIndex(cells.find((c) => c.index === it.cell_index)!), String(it.title));
        return JSON.stringify(mutate(items));
      });
      const { runId, state, host } = await runToEnd(redis, evidenceConfig(vault, server));
      try {
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
      } finally {
        await host.close();
        await server.close();
      }
    });
  });
});
