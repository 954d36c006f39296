/**
 * Verdicts: what the judge (the model, or the deterministic pre-judge) said of a draft, and what
 * apply did with it. One chain of schemas: the model's verdict → the verdict record a judge chunk
 * returns → the applied verdict the run state keeps and judge_summary.json lists.
 */
import { z } from 'zod';
import { VERDICTS } from './taxonomy.js';

export const CriteriaSchema = z.object({
  math_correct: z.string(),
  cell_fit: z.string(),
  scenario_realism: z.string(),
  uniqueness: z.string(),
  visual_alignment: z.string(),
});
export type Criteria = z.infer<typeof CriteriaSchema>;

/** A verdict as the judge model gives it (after parsing; src/llm/parse.ts). */
export const ModelVerdictSchema = z.object({
  id: z.string(),
  verdict: z.enum(VERDICTS),
  criteria: CriteriaSchema,
  issues: z.array(z.string()),
  fix_suggestion: z.string(),
  reasoning: z.string().optional(),
});
export type ModelVerdict = z.infer<typeof ModelVerdictSchema>;

/** A judge chunk's verdict of one draft. */
export const VerdictRecordSchema = ModelVerdictSchema.extend({
  model: z.string(),
  /** `prejudge` when the deterministic checks decided without a model call. */
  source: z.enum(['model', 'prejudge']),
  checks: z.object({ arithmetic: z.enum(['passed', 'failed', 'not-run']), findings: z.array(z.string()) }),
});
export type VerdictRecord = z.infer<typeof VerdictRecordSchema>;

/** An earlier verdict of a draft, before a revision. */
export const VerdictHistoryEntrySchema = z.object({
  round: z.number().int(),
  verdict: z.enum(VERDICTS),
  issues: z.array(z.string()),
  fix_suggestion: z.string(),
  fileHash: z.string(),
  model: z.string(),
});
export type VerdictHistoryEntry = z.infer<typeof VerdictHistoryEntrySchema>;

export const REVIEW_ACTIONS = ['accepted', 'rejected', 'sent-to-revision'] as const;
/** A person's review in the dashboard (accept keeps it for promotion, reject deleted it). */
export const ReviewSchema = z.object({ action: z.enum(REVIEW_ACTIONS), by: z.string(), at: z.string(), note: z.string().optional() });
export type Review = z.infer<typeof ReviewSchema>;

/** What apply did: pruned (DROP, deleted), kept, or skipped because the file changed since judging. */
export const APPLIED = ['pruned', 'kept', 'skipped-changed', 'already-gone'] as const;
export type Applied = (typeof APPLIED)[number];

/** A verdict as applied (the run state's verdicts hash). */
export const AppliedVerdictSchema = VerdictRecordSchema.extend({
  iter: z.number().int(),
  chunk: z.number().int(),
  path: z.string(),
  fileHash: z.string(),
  applied: z.enum(APPLIED),
  late: z.boolean(),
  appliedAt: z.string(),
  /** Revision round of this verdict (0: the first judging). */
  round: z.number().int(),
  /** Earlier verdicts of this draft, before each revision. */
  history: z.array(VerdictHistoryEntrySchema),
  review: ReviewSchema.optional(),
});
export type AppliedVerdict = z.infer<typeof AppliedVerdictSchema>;

/** A draft with no verdict (its judge failed for good, or the answer left it out). */
export const UnjudgedRecordSchema = z.object({ id: z.string(), iter: z.number().int(), chunk: z.number().int(), path: z.string(), reason: z.string() });
export type UnjudgedRecord = z.infer<typeof UnjudgedRecordSchema>;
