/**
 * The plan cell — what one generate job asks for — and the shapes derived from it: the generate
 * job's payload (a cell with its run, position, variant and minted draft id) and the cell as the
 * generator prompt shows it (the contract's `<cells>` entries).
 */
import { z } from 'zod';
import { AREAS, LEVELS, TRACKS, ZONES, type Area, type BloomLevel, type Level, type Track, type Zone } from './taxonomy.js';

/** Balanced strategy: the numbers behind a plan cell. */
export const PlanReasonSchema = z.looseObject({
  /** The cell's gap priority (rounded to 2 decimals) when it was picked. */
  priority: z.number(),
  /** Questions already in the (track, zone, level) cell, plus cells planned before this one. */
  count: z.number(),
  /** What the strategy expects per (track, zone, level) cell (1 decimal). */
  expected: z.number(),
  /** Questions (and earlier plan cells) of this topic in this track. */
  topic_count: z.number().optional(),
  /** Questions (and earlier plan cells) of this topic in this (track, zone, level) cell. */
  cell_topic_count: z.number().optional(),
  /** Affinity down-weight applied, when the cell is outside ZONE_INFO's levels. */
  affinity_factor: z.number().optional(),
  note: z.string().optional(),
});
export type PlanReason = z.infer<typeof PlanReasonSchema>;

/** One cell of the recommended plan (report.json's `recommended_plan`). */
export const PlanCellSchema = z.object({
  track: z.enum(TRACKS),
  topic: z.string().min(1),
  zone: z.enum(ZONES),
  level: z.enum(LEVELS),
  with_visual: z.boolean(),
  priority: z.number(),
  current_count: z.number().int().nonnegative(),
  /** Set by --include-areas (reference) for forced cells. */
  forced_area: z.enum(AREAS).optional(),
  /** Balanced strategy: the area the topic belongs to (the draft's competency_area). */
  competency_area: z.enum(AREAS).optional(),
  /** Balanced strategy: why the cell was chosen. */
  reason: PlanReasonSchema.optional(),
});
export type PlanCell = z.infer<typeof PlanCellSchema>;

/** A plan cell on its way to generation (the generate queue's payload). */
export const GenerateCellSchema = z.object({
  runId: z.string().min(1),
  iter: z.number().int().nonnegative(),
  cellIndex: z.number().int().nonnegative(),
  cell: PlanCellSchema,
  /** Unique per run, iteration and cell, so repeated cells give different drafts. */
  variant: z.string().min(1),
  /** The draft's id, minted by the plan step in plan order (ids do not depend on which batch ends first). */
  draftId: z.string().regex(/^[a-z]+-\d+$/),
});
export type GenerateCell = z.infer<typeof GenerateCellSchema>;

/** One plan cell as the generator prompt gives it (the contract's field names). */
export interface PromptCell {
  index: number;
  track: Track;
  topic: string;
  zone: Zone;
  level: Level;
  bloom: BloomLevel;
  competency_area: Area;
  with_visual: boolean;
  visual_format?: 'dot' | 'matplotlib';
  visual_archetype?: string;
  variant: string;
}

/** What a prompt builder needs of a cell: the plan cell's identity, its index and (ideally) a variant. */
export type PromptCellInput = Pick<PlanCell, 'track' | 'topic' | 'zone' | 'level' | 'with_visual' | 'competency_area'> & {
  index: number;
  /** Unique to run, iteration and cell; else derived from the prompt options and the index. */
  variant?: string;
};

/** A `<cells>` entry as a reader of the prompt gets it (the offline model): the contract's fields, none trusted. */
export type PromptCellAsRead = Pick<PromptCell, 'index' | 'topic'> & { [K in 'track' | 'zone' | 'level']: string } & { [K in 'bloom' | 'competency_area' | 'visual_archetype' | 'variant']?: string } & Partial<Pick<PromptCell, 'with_visual' | 'visual_format'>>;
