/**
 * The run's record files under <vault>/_validation_results/coverage_loop/<runId>/: run.json,
 * iter_NN/iter_record.json, iter_NN/judge_summary.json and loop_summary.json. Each is written
 * and read through its schema here (src/scheduler/records.ts writes them; the CLI, revision
 * runs, release and the dashboard read them).
 */
import { z } from 'zod';
import { AppliedVerdictSchema } from './verdict.js';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 hex digest');
const IsoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO date-time');
const VerdictCounts = z.object({ PASS: z.number(), NEEDS_FIX: z.number(), DROP: z.number() });
const Tokens = z.object({ input: z.number(), output: z.number(), cached: z.number().optional() });
const ModelInfo = z.looseObject({ provider: z.string().optional(), model: z.string().optional() });
/** What an iteration or a run spent (tokens.cached: input tokens served from the providers' prompt caches, part of input). */
const Spend = { tokens: Tokens, cost_usd: z.number() };
/** Calls and cost per PASS draft (null: no PASS). */
const PerPass = { calls_per_pass: z.number().nullable(), cost_per_pass_usd: z.number().nullable() };

/** run.json: what the run was started with. */
export const RunJsonSchema = z.looseObject({
  run_id: z.string().optional(),
  vault: z.string().optional(),
  started_at: IsoDate,
  status: z.string().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  config_hash: z.string().optional(),
  generator: ModelInfo.optional(),
  judge: ModelInfo.optional(),
  prompts: z.record(z.string(), z.string()).optional(),
  seed: z.number().optional(),
  /** loop (generate and judge), revise (revise an earlier run's NEEDS_FIX drafts) or judge (judge leftovers). */
  kind: z.enum(['loop', 'revise', 'judge']).optional(),
  source_run: z.string().optional(),
  stopped_reason: z.string().nullable().optional(),
  finished_at: z.string().nullable().optional(),
});
export type RunJson = z.infer<typeof RunJsonSchema>;

/** One verdict of judge_summary.json: the applied verdict, its hash named file_hash. */
export const JudgeDetailSchema = AppliedVerdictSchema.omit({ fileHash: true }).extend({ file_hash: Sha256 });
export type JudgeDetail = z.infer<typeof JudgeDetailSchema>;

/** iter_NN/judge_summary.json. */
export const JudgeSummarySchema = z.object({
  model: z.string(),
  n_items: z.number(),
  n_judged: z.number(),
  verdicts: VerdictCounts,
  drop_rate: z.number(),
  pass_rate: z.number(),
  details: z.array(JudgeDetailSchema),
  unjudged: z.array(z.object({ id: z.string(), path: z.string(), reason: z.string() })),
  generated_at: z.string(),
});
export type JudgeSummary = z.infer<typeof JudgeSummarySchema>;

/**
 * What the tools that act on a finished run (promote, export) read of a judge summary: each
 * verdict's identity, file hash and verdict, the rest where present (a summary written by hand
 * or by an older version carries no more).
 */
export const JudgeVerdictsSchema = z.looseObject({
  model: JudgeSummarySchema.shape.model.optional(),
  details: z.array(
    JudgeDetailSchema.pick({ id: true, path: true, file_hash: true, verdict: true })
      .extend({
        id: z.string().min(1),
        path: z.string().min(1),
        model: z.string().optional(),
        checks: z.looseObject({ arithmetic: z.enum(['passed', 'failed', 'not-run']).optional() }).optional(),
        /** A person's review in the dashboard: an accepted NEEDS_FIX draft is promoted like a PASS. */
        review: z.looseObject({ action: z.string() }).optional(),
      })
      .loose(),
  ),
});
export type JudgeVerdicts = z.infer<typeof JudgeVerdictsSchema>;

/** iter_NN/iter_record.json. */
export const IterRecordSchema = z.object({
  iter: z.number().int(),
  /** `catch-up`: the iteration only judged drafts earlier runs left unjudged (no generation). */
  kind: z.enum(['generate', 'catch-up']),
  top_cell: z.tuple([z.string(), z.string(), z.string()]).nullable(),
  top_priority: z.number().nullable(),
  generated: z.number(),
  calls_used_total: z.number(),
  drop_rate: z.number(),
  pass_rate: z.number(),
  applied: z.object({ dropped: z.number(), kept_pass: z.number(), kept_needs_fix: z.number() }),
  plan_size: z.number(),
  cells_failed: z.array(z.object({ cell: z.number(), error: z.string() })),
  unjudged: z.number(),
  skipped_changed: z.number(),
  calls_used_iter: z.number(),
  ...Spend,
  visual: z.boolean(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  wall_ms: z.number().nullable(),
  late_applied: z.number(),
  /** Drafts whose model answer was adjusted on the way (an area normalized, an id or path it sent ignored…). */
  generation_notes: z.array(z.object({ id: z.string(), notes: z.array(z.string()) })),
  /** Revision of NEEDS_FIX drafts (`--revise`): how many, and the verdicts before revision. */
  revisions: z.object({ revised: z.number(), skipped: z.array(z.object({ id: z.string(), reason: z.string() })), verdicts_before: VerdictCounts }),
  /** This iteration's calls and cost per PASS draft. */
  ...PerPass,
  /** The pre-judge before chunking: drafts it dropped for certain, and the judge calls that saved. */
  prejudge: z.object({ dropped: z.number(), calls_saved: z.number() }),
});
export type IterRecord = z.infer<typeof IterRecordSchema>;

/** A judge chunk that failed for good and whose drafts are still unjudged. */
export const FailedChunkSchema = z.object({ iter: z.number().int(), chunk: z.number().int(), drafts: z.array(z.string()), reason: z.string() });
export type FailedChunk = z.infer<typeof FailedChunkSchema>;

/** loop_summary.json. */
export const LoopSummarySchema = z.object({
  run_id: z.string(),
  status: z.string(),
  iterations: z.number(),
  calls_used_total: z.number(),
  calls_reserved: z.number(),
  /** Judge calls the pre-judge saved over the run (sum of the iterations' prejudge.calls_saved). */
  calls_saved_total: z.number(),
  max_calls: z.number(),
  ...Spend,
  /** PASS drafts of the run, and its calls and cost per PASS draft. */
  passes: z.number(),
  ...PerPass,
  history: z.array(IterRecordSchema),
  stopped_reason: z.string().nullable(),
  /** Judge chunks that failed for good and are not judged yet (`vault-loop retry` judges them). */
  failed_judge_chunks: z.array(FailedChunkSchema),
  /** The one command that continues a failed run, or null. */
  continue_with: z.string().nullable(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  wall_ms: z.number().nullable(),
  generated_at: z.string(),
});
export type LoopSummary = z.infer<typeof LoopSummarySchema>;

