/**
 * A draft: a question document the pipeline generated (or adopted, or revised), as it travels
 * between steps, and the record of where it was written.
 */
import { z } from 'zod';
import { QuestionDocInput } from './question.js';

export const VisualSourceSchema = z.object({ kind: z.enum(['dot', 'matplotlib', 'svg']), source: z.string().max(200_000) });
export type VisualSource = z.infer<typeof VisualSourceSchema>;

/** A draft as it travels in job data: the full question document plus its visual source. */
export const DraftSchema = z.object({
  id: z.string().regex(/^[a-z]+-\d{4,}$/),
  /**
   * The question document, typed where it enters the pipeline (the generator's draft, a file read
   * back for the judge or the reviser) and checked again as job data; broken values of the right
   * kind (an off-enum track, a missing field) travel as they are, for the judge to see.
   */
  doc: QuestionDocInput,
  visual: VisualSourceSchema.optional(),
});
export type Draft = z.infer<typeof DraftSchema>;

/** A written draft on its way to the judge. */
export const JudgeDraftSchema = DraftSchema.extend({
  path: z.string().min(1),
  fileHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Nearest vault question by text similarity, computed by the corpus host. */
  vaultNearest: z.object({ id: z.string(), similarity: z.number() }).nullable(),
  /**
   * The dispatch's pre-judge (src/checks/prejudge.ts): certain findings (the draft is dropped
   * without a call) and evidence for the judge prompt. Absent for drafts judged without it.
   */
  prejudge: z.object({ certain: z.array(z.string()), evidence: z.array(z.string()) }).optional(),
});
export type JudgeDraft = z.infer<typeof JudgeDraftSchema>;

/** A judged draft on its way to revision. */
export const ReviseTargetSchema = DraftSchema.extend({
  path: z.string().min(1),
  /** sha256 of the file as judged: the revision replaces the file only if it still has it. */
  fileHash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ReviseTarget = z.infer<typeof ReviseTargetSchema>;

/** Where a draft of a run was written (the run state's drafts hash). */
export const DraftRecordSchema = z.object({
  id: z.string(),
  iter: z.number().int(),
  cellIndex: z.number().int(),
  chunk: z.number().int(),
  path: z.string(),
  fileHash: z.string(),
  track: z.string(),
  /** Visual files written with the draft (vault-relative). */
  visualFiles: z.array(z.string()),
  /** What was normalized or ignored in the model's answer for this draft. */
  notes: z.array(z.string()).optional(),
  /** The run that wrote it, when this run only judged it (a catch-up of unjudged drafts). */
  adoptedFrom: z.string().optional(),
});
export type DraftRecord = z.infer<typeof DraftRecordSchema>;
