/**
 * judge: the deterministic pre-judge on every draft of a chunk (certain findings are DROPped with
 * no model call), then one provider call for the rest. A draft the dispatch already pre-judged
 * carries its findings: certain ones DROP it here, evidence goes into the prompt. A verdict for an
 * unknown id is ignored and logged; a draft with no verdict stays unjudged. Pure: no BullMQ here.
 */
import { criterionFor } from '../checks/run.js';
import type { Verdict } from '../corpus/taxonomy.js';
import type { JudgePayload, JudgeResult } from '../queues/judge.js';
import type { RenderResult } from '../queues/render.js';
import type { QuestionDoc } from '../domain/question.js';
import type { ModelVerdict, VerdictRecord } from '../domain/verdict.js';
import type { JudgePromptDraft as PromptJudgeDraft } from '../llm/prompts.js';
import type { LlmProvider } from '../llm/types.js';
import type { BuiltPrompt } from './generate-batch.js';

export interface CheckOutcome {
  hard: string[];
  soft: string[];
  arithmetic: { status: 'passed' | 'failed' | 'not-run' };
  criteria: VerdictRecord['criteria'];
  verdict: Verdict;
}

/** A draft as the judge prompt shows it (contract: the `<drafts>` block). */
export type JudgePromptDraft = PromptJudgeDraft;

export interface JudgeDeps {
  provider(runId: string, iter: number): Promise<{ provider: LlmProvider; temperature: number; timeoutMs: number }>;
  buildPrompt(drafts: JudgePromptDraft[]): BuiltPrompt;
  parse(text: string, ids: string[]): { verdicts: Map<string, ModelVerdict>; unknown: string[]; missing: string[] };
  check(doc: QuestionDoc, ctx: { batch: QuestionDoc[]; vaultNearest: { id: string; similarity: number } | null; renderError?: string }): CheckOutcome;
  onUnknownVerdict?(id: string): void;
  signal?: AbortSignal;
}

export function toPromptDraft(doc: QuestionDoc, visual: { kind: string; source: string } | undefined, render: RenderResult | undefined, findings: string[]): JudgePromptDraft {
  const { id, track, zone, level, topic, competency_area, bloom_level, title, scenario, question } = doc;
  const { realistic_solution, common_mistake, napkin_math } = doc.details ?? {};
  const alt = doc.visual?.alt;
  // The prompt shows the draft as it is, a value off the taxonomy included; a missing one is empty.
  return {
    id: id ?? '', track: track ?? '', zone: zone ?? '', level: level ?? '', topic: topic ?? '',
    competency_area: competency_area ?? '', bloom_level: bloom_level ?? '',
    title: title ?? '', scenario: scenario ?? '', question: question ?? '',
    realistic_solution: realistic_solution ?? '', common_mistake: common_mistake ?? '', napkin_math: napkin_math ?? '',
    ...(visual ? { visual_kind: visual.kind, visual_source: visual.source } : {}),
    ...(alt ? { visual_alt: alt } : {}),
    ...(render && !render.ok && render.error ? { render_error: render.error } : {}),
    findings,
  };
}

/** The dispatch's findings merged into this chunk's own (no message twice). */
function withPrejudge(report: CheckOutcome, found: { certain: string[]; evidence: string[] }): CheckOutcome {
  const hard = [...new Set([...report.hard, ...found.certain])];
  const soft = [...new Set([...report.soft, ...found.evidence])].filter((m) => !hard.includes(m));
  const criteria = { ...report.criteria };
  for (const m of found.evidence) if (criteria[criterionFor(m)] === 'PASS') criteria[criterionFor(m)] = 'WARN';
  for (const m of found.certain) criteria[criterionFor(m)] = 'ERROR';
  return { ...report, hard, soft, criteria, verdict: hard.length > 0 ? 'DROP' : soft.length > 0 ? 'NEEDS_FIX' : report.verdict };
}

export async function judgeChunk(payload: JudgePayload, renders: Map<string, RenderResult>, deps: JudgeDeps): Promise<JudgeResult> {
  const docs = payload.drafts.map((d) => d.doc);
  const verdicts: VerdictRecord[] = [];
  const toModel: { draft: JudgePayload['drafts'][number]; report: CheckOutcome; render?: RenderResult }[] = [];

  for (const [i, d] of payload.drafts.entries()) {
    const render = renders.get(d.id);
    const renderError = render && !render.ok ? render.error : undefined;
    const checked = deps.check(d.doc, {
      // Only EARLIER drafts of the chunk: of two copies, the later one is the duplicate.
      batch: docs.slice(0, i),
      vaultNearest: d.vaultNearest,
      ...(renderError ? { renderError } : {}),
    });
    const report = d.prejudge ? withPrejudge(checked, d.prejudge) : checked;
    if (report.hard.length > 0) {
      verdicts.push({
        id: d.id,
        verdict: 'DROP',
        criteria: report.criteria,
        issues: report.hard.concat(report.soft),
        fix_suggestion: '',
        reasoning: 'deterministic pre-judge: hard failure, no model call',
        model: 'prejudge',
        source: 'prejudge',
        checks: { arithmetic: report.arithmetic.status, findings: report.hard.concat(report.soft) },
      });
    } else {
      toModel.push({ draft: d, report, ...(render ? { render } : {}) });
    }
  }

  const unjudged: JudgeResult['unjudged'] = [];
  let model = 'prejudge';
  let usage = { inputTokens: 0, outputTokens: 0 };
  let calls = 0;
  let cached = false;
  if (toModel.length > 0) {
    const { provider, temperature, timeoutMs } = await deps.provider(payload.runId, payload.iter);
    const built = deps.buildPrompt(toModel.map((t) => toPromptDraft(t.draft.doc, t.draft.visual, t.render, t.report.soft)));
    const req = { purpose: 'judge' as const, ...built, temperature, timeoutMs, ...(deps.signal ? { signal: deps.signal } : {}) };
    const res = await provider.complete(req);
    calls = 1;
    cached = res.cached;
    model = res.model;
    usage = res.usage;
    const ids = toModel.map((t) => t.draft.id);
    let parsed: ReturnType<JudgeDeps['parse']>;
    try {
      parsed = deps.parse(res.text, ids);
    } catch (e) {
      // An unparsable answer in the cache would fail every retry of this chunk: drop it.
      await provider.forget?.(req);
      throw e;
    }
    for (const id of parsed.unknown) deps.onUnknownVerdict?.(id);
    for (const t of toModel) {
      const v = parsed.verdicts.get(t.draft.id);
      if (!v) {
        unjudged.push({ id: t.draft.id, reason: 'no verdict for this draft in the judge answer' });
        continue;
      }
      verdicts.push({
        id: t.draft.id,
        verdict: v.verdict,
        criteria: v.criteria,
        issues: v.issues,
        fix_suggestion: v.verdict === 'NEEDS_FIX' ? v.fix_suggestion : v.fix_suggestion || '',
        ...(v.reasoning ? { reasoning: v.reasoning } : {}),
        model: res.model,
        source: 'model',
        checks: { arithmetic: t.report.arithmetic.status, findings: t.report.soft },
      });
    }
  }
  const svgs = [...renders.values()].filter((r) => r.ok && r.svg).map((r) => ({ draftId: r.draftId, svg: r.svg! }));
  return { chunk: payload.chunk, verdicts, unjudged, model, usage, calls, cached, svgs };
}
