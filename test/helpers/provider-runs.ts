/**
 * Checks shared by the whole-run provider tests (providers-run, providers-faults): what a finished
 * run must have left in Redis, in the records and in the vault, whatever provider produced it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Config, ConfigInput } from '../../src/config/index.js';
import { validateQuestion } from '../../src/corpus/schema.js';
import { isLevel, LEVEL_BLOOM } from '../../src/corpus/taxonomy.js';
import { promptHashes, readPromptBlock } from '../../src/llm/prompts.js';
import { readJson, runDir } from '../../src/scheduler/records.js';
import type { CorpusHost } from '../../src/host/corpus-host.js';
import type { AppliedVerdict, DraftRecord } from '../../src/state/run-state.js';
import { FakeLlmServer, type Protocol, type SeenRequest } from './fake-llm/index.js';
import { offlineAnswerer, readRecords, testConfig, type RunRecords } from './pipeline.js';
import type { TestRedis } from './redis.js';

/** A request as a fake server or the fake gemini CLI saw it. */
export interface Seen {
  prompt: string | undefined;
  schema?: unknown;
}

export const isGenerate = (r: Seen): boolean => /^<cells>\s*$/m.test(r.prompt ?? '');
export const isJudge = (r: Seen): boolean => /^<drafts>\s*$/m.test(r.prompt ?? '');
export const isRepair = (r: Seen): boolean => /^<repair>\s*$/m.test(r.prompt ?? '');

interface PromptCellJson {
  index: number;
  track: string;
  topic: string;
  competency_area: string;
}

/** Every `<cells>` block sent, with the prompt it came in. */
export function sentCells(requests: Seen[]): { prompt: string; cells: PromptCellJson[] }[] {
  return requests.filter(isGenerate).map((r) => ({ prompt: r.prompt!, cells: readPromptBlock(r.prompt!, 'cells') as PromptCellJson[] }));
}

/**
 * The generate prompts carry the `<cells>` block, every planned cell was asked for, and each cell's
 * competency area is named in the prompt text (outside the JSON block too: the instructions give it).
 */
export function expectGeneratePrompts(requests: Seen[], rec: RunRecords, opts: { schema: boolean }): void {
  const sent = sentCells(requests);
  expect(sent.length).toBeGreaterThan(0);
  for (const s of sent) {
    expect(s.cells.length).toBeGreaterThan(0);
    const outside = s.prompt.replace(/^<cells>\s*$[\s\S]*?^<\/cells>\s*$/m, '');
    for (const c of s.cells) {
      expect(c.competency_area, JSON.stringify(c)).toMatch(/\S/);
      expect(outside, `area ${c.competency_area} named outside the <cells> block`).toContain(c.competency_area);
    }
  }
  if (opts.schema) for (const r of requests.filter((x) => isGenerate(x) || isJudge(x))) expect(r.schema, 'structured output schema sent').toBeTruthy();
  // Every planned cell was asked for in some generate prompt (by topic and area).
  const asked = new Set(sent.flatMap((s) => s.cells.map((c) => `${c.track}/${c.topic}/${c.competency_area}`)));
  const planned = rec.iters.flatMap((i) => (i.plan ?? []) as { track: string; topic: string; competency_area?: string }[]);
  expect(planned.length).toBeGreaterThan(0);
  for (const p of planned) expect(asked.has(`${p.track}/${p.topic}/${p.competency_area}`), `${p.track}/${p.topic}`).toBe(true);
}

/** The judge prompts carry the `<drafts>` block, naming only drafts of this run. */
/** Every judge call asked about known drafts only, at most `chunkSize` (judgeChunkSize) of them. */
export function expectJudgePrompts(requests: Seen[], drafts: Map<string, DraftRecord>, chunkSize: number): void {
  const judged = requests.filter(isJudge);
  expect(judged.length).toBeGreaterThan(0);
  for (const r of judged) {
    const block = readPromptBlock(r.prompt!, 'drafts') as { id: string; competency_area: string; level: string; bloom_level: string }[];
    expect(block.length).toBeGreaterThan(0);
    expect(block.length).toBeLessThanOrEqual(chunkSize);
    for (const d of block) {
      expect(drafts.has(d.id), `judge asked about unknown draft ${d.id}`).toBe(true);
      expect(d.competency_area).toMatch(/\S/);
      // Each draft's Bloom level is the one of its level.
      expect(isLevel(d.level), `${d.id} level ${d.level}`).toBe(true);
      expect(d.bloom_level, `${d.id} bloom_level`).toBe(LEVEL_BLOOM[d.level as keyof typeof LEVEL_BLOOM]);
    }
  }
}

/** Every file under questions/, vault-relative. */
export function questionFiles(vault: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(vault, p).split(sep).join('/'));
    }
  };
  if (existsSync(join(vault, 'questions'))) walk(join(vault, 'questions'));
  return out;
}

/**
 * Drafts and verdicts: every kept draft is a file at questions/<track>/<area>/<id>.yaml that
 * validates; every pruned one is gone; the records agree with Redis; run.json has the prompt hashes.
 */
