/**
 * How the processors talk to a model: the prompts they build, the parsers of the answers, the
 * schema check of a document and the deterministic checks of a draft. The worker context gives
 * them to the processors with the run's provider; the core unit tests with the offline provider.
 */
import { runChecks } from '../checks/index.js';
import { validateQuestion } from '../corpus/schema.js';
import { isArea, isLevel, type Applicability } from '../corpus/taxonomy.js';
import type { GenerateCell, PromptCell } from '../domain/plan-cell.js';
import type { QuestionDoc } from '../domain/question.js';
import { parseGenerateAnswer, parseJudgeAnswer, parseReviseAnswer } from '../llm/parse.js';
import { buildGeneratePrompt, buildJudgePrompt, buildRepairPrompt, buildRevisePrompt, toPromptCell as llmPromptCell, type JudgePromptDraft as PromptJudgeDraft } from '../llm/prompts.js';
import type { Logger } from '../util/log.js';
import type { GenerateDeps } from './generate-batch.js';
import type { JudgeDeps } from './judge-chunk.js';
import type { ReviseDeps } from './revise-batch.js';

/** Schema errors of a full draft document (empty when valid). */
export const validateDraft = (doc: QuestionDoc): string[] =>
  validateQuestion(doc, `questions/${String(doc.track)}/${String(doc.competency_area)}/${String(doc.id)}.yaml`)
    .filter((p) => p.severity === 'error')
    .map((p) => p.message);

export function generateCodec(log: Pick<Logger, 'info'>): Pick<GenerateDeps, 'buildPrompt' | 'buildRepairPrompt' | 'parse' | 'validate'> & { toPromptCells(cells: GenerateCell[]): PromptCell[] } {
  return {
    toPromptCells: (cells) =>
      cells.map((c, i) =>
        llmPromptCell({
          index: i,
          track: c.cell.track,
          topic: c.cell.topic,
          zone: c.cell.zone,
          level: c.cell.level,
          with_visual: c.cell.with_visual,
          ...(c.cell.competency_area ? { competency_area: c.cell.competency_area } : {}),
          variant: c.variant,
        }),
      ),
    buildPrompt: (cells) => {
      const built = buildGeneratePrompt(cells);
      return { prompt: built.prompt, jsonSchema: built.jsonSchema, ...(built.cachePrefix ? { cachePrefix: built.cachePrefix } : {}) };
    },
    buildRepairPrompt: (items, cells, raw) => {
      const original = buildGeneratePrompt(cells);
      const built = buildRepairPrompt(
        raw ?? items.map((i) => ({ cell_index: i.index, item: i.item })),
        items.flatMap((i) => i.errors.map((e) => `cell_index ${i.index}: ${e}`)),
        original,
      );
      return { prompt: built.prompt, jsonSchema: built.jsonSchema };
    },
    parse: (text, cells) => {
      const r = parseGenerateAnswer(text, cells);
      for (const u of r.unknown) log.info({ position: u.position, reason: u.reason }, 'generate answer item ignored');
      return {
        items: new Map([...r.items].map(([k, v]) => [k, v])),
        failures: r.failures.map((f) => ({ index: f.cellIndex, error: f.error, ...(f.item !== undefined ? { item: f.item } : {}) })),
      };
    },
      validate: validateDraft,
  };
}

export function judgeCodec(app: Applicability): Pick<JudgeDeps, 'buildPrompt' | 'parse' | 'check'> {
  return {
    buildPrompt: (drafts) => {
      const built = buildJudgePrompt(drafts as PromptJudgeDraft[]);
      return { prompt: built.prompt, jsonSchema: built.jsonSchema, ...(built.cachePrefix ? { cachePrefix: built.cachePrefix } : {}) };
    },
    parse: (text, ids) => {
      const r = parseJudgeAnswer(text, ids);
      return {
        verdicts: new Map([...r.verdicts].map(([k, v]) => [k, { ...v, fix_suggestion: v.fix_suggestion ?? '', issues: v.issues ?? [] }])),
        unknown: r.unknown.map((u) => u.id ?? '(no id)'),
        missing: r.missing,
      };
    },
    check: (doc, ctx) => {
      const report = runChecks(doc, {
        applicability: app,
        // No plan cell here: one built from the draft's own fields compared the draft with itself
        // (and printed "undefined" for a field it lacked).
        batch: ctx.batch,
        vaultNearest: ctx.vaultNearest,
        ...(ctx.renderError ? { renderError: ctx.renderError } : {}),
      });
      return report;
    },
  };
}

export function reviseCodec(log: Pick<Logger, 'info'>): Pick<ReviseDeps, 'buildPrompt' | 'parse' | 'validate'> {
  return {
    buildPrompt: (revisions) => {
      const built = buildRevisePrompt(revisions as Parameters<typeof buildRevisePrompt>[0]);
      return { prompt: built.prompt, jsonSchema: built.jsonSchema };
    },
    parse: (text, targets) => {
      // A kept draft has a canonical area and level (the judge drops one without); a file that
      // lost them since is not revised against a made-up target.
      const offTarget: { id: string; error: string }[] = [];
      const known = targets.flatMap((t) => {
        const { competency_area: area, level } = t.doc;
        if (isArea(area) && isLevel(level)) return [{ id: t.id, competency_area: area, level, ...(t.visualKind ? { visual_kind: t.visualKind } : {}) }];
        offTarget.push({ id: t.id, error: `competency_area ${JSON.stringify(area)} or level ${JSON.stringify(level)} is not canonical` });
        return [];
      });
      const r = parseReviseAnswer(text, known);
      for (const u of r.unknown) log.info({ id: u.id, reason: u.reason }, 'revise answer item ignored');
      return { items: new Map([...r.items].map(([k, v]) => [k, v])), failures: [...r.failures, ...offTarget] };
    },
      validate: validateDraft,
  };
}
