/**
 * One generated (or revised) item: the text of a question as a model answered it, after parsing
 * (src/llm/parse.ts). Identity (id, track, topic, zone, level) never comes from here: it is the
 * plan cell's, or the revised draft's.
 */
import { z } from 'zod';
import { AREAS, PHASES } from './taxonomy.js';

export const GeneratedVisualSchema = z.object({ kind: z.enum(['dot', 'matplotlib']), alt: z.string(), caption: z.string() });

export const GeneratedItemSchema = z.object({
  cellIndex: z.number().int().nonnegative(),
  title: z.string(),
  scenario: z.string(),
  question: z.string(),
  realistic_solution: z.string(),
  common_mistake: z.string(),
  napkin_math: z.string(),
  expected_time_minutes: z.number(),
  competency_area: z.enum(AREAS),
  phase: z.enum(PHASES),
  visual: GeneratedVisualSchema.optional(),
  visual_source: z.string().optional(),
  /** What was repaired or ignored on the way (area remapped, level mismatch, visual dropped…). */
  notes: z.array(z.string()),
});
export type GeneratedItem = z.infer<typeof GeneratedItemSchema>;

/** What building a draft document needs of an item: the text; optional fields fall back to defaults. */
export type ItemText = Pick<GeneratedItem, 'title' | 'scenario' | 'question' | 'realistic_solution' | 'common_mistake' | 'napkin_math' | 'visual_source'> &
  Partial<Pick<GeneratedItem, 'expected_time_minutes' | 'phase' | 'notes'>> & {
    competency_area: string;
    visual?: { kind: 'dot' | 'matplotlib'; alt: string; caption?: string };
  };

/** An answer item as a model writes it (the contract's generate item; `id` instead of `cell_index` for revisions). */
export type AnswerItem = Omit<GeneratedItem, 'cellIndex' | 'notes' | 'phase' | 'competency_area'> & {
  cell_index?: number;
  id?: string;
  competency_area: string;
  phase?: GeneratedItem['phase'];
};
