/**
 * JSON schemas of the answers (the prompt/answer contract), for providers' structured output.
 * Written in the subset that OpenAI's strict mode, Gemini's responseJsonSchema and Anthropic's
 * tool input_schema all accept: every property required, optional ones nullable, no extra keys.
 * The zod schemas in parse.ts remain the authority; these only steer the model.
 */
import { AREAS, PHASES, VERDICTS } from '../corpus/taxonomy.js';
import { isMapping } from '../util/mapping.js';

type JsonSchema = Record<string, unknown>;

const str = (description?: string): JsonSchema => (description ? { type: 'string', description } : { type: 'string' });
const nullable = (s: JsonSchema): JsonSchema => ({ anyOf: [s, { type: 'null' }] });
const obj = (properties: Record<string, JsonSchema>): JsonSchema => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

function itemProperties(withVisual: boolean): Record<string, JsonSchema> {
  const props: Record<string, JsonSchema> = {
    title: str('5-10 words'),
    scenario: str('1-3 sentences grounded in named hardware'),
    question: str('one-sentence task'),
    realistic_solution: str('2-4 sentences with worked math'),
    common_mistake: str('1-2 sentences'),
    napkin_math: str('compact, machine-checkable, contains a digit'),
    expected_time_minutes: { type: 'integer', description: '4-15' },
    competency_area: { type: 'string', enum: [...AREAS] },
    phase: nullable({ type: 'string', enum: [...PHASES] }),
  };
  if (withVisual) {
    props.visual = nullable(obj({ kind: { type: 'string', enum: ['dot', 'matplotlib'] }, alt: str(), caption: str() }));
    props.visual_source = nullable(str('diagram source as one string'));
  }
  return props;
}

/** The generate answer: an array of items keyed by cell_index. Visual fields only when a cell wants one. */
export function generateAnswerSchema(withVisual: boolean): { name: string; schema: JsonSchema } {
  return {
    name: 'generated_questions',
    schema: { type: 'array', items: obj({ cell_index: { type: 'integer' }, ...itemProperties(withVisual) }) },
  };
}

/** The revise answer: the generate item shape with `id` instead of cell_index. */
export function reviseAnswerSchema(withVisual: boolean): { name: string; schema: JsonSchema } {
  return { name: 'revised_questions', schema: { type: 'array', items: obj({ id: str(), ...itemProperties(withVisual) }) } };
}

const CRITERION = { type: 'string', enum: ['PASS', 'WARN', 'ERROR'] };

/** The judge answer. `reasoning` comes before `verdict` so that models writing in order reason first. */
export function judgeAnswerSchema(): { name: string; schema: JsonSchema } {
  return {
    name: 'judge_verdicts',
    schema: {
      type: 'array',
      items: obj({
        id: str(),
        reasoning: str('step-by-step check before the verdict'),
        criteria: obj({
          math_correct: CRITERION,
          cell_fit: CRITERION,
          scenario_realism: CRITERION,
          uniqueness: CRITERION,
          visual_alignment: { type: 'string', enum: ['PASS', 'WARN', 'ERROR', 'N/A'] },
        }),
        issues: { type: 'array', items: str() },
        verdict: { type: 'string', enum: [...VERDICTS] },
        fix_suggestion: str('"" unless NEEDS_FIX'),
      }),
    },
  };
}

/** The property an array answer is wrapped in for APIs whose structured output must be an object. */
export const WRAP_KEY = 'items';

/** OpenAI strict schemas and Anthropic tool inputs must be objects: wrap a top-level array. */
export function objectRootSchema(schema: JsonSchema): { schema: JsonSchema; wrapped: boolean } {
  if (schema.type !== 'array') return { schema, wrapped: false };
  return { schema: obj({ [WRAP_KEY]: schema }), wrapped: true };
}

/**
 * Undoes objectRootSchema on the answer, so that every provider returns the contract's array.
 * Text that does not parse is returned as is: parse.ts reports it with an excerpt.
 */
export function unwrapAnswer(text: string): string {
  try {
    const v = JSON.parse(text) as unknown;
    if (isMapping(v) && Array.isArray(v[WRAP_KEY])) {
      return JSON.stringify(v[WRAP_KEY]);
    }
  } catch {
    // Malformed or truncated: left for the parser to report.
  }
  return text;
}

/** Gemini orders output keys alphabetically unless told; keep the schema's order (reasoning first). */
export function withPropertyOrdering(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withPropertyOrdering);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = withPropertyOrdering(v);
  if (out.properties && typeof out.properties === 'object') out.propertyOrdering = Object.keys(out.properties);
  return out;
}
