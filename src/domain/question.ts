/**
 * The question schema v1.0 (SEED-SPEC §2.2) in zod: the one declaration of a question document,
 * used by the vault loader, the generator's drafts and the judge. `validateQuestion`
 * (src/corpus/schema.ts) adds the loader's file rules and line numbers.
 *
 * Where the original's two schemas disagree, the stricter one that the data still passes wins:
 * topic and competency_area are closed (LinkML), schema_version only has to start with "1."
 * (Pydantic), and schema_version/status/provenance take Pydantic's defaults when absent.
 */
import { z } from 'zod';
import { AREAS, BLOOM_LEVELS, HUMAN_REVIEW_STATUSES, isTopic, LEVELS, PHASES, PROVENANCES, STATUSES, TRACKS, VISUAL_KINDS, ZONES } from './taxonomy.js';

/** What Pydantic's scenario validator refuses (matched case-insensitively). */
export const SCENARIO_FORBIDDEN = ['<script', 'javascript:', 'data:text/html', 'onerror=', 'onload='] as const;

/** URL-safe and path-safe: the id becomes a file name, so no dots, slashes or spaces. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

const dateLike = z.union([z.string(), z.date()], { error: 'expected a date or a string' });
const strList = z.array(z.string());

export const VisualSchema = z.strictObject({
  kind: z.enum(VISUAL_KINDS).default('svg'),
  path: z
    .string()
    .refine((p) => p.endsWith('.svg'), { error: 'expected a file name ending in .svg' })
    .refine((p) => !p.includes('..'), { error: 'expected no ".." in the path' })
    .refine((p) => !p.startsWith('/'), { error: 'expected a relative path (no leading "/")' })
    .refine((p) => !p.includes('\\'), { error: 'expected no "\\" in the path' }),
  alt: z.string(),
  caption: z.string().nullish(),
});

export const ResourceSchema = z.object({
  name: z.string().min(1).max(200),
  url: z.string().startsWith('https://', { error: 'expected a URL starting with https://' }),
});

export const DetailsSchema = z
  .object({
    realistic_solution: z.string(),
    common_mistake: z.string().nullish(),
    napkin_math: z.string().nullish(),
    options: z.array(z.string()).length(4).nullish(),
    correct_index: z.number().int().min(0).max(3).nullish(),
    resources: z.array(ResourceSchema).nullish(),
  })
  .loose()
  .superRefine((d, ctx) => {
    const hasOptions = d.options !== undefined && d.options !== null;
    const hasIndex = d.correct_index !== undefined && d.correct_index !== null;
    if (hasOptions && !hasIndex) {
      ctx.addIssue({ code: 'custom', path: ['correct_index'], message: 'required when details.options is present (an integer 0..3)', input: d.correct_index });
    }
    if (!hasOptions && hasIndex) {
      ctx.addIssue({ code: 'custom', path: ['correct_index'], message: 'only allowed together with details.options', input: d.correct_index });
    }
  });

export const HumanReviewedSchema = z
  .object({
    status: z.enum(HUMAN_REVIEW_STATUSES).default('not-reviewed'),
    by: z.string().nullish(),
    date: dateLike.nullish(),
    notes: z.string().nullish(),
  })
  .loose();

export const ChainRefSchema = z.object({ id: z.string().min(1), position: z.number().int().min(0) }).loose();

export const QuestionSchema = z
  .object({
    schema_version: z
      .string()
      .refine((v) => v.startsWith('1.'), { error: 'expected a version starting with "1."' })
      .default('1.0'),
    id: z.string().regex(ID_PATTERN, { error: 'expected a URL-safe id (letters, digits, "-", "_"), e.g. cloud-0231' }),
    track: z.enum(TRACKS),
    level: z.enum(LEVELS),
    zone: z.enum(ZONES),
    topic: z.string().refine(isTopic, { error: 'expected one of the 87 curated topics' }),
    competency_area: z.enum(AREAS),
    bloom_level: z.enum(BLOOM_LEVELS).nullish(),
    phase: z.enum(PHASES).nullish(),
    title: z.string().min(1).max(120),
    scenario: z
      .string()
      .min(30)
      .superRefine((s, ctx) => {
        const lower = s.toLowerCase();
        for (const bad of SCENARIO_FORBIDDEN) {
          if (lower.includes(bad)) ctx.addIssue({ code: 'custom', message: `expected plain text; contains "${bad}"`, input: s });
        }
      }),
    question: z.string().nullish(),
    visual: VisualSchema.nullish(),
    details: DetailsSchema,
    status: z.enum(STATUSES).default('draft'),
    provenance: z.enum(PROVENANCES).default('imported'),
    requires_explanation: z.boolean().nullish(),
    expected_time_minutes: z.number().int().min(0).nullish(),
    deletion_reason: z.string().nullish(),
    chains: z.array(ChainRefSchema).nullish(),
    validated: z.boolean().nullish(),
    validation_status: z.string().nullish(),
    validation_date: dateLike.nullish(),
    validation_model: z.string().nullish(),
    validation_issues: strList.nullish(),
    validation_status_pro: z.string().nullish(),
    validation_issues_pro: strList.nullish(),
    math_verified: z.boolean().nullish(),
    math_status: z.string().nullish(),
    math_date: dateLike.nullish(),
    math_model: z.string().nullish(),
    math_issues: strList.nullish(),
    human_reviewed: HumanReviewedSchema.nullish(),
    classification_review: z.string().nullish(),
    tags: strList.nullish(),
    authors: strList.nullish(),
    created_at: dateLike.nullish(),
    updated_at: dateLike.nullish(),
    last_modified: dateLike.nullish(),
  })
  .loose();

export type Question = z.output<typeof QuestionSchema>;
export type QuestionInput = z.input<typeof QuestionSchema>;

const text = z.string().nullish();
const lenientDate = dateLike.nullish();

/**
 * A question document as it may be, read from disk or built from a model's answer: every field the
 * code reads is typed by its kind and optional (an off-enum track, a missing title or an unknown
 * key all fit), so a reader sees `doc.title` as `string | null | undefined` and the judge's checks
 * still see a broken draft as it is. Unknown keys are kept (`catchall`). Only a value of the wrong
 * kind (a number where a title goes, a list where `details` goes) does not fit: such a file is no
 * question document at all, like one that is not a mapping. `QuestionSchema` is the strict check.
 *
 * Hazard: every field being optional, TypeScript lets any `Record<string, unknown>` through where a
 * QuestionDoc is expected. A parsed mapping enters only through `isQuestionDoc` (or the corpus's
 * `asQuestionDoc`), never by assignment.
 */
