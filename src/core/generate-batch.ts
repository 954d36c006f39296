/**
 * generate: turns a batch of plan cells into validated draft documents with one provider call
 * (plus at most one counted repair call for the items that failed validation). Pure: every
 * dependency is passed in; no BullMQ here.
 */
import type { GenerateCell, PromptCell } from '../domain/plan-cell.js';
import type { QuestionDoc } from '../domain/question.js';
import { LlmOutputInvalidError } from '../errors.js';
import type { CompletionRequest, LlmProvider, TokenUsage } from '../llm/types.js';
import type { GenerateResult } from '../queues/generate.js';
import { buildDraftDoc, type GeneratedItem } from './draft-doc.js';

export interface BuiltPrompt {
  system?: string;
  prompt: string;
  /** The prompt's stable head (see CompletionRequest.cachePrefix). */
  cachePrefix?: string;
  jsonSchema?: CompletionRequest['jsonSchema'];
}

export interface GenerateDeps {
  /** The run's generation provider, already wrapped with cache, rate limit and budget. */
  provider(runId: string, iter: number): Promise<{ provider: LlmProvider; temperature: number; timeoutMs: number }>;
  buildPrompt(cells: PromptCell[]): BuiltPrompt;
  /** `raw`: the whole answer, when it did not parse at all (the repair prompt then carries the text). */
  buildRepairPrompt(items: { index: number; item: unknown; errors: string[] }[], cells: PromptCell[], raw?: string): BuiltPrompt;
  /** Parses the answer; items are keyed by the prompt cell's index, never by any id the model gives. */
  parse(text: string, cells: PromptCell[]): { items: Map<number, GeneratedItem>; failures: { index: number; error: string; item?: unknown }[] };
  /** Schema errors of a full document (empty when valid). */
  validate(doc: QuestionDoc): string[];
  now(): Date;
  signal?: AbortSignal;
}

export type CellOutcome = { ok: true; result: GenerateResult } | { ok: false; error: Error };

const addUsage = (a: TokenUsage, b: TokenUsage): TokenUsage => ({ inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens });

/** One provider call for the batch; returns one outcome per input cell, in order. */
export async function generateBatch(cells: GenerateCell[], promptCells: PromptCell[], deps: GenerateDeps): Promise<CellOutcome[]> {
  const first = cells[0];
  if (!first) return [];
  const { provider, temperature, timeoutMs } = await deps.provider(first.runId, first.iter);
  const request = (built: BuiltPrompt, purpose: CompletionRequest['purpose']): CompletionRequest => ({ purpose, ...built, temperature, timeoutMs, ...(deps.signal ? { signal: deps.signal } : {}) });
  const call = async (built: BuiltPrompt, purpose: CompletionRequest['purpose']) => await provider.complete(request(built, purpose));

  const mainRequest = request(deps.buildPrompt(promptCells), 'generate');
  const res = await provider.complete(mainRequest);
  let usage = res.usage;
  let cached = res.cached;
  // An answer that does not parse at all (malformed or truncated JSON) still gets its one repair
  // call, with the raw text, instead of failing the whole batch before any repair.
  let unparsable: string | undefined;
  let parsed: ReturnType<GenerateDeps['parse']>;
  try {
    parsed = deps.parse(res.text, promptCells);
  } catch (e) {
    if (!(e instanceof LlmOutputInvalidError)) throw e;
    unparsable = res.text;
    parsed = { items: new Map(), failures: promptCells.map((_, i) => ({ index: i, error: e.message })) };
  }
  const outcomes = new Map<number, CellOutcome>();
  const needRepair: { index: number; item: unknown; errors: string[] }[] = [];

  const attempt = async (index: number, item: GeneratedItem, repaired: boolean): Promise<string[]> => {
    const c = cells[index]!;
    const id = c.draftId;
    const built = buildDraftDoc(item, c.cell, { id, runId: c.runId, now: deps.now() });
    const errors = deps.validate(built.doc);
    if (errors.length > 0) return errors;
    outcomes.set(index, {
      ok: true,
      result: {
        cellIndex: c.cellIndex,
        draft: { id, doc: built.doc, ...(built.visual ? { visual: built.visual } : {}) },
        model: res.model,
        usage: { inputTokens: 0, outputTokens: 0 },
        cached,
        repaired,
        notes: item.notes ?? [],
      },
    });
    return [];
  };

  for (let i = 0; i < cells.length; i++) {
    const item = parsed.items.get(i);
    if (!item) {
      const f = parsed.failures.find((x) => x.index === i);
      // An item that failed the schema goes to the repair as the model sent it; a missing one as null.
      needRepair.push({ index: i, item: f?.item ?? null, errors: [f?.error ?? 'missing in response'] });
      continue;
    }
    const errors = await attempt(i, item, false);
    if (errors.length > 0) needRepair.push({ index: i, item, errors });
  }

  if (needRepair.length > 0) {
    const repairCells = needRepair.map((r) => promptCells[r.index]!);
    try {
      const rep = await call(deps.buildRepairPrompt(needRepair, repairCells, unparsable), 'repair');
      usage = addUsage(usage, rep.usage);
      cached = cached && rep.cached;
      const reparsed = deps.parse(rep.text, repairCells);
      for (const r of needRepair) {
        const item = reparsed.items.get(r.index);
        const errors = item ? await attempt(r.index, item, true) : [reparsed.failures.find((x) => x.index === r.index)?.error ?? 'missing in repair response'];
        if (errors.length > 0) outcomes.set(r.index, { ok: false, error: new LlmOutputInvalidError(`cell ${cells[r.index]!.cellIndex}: ${errors.join('; ')}`, JSON.stringify(r.item ?? null).slice(0, 500)) });
      }
    } catch (e) {
      for (const r of needRepair) {
        if (!outcomes.has(r.index)) outcomes.set(r.index, { ok: false, error: e instanceof Error ? e : new Error(String(e)) });
      }
    }
  }

  // A worthless cached answer would fail every retry the same way: drop it so the retry asks again.
  if (unparsable !== undefined && needRepair.some((r) => outcomes.get(r.index)?.ok !== true)) {
    await provider.forget?.(mainRequest);
  }

  // Token usage is reported once per batch, on the first successful cell, so totals add up.
  let usageGiven = false;
  return cells.map((_, i) => {
    const o = outcomes.get(i) ?? { ok: false as const, error: new Error('no outcome') };
    if (o.ok && !usageGiven) {
      usageGiven = true;
      return { ok: true, result: { ...o.result, usage } };
    }
    return o;
  });
}
