/**
 * Live vs batch vs batch + prompt caching, for the same 200-cell iteration, measured in one run
 * against the fake Anthropic APIs (test/helpers/fake-llm: the live Messages endpoint and Message
 * Batches, with the API's prompt-cache rule: the prefix up to the cache_control breakpoint is
 * cached only from the model's minimum on, written once and read by every identical prefix after;
 * tokens are estimated at 4 characters each), answered by the offline model. The same requests go
 * out three ways through the real clients: the live provider, the batch client, and the batch
 * client with the stable prompt head (instructions, taxonomy, rubric, hardware reference) marked
 * for the cache. Prints the heads' size against the model's cache minimum, then calls, tokens,
 * cached tokens, cost at list prices and cost per accepted (PASS) question, and the cost ratios.
 *   npm run bench -- batch [--cells 200] [--gen-batch 10] [--chunk 25] [--model claude-sonnet-4-5]
 */
import { AnthropicProvider } from '../src/llm/anthropic.js';
import { AnthropicBatchClient } from '../src/llm/batch/anthropic.js';
import { costOf, priceTable } from '../src/llm/cost.js';
import { createOfflineProvider } from '../src/llm/offline/index.js';
import { parseGenerateAnswer, parseJudgeAnswer } from '../src/llm/parse.js';
import { buildGeneratePrompt, buildJudgePrompt, type JudgePromptDraft } from '../src/llm/prompts.js';
import type { PromptCellInput } from '../src/domain/plan-cell.js';
import { TRACKS, ZONES, LEVELS, VISUAL_ARCHETYPES } from '../src/corpus/taxonomy.js';
import type { CompletionRequest, CompletionResult } from '../src/llm/types.js';
import { anthropicCacheMinimum, FakeBatchServer } from '../test/helpers/fake-llm/index.js';
import { flag, intFlag, machineLine, ratio, table } from './support/index.js';

const cellsN = intFlag('cells', 200);
const genBatch = intFlag('gen-batch', 10);
const chunk = intFlag('chunk', 25);
// A model whose cache minimum is 1024 tokens (see anthropicCacheMinimum); the SDK's per-request
// deprecation notice for it (end of life announced) would drown the table, so it is not echoed.
const MODEL = flag('model', 'claude-sonnet-4-5');
const warn = console.warn.bind(console);
console.warn = (...a: unknown[]) => void (String(a[0]).startsWith(`The model '${MODEL}' is deprecated`) || warn(...a));

const offline = createOfflineProvider({ seed: 7, latencyMs: 0, defectRate: 0.2 });
const server = await FakeBatchServer.start({
  protocol: 'anthropic',
  apiKey: 'bench-key',
  answer: async (seen) => (await offline.complete({ purpose: /^<drafts>\s*$/m.test(seen.prompt ?? '') ? 'judge' : 'generate', prompt: seen.prompt ?? '' })).text,
});
const settings = { apiKey: 'bench-key', model: MODEL, baseUrl: server.baseUrl };
const live = new AnthropicProvider(settings);
const batch = new AnthropicBatchClient(settings);

const topics = VISUAL_ARCHETYPES.map((a) => a.topic);
const cells: PromptCellInput[] = Array.from({ length: cellsN }, (_, i) => ({
  index: i,
  track: TRACKS[i % TRACKS.length]!,
  topic: topics[i % topics.length]!,
  zone: ZONES[i % ZONES.length]!,
  level: LEVELS[i % LEVELS.length]!,
  with_visual: false,
  variant: `bench-${i}`,
}));

interface Tally {
  calls: number;
  input: number;
  cached: number;
  written: number;
  output: number;
  cost: number;
  accepted: number;
}

type Send = (reqs: CompletionRequest[]) => Promise<CompletionResult[]>;

const sendLive: Send = async (reqs) => await Promise.all(reqs.map((r) => live.complete(r)));
const sendBatch: Send = async (reqs) => {
  const items = reqs.map((req, i) => ({ customId: `r${i}`, req }));
  const id = await batch.submit(items);
  while (!(await batch.status(id)).ended);
  const out = await batch.results(id, new Map(items.map((i) => [i.customId, i.req])));
  return items.map((i) => {
    const o = out.get(i.customId);
    if (!o?.ok) throw new Error(`batch item ${i.customId} failed`);
    return o.result;
  });
};