export const QuestionDocSchema = z
  .object({
    id: text,
    track: text,
    level: text,
    zone: text,
    topic: text,
    competency_area: text,
    bloom_level: text,
    phase: text,
    title: text,
    scenario: text,
    question: text,
    visual: z.object({ kind: text, path: text, alt: text, caption: text }).catchall(z.unknown()).nullish(),
    details: z.object({ realistic_solution: text, common_mistake: text, napkin_math: text }).catchall(z.unknown()).nullish(),
    status: text,
    provenance: text,
    tags: z.array(z.unknown()).nullish(),
    chains: z.array(z.unknown()).nullish(),
    created_at: lenientDate,
    updated_at: lenientDate,
  })
  .catchall(z.unknown());

/**
 * A question document as the pipeline carries it between steps (drafts in job data, files read
 * back from disk). A `Question` is one; `validateQuestion` (src/corpus/schema.ts) says whether a
 * QuestionDoc is a valid Question.
 */
export type QuestionDoc = z.output<typeof QuestionDocSchema>;

/**
 * Whether a parsed mapping fits QuestionDoc. A guard, not a parse: the document itself is kept, so
 * its key order and every value are exactly what was read (zod's output would list known keys
 * first, and a file written back would change).
 */
export function isQuestionDoc(v: unknown): v is QuestionDoc {
  return QuestionDocSchema.safeParse(v).success;
}

/** The same check inside a zod schema (job data): valid documents pass through unchanged. */
export const QuestionDocInput = z.custom<QuestionDoc>(isQuestionDoc, { error: 'expected a question document (a mapping whose known fields have their kinds)' });
