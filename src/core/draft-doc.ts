/**
 * Builds a draft question document from one parsed generation item and its plan cell, in the
 * original generator's key order. Ids and paths never come from the model: the id is minted by
 * the pipeline, the path is derived from the id, track and area.
 */
import type { PlanCell } from '../domain/plan-cell.js';
import type { ItemText } from '../domain/generated-item.js';
import { isArea, LEVEL_BLOOM, TOPIC_AREA, type Area } from '../corpus/taxonomy.js';
import type { QuestionDoc } from '../domain/question.js';

/** A parsed generation item (src/llm/parse.ts); optional fields fall back to defaults here. */
export type GeneratedItem = ItemText;

export interface BuiltDraft {
  doc: QuestionDoc;
  visual?: { kind: 'dot' | 'matplotlib'; source: string };
}

const trim = (s: unknown): string => (typeof s === 'string' ? s.trim() : '');

/** The draft's area: the (already normalized) item value when canonical, else the cell's, else the topic's. */
export function draftArea(item: Pick<GeneratedItem, 'competency_area'>, cell: PlanCell): Area | undefined {
  const fromTopic = TOPIC_AREA.get(cell.topic);
  return (isArea(item.competency_area) ? item.competency_area : undefined) || cell.competency_area || fromTopic;
}

export function buildDraftDoc(item: GeneratedItem, cell: PlanCell, ctx: { id: string; runId: string; now: Date }): BuiltDraft {
  const area = draftArea(item, cell);
  const minutes = Number.isFinite(Number(item.expected_time_minutes)) ? Math.round(Number(item.expected_time_minutes)) : 8;
  const doc: QuestionDoc = {
    schema_version: '1.0',
    id: ctx.id,
    track: cell.track,
    level: cell.level,
    zone: cell.zone,
    topic: cell.topic,
    competency_area: area,
    bloom_level: LEVEL_BLOOM[cell.level],
    phase: item.phase && ['training', 'inference', 'both'].includes(item.phase) ? item.phase : 'both',
    title: trim(item.title),
    scenario: trim(item.scenario),
    question: trim(item.question),
  };
  let visual: BuiltDraft['visual'];
  if (cell.with_visual && item.visual && trim(item.visual_source)) {
    doc.visual = {
      kind: 'svg',
      path: `${ctx.id}.svg`,
      alt: trim(item.visual.alt),
      ...(trim(item.visual.caption) ? { caption: trim(item.visual.caption) } : {}),
    };
    visual = { kind: item.visual.kind, source: item.visual_source!.trim() + '\n' };
  }
  doc.details = {
    realistic_solution: trim(item.realistic_solution),
    common_mistake: trim(item.common_mistake),
    napkin_math: trim(item.napkin_math),
  };
  Object.assign(doc, {
    status: 'draft',
    provenance: 'llm-draft',
    expected_time_minutes: Math.min(60, Math.max(1, minutes)),
    requires_explanation: true,
    validated: false,
    math_verified: false,
    human_reviewed: { status: 'not-reviewed', by: null, date: null, notes: null },
    tags: ['vault-loop', `target-${cell.zone}-${cell.level}`, `run-${ctx.runId}`],
    created_at: ctx.now.toISOString().slice(0, 10),
  });
  return { doc, ...(visual ? { visual } : {}) };
}