async function iteration(send: Send, mode: 'live' | 'batch', caching: boolean): Promise<Tally> {
  const t: Tally = { calls: 0, input: 0, cached: 0, written: 0, output: 0, cost: 0, accepted: 0 };
  const strip = (r: CompletionRequest): CompletionRequest => (caching ? r : { ...r, cachePrefix: undefined });
  const count = (rs: CompletionResult[]) => {
    for (const r of rs) {
      t.calls++;
      t.input += r.usage.inputTokens;
      t.cached += r.usage.cachedInputTokens ?? 0;
      t.written += r.usage.cacheWriteTokens ?? 0;
      t.output += r.usage.outputTokens;
      t.cost += costOf(MODEL, r.usage, priceTable(), mode);
    }
  };
  const groups: PromptCellInput[][] = [];
  for (let i = 0; i < cells.length; i += genBatch) groups.push(cells.slice(i, i + genBatch).map((c, k) => ({ ...c, index: k })));
  const built = groups.map((g) => buildGeneratePrompt(g));
  const genRes = await send(built.map((b) => strip({ purpose: 'generate', prompt: b.prompt, ...(b.cachePrefix ? { cachePrefix: b.cachePrefix } : {}), jsonSchema: b.jsonSchema, temperature: 0.7 })));
  count(genRes);
  const drafts: JudgePromptDraft[] = [];
  genRes.forEach((r, gi) => {
    const parsed = parseGenerateAnswer(r.text, built[gi]!.cells);
    for (const [idx, it] of parsed.items) {
      const c = built[gi]!.cells[idx]!;
      drafts.push({ id: `${c.track}-${String(drafts.length + 1).padStart(4, '0')}`, track: c.track, zone: c.zone, level: c.level, topic: c.topic, competency_area: it.competency_area, bloom_level: c.bloom, title: it.title, scenario: it.scenario, question: it.question, realistic_solution: it.realistic_solution, common_mistake: it.common_mistake, napkin_math: it.napkin_math, findings: [] });
    }
  });
  const chunks: JudgePromptDraft[][] = [];
  for (let i = 0; i < drafts.length; i += chunk) chunks.push(drafts.slice(i, i + chunk));
  const judged = chunks.map((c) => buildJudgePrompt(c));
  const judgeRes = await send(judged.map((b) => strip({ purpose: 'judge', prompt: b.prompt, ...(b.cachePrefix ? { cachePrefix: b.cachePrefix } : {}), jsonSchema: b.jsonSchema, temperature: 0 })));
  count(judgeRes);
  judgeRes.forEach((r, i) => {
    for (const v of parseJudgeAnswer(r.text, judged[i]!.ids).verdicts.values()) if (v.verdict === 'PASS') t.accepted++;
  });
  return t;
}

console.log(machineLine());
// The stable heads against the model's cache minimum (tokens estimated as the fake counts them).
const head = (b: { cachePrefix?: string; jsonSchema: unknown }) => Math.ceil(((b.cachePrefix ?? '').length + JSON.stringify(b.jsonSchema).length) / 4);
const genHead = head(buildGeneratePrompt(cells.slice(0, 1)));
const judgeHead = head(buildJudgePrompt([{ id: 'cloud-0001', track: 'cloud', zone: 'recall', level: 'L1', topic: 'roofline-analysis', competency_area: 'compute', bloom_level: 'remember', title: '', scenario: '', question: '', realistic_solution: '', common_mistake: '', napkin_math: '', findings: [] }]));
const minimum = anthropicCacheMinimum(MODEL);
console.log(`stable prompt heads (with the answer tool's schema): generate ≈${genHead} tokens, judge ≈${judgeHead} tokens; ${MODEL} caches a prefix from ${minimum} tokens on${Math.min(genHead, judgeHead) < minimum ? ' (a head below it is not cached)' : ''}`);
console.log(`one iteration of ${cellsN} cells (${genBatch} per generate call, ${chunk} drafts per judge call), ${MODEL} list prices, fake Anthropic APIs answered by the offline model`);
const rows: [string, Tally][] = [
  ['live', await iteration(sendLive, 'live', false)],
  ['batch', await iteration(sendBatch, 'batch', false)],
  ['batch + caching', await iteration(sendBatch, 'batch', true)],
];
await server.close();
console.log(
  table(
    ['mode', 'calls', 'input tokens', 'cached (read)', 'cache writes', 'output tokens', 'cost USD', 'accepted', 'USD / accepted'],
    rows.map(([m, t]) => [m, String(t.calls), String(t.input), String(t.cached), String(t.written), String(t.output), t.cost.toFixed(4), String(t.accepted), t.accepted ? (t.cost / t.accepted).toFixed(5) : '-']),
  ),
);
const [l, b, bc] = rows.map((r) => r[1]);
console.log(`batch / live cost: ${ratio(b!.cost / l!.cost)}`);
console.log(`batch + caching / live cost: ${ratio(bc!.cost / l!.cost)}`);
console.log(`batch + caching / batch cost: ${ratio(bc!.cost / b!.cost)} (${bc!.cached} of ${bc!.input} input tokens read from the cache)`);
console.log(`batch + caching / live cost per accepted question: ${ratio(bc!.cost / bc!.accepted / (l!.cost / l!.accepted))}`);
