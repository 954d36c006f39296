/**
 * revise: a batch of NEEDS_FIX drafts, each with the judge's issues and fix suggestion, → one
 * provider call → revised documents, validated like any draft. Identity (id, track, topic, zone,
 * level, area, status) never changes: only the text the judge asked to fix. Pure: no BullMQ here.
 */
import type { QuestionDoc } from '../domain/question.js';
import { RevisionInvalidError } from '../errors.js';
import type { LlmProvider } from '../llm/types.js';
import type { RevisePayload, ReviseResult } from '../queues/revise.js';
import type { GeneratedItem } from './draft-doc.js';
import type { BuiltPrompt } from './generate-batch.js';
import { toPromptDraft, type JudgePromptDraft } from './judge-chunk.js';

/** A parsed revision item (src/llm/parse.ts), without its id. */
export type RevisedItem = GeneratedItem;

export interface ReviseDeps {
  provider(runId: string, iter: number): Promise<{ provider: LlmProvider; temperature: number; timeoutMs: number }>;
  buildPrompt(revisions: { id: string; draft: JudgePromptDraft; issues: string[]; fix_suggestion: string }[]): BuiltPrompt;
  parse(text: string, targets: { id: string; doc: QuestionDoc; visualKind?: 'dot' | 'matplotlib' }[]): { items: Map<string, RevisedItem>; failures: { id: string; error: string }[] };
  validate(doc: QuestionDoc): string[];
  now(): Date;
  signal?: AbortSignal;
}

export type ReviseOutcome = { ok: true; result: ReviseResult } | { ok: false; error: Error };

/** The revised document: the original with the revised text in place, marked as revised. */
export function applyRevision(doc: QuestionDoc, item: RevisedItem, round: number, now: Date): QuestionDoc {
  const details = { ...doc.details };
  details.realistic_solution = item.realistic_solution.trim();
  details.common_mistake = item.common_mistake.trim();
  details.napkin_math = item.napkin_math.trim();
  const out: QuestionDoc = { ...doc, title: item.title.trim(), scenario: item.scenario.trim(), question: item.question.trim(), details };
  if (item.phase && ['training', 'inference', 'both'].includes(item.phase)) out.phase = item.phase;
  if (Number.isFinite(Number(item.expected_time_minutes))) out.expected_time_minutes = Math.min(60, Math.max(1, Math.round(Number(item.expected_time_minutes))));
  if (doc.visual && item.visual) {
    out.visual = { ...doc.visual, alt: item.visual.alt.trim(), ...(item.visual.caption?.trim() ? { caption: item.visual.caption.trim() } : {}) };
  }
  const tags = (doc.tags ?? []).filter((t) => typeof t === 'string' && !t.startsWith('revised-'));
  out.tags = [...tags, `revised-${round}`];
  out.updated_at = now.toISOString().slice(0, 10);
  return out;
}

export async function reviseBatch(payloads: RevisePayload[], deps: ReviseDeps): Promise<ReviseOutcome[]> {
  const first = payloads[0];
  if (!first) return [];
  const { provider, temperature, timeoutMs } = await deps.provider(first.runId, first.iter);
  const built = deps.buildPrompt(
    payloads.map((p) => ({ id: p.draft.id, draft: toPromptDraft(p.draft.doc, p.draft.visual, undefined, []), issues: p.issues, fix_suggestion: p.fix_suggestion })),
  );
  const res = await provider.complete({ purpose: 'revise', ...built, temperature, timeoutMs, ...(deps.signal ? { signal: deps.signal } : {}) });
  const parsed = deps.parse(
    res.text,
    payloads.map((p) => ({ id: p.draft.id, doc: p.draft.doc, ...(p.draft.visual && p.draft.visual.kind !== 'svg' ? { visualKind: p.draft.visual.kind } : {}) })),
  );
  let usageGiven = false;
  return payloads.map((p) => {
    const item = parsed.items.get(p.draft.id);
    if (!item) return { ok: false, error: new Error(`revision of ${p.draft.id}: ${parsed.failures.find((f) => f.id === p.draft.id)?.error ?? 'missing in response'}`) };
    const doc = applyRevision(p.draft.doc, item, p.round, deps.now());
    const errors = deps.validate(doc);
    if (errors.length > 0) return { ok: false, error: new RevisionInvalidError(`revision of ${p.draft.id} is invalid: ${errors.join('; ')}`) };
    const visual =
      p.draft.visual && item.visual_source?.trim() && p.draft.visual.kind !== 'svg'
        ? { kind: p.draft.visual.kind, source: item.visual_source.trim() + '\n' }
        : p.draft.visual;
    const usage = usageGiven ? { inputTokens: 0, outputTokens: 0 } : res.usage;
    usageGiven = true;
    return { ok: true, result: { id: p.draft.id, draft: { id: p.draft.id, doc, ...(visual ? { visual } : {}) }, model: res.model, usage, cached: res.cached } };
  });
}