export async function expectRunApplied(
  host: CorpusHost,
  vault: string,
  runId: string,
): Promise<{ rec: RunRecords; drafts: Map<string, DraftRecord>; verdicts: Map<string, AppliedVerdict>; unjudged: Set<string> }> {
  const drafts = await host.store.drafts(runId);
  const verdicts = await host.store.verdicts(runId);
  const unjudged = new Set((await host.store.unjudged(runId)).keys());
  expect(drafts.size).toBeGreaterThan(0);
  for (const d of drafts.values()) {
    expect(d.path).toMatch(new RegExp(`^questions/${d.track}/[a-z0-9-]+/${d.id}\\.yaml$`));
    const v = verdicts.get(d.id);
    if (v?.verdict === 'DROP') {
      expect(v.applied).toBe('pruned');
      expect(existsSync(join(vault, d.path)), d.path).toBe(false);
      continue;
    }
    expect(existsSync(join(vault, d.path)), d.path).toBe(true);
    const doc = parseYaml(readFileSync(join(vault, d.path), 'utf8')) as Record<string, unknown>;
    expect(doc.id).toBe(d.id);
    expect(validateQuestion(doc, d.path).filter((p) => p.severity === 'error')).toEqual([]);
    if (v) expect(v.applied).toBe('kept');
  }
  const rec = readRecords(vault, runId);
  const onDisk = rec.iters.flatMap((i) => i.judge?.details ?? []);
  expect(onDisk.map((d) => `${d.id}:${d.verdict}`).sort()).toEqual([...verdicts.values()].map((v) => `${v.id}:${v.verdict}`).sort());
  const runJson = readJson<{ prompts: Record<string, string> }>(join(runDir(vault, runId), 'run.json'))!;
  expect(runJson.prompts).toEqual(promptHashes());
  expect(Object.keys(runJson.prompts)).toEqual(expect.arrayContaining(['generate', 'judge', 'repair', 'revise']));
  return { rec, drafts, verdicts, unjudged };
}

export const isRevise = (r: Seen): boolean => /^<revisions>\s*$/m.test(r.prompt ?? '');
export type Kind = 'generate' | 'judge' | 'repair' | 'revise' | 'other';
export const kindOf = (req: Seen): Kind => (isRepair(req) ? 'repair' : isGenerate(req) ? 'generate' : isJudge(req) ? 'judge' : isRevise(req) ? 'revise' : 'other');
/** Rewrites the offline model's answer to the n-th request of a kind (0-based) before the server sends it. */
export type Rewrite = (text: string, req: SeenRequest, kind: Kind, nth: number) => string | Promise<string>;

/**
 * A whole run on `on` against an openai fake `server` that takes `apiKey`: models gen-model and
 * judge-model, one iteration, at most 40 calls, no stop for drops; `flags` on top.
 */
export function openaiRunConfig(on: TestRedis, vault: string, server: { baseUrl: string }, apiKey: string, flags: ConfigInput = {}): Config {
  return testConfig(on, vault, {
    provider: 'openai',
    model: 'gen-model',
    judgeModel: 'judge-model',
    baseUrl: server.baseUrl,
    openaiApiKey: apiKey,
    maxIters: 1,
    maxDropRate: 1,
    maxCalls: 40,
    ...flags,
  });
}

/** A fake server answering with the offline provider, through `rewrite`; `answered` holds the text each request got. */
export async function offlineServer(
  protocol: Protocol,
  seed: number,
  opts: { apiKey: string; expectModel?: string; defectRate?: number; rewrite?: Rewrite },
): Promise<{ server: FakeLlmServer; answered: Map<SeenRequest, string> }> {
  const offline = await offlineAnswerer(seed, opts.defectRate ?? 0);
  const answered = new Map<SeenRequest, string>();
  const counts: Record<Kind, number> = { generate: 0, judge: 0, repair: 0, revise: 0, other: 0 };
  const server = await FakeLlmServer.start({
    protocol,
    apiKey: opts.apiKey,
    ...(opts.expectModel ? { expectModel: opts.expectModel } : {}),
    answer: async (req) => {
      const kind = kindOf(req);
      const nth = counts[kind]++;
      const text = await offline(req);
      const out = opts.rewrite ? await opts.rewrite(text, req, kind, nth) : text;
      answered.set(req, out);
      return out;
    },
  });
  return { server, answered };
}

/**
 * A fake openai judge answering with the offline model whose first `failures` requests fail with
 * 503 (`server.clearScript()` lets it answer): a run judged by it ends with failed judge chunks.
 * `judge` is the config that points a run's judge at it.
 */
export async function failingJudge(seed: number, opts: { apiKey?: string; failures?: number } = {}): Promise<{ server: FakeLlmServer; judge: ConfigInput }> {
  const apiKey = opts.apiKey ?? 'sk-test';
  const server = await FakeLlmServer.start({ protocol: 'openai', apiKey, answer: await offlineAnswerer(seed) });
  for (let i = 0; i < (opts.failures ?? 100); i++) server.script({ type: 'error', status: 503, message: 'overloaded' });
  return { server, judge: { judgeProvider: 'openai', judgeModel: 'judge-model', judgeBaseUrl: server.baseUrl, openaiApiKey: apiKey } };
}
