/** Schemas shared by several queues. */
import { z } from 'zod';
import { AREAS, LEVELS, TRACKS, VERDICTS, ZONES } from '../corpus/taxonomy.js';

export const PlanCellSchema = z.object({
  track: z.enum(TRACKS),
  topic: z.string().min(1),
  zone: z.enum(ZONES),
  level: z.enum(LEVELS),
  with_visual: z.boolean(),
  priority: z.number(),
  current_count: z.number().int().nonnegative(),
  forced_area: z.enum(AREAS).optional(),
  competency_area: z.enum(AREAS).optional(),
  reason: z.object({ priority: z.number(), count: z.number(), expected: z.number() }).loose().optional(),
});

export const UsageSchema = z.object({ inputTokens: z.number().nonnegative(), outputTokens: z.number().nonnegative() });

export const VisualSourceSchema = z.object({ kind: z.enum(['dot', 'matplotlib', 'svg']), source: z.string().max(200_000) });

/** A draft as it travels in job data: the full question document plus its visual source. */
export const DraftSchema = z.object({
  id: z.string().regex(/^[a-z]+-\d{4,}$/),
  doc: z.record(z.string(), z.unknown()),
  visual: VisualSourceSchema.optional(),
});

export const CriteriaSchema = z.object({
  math_correct: z.string(),
  cell_fit: z.string(),
  scenario_realism: z.string(),
  uniqueness: z.string(),
  visual_alignment: z.string(),
});

export const VerdictRecordSchema = z.object({
  id: z.string(),
  verdict: z.enum(VERDICTS),
  criteria: CriteriaSchema,
  issues: z.array(z.string()),
  fix_suggestion: z.string(),
  reasoning: z.string().optional(),
  model: z.string(),
  /** `prejudge` when the deterministic checks decided without a model call. */
  source: z.enum(['model', 'prejudge']),
  checks: z.object({ arithmetic: z.enum(['passed', 'failed', 'not-run']), findings: z.array(z.string()) }),
});
export type VerdictRecord = z.infer<typeof VerdictRecordSchema>;
