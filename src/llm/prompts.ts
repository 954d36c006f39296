/**
 * Prompts as versioned files (prompts/*.md), rendered here. Every prompt carries its machine-readable
 * input as JSON between tags on their own lines (<cells>, <drafts>, <revisions>, <repair>), so the
 * offline provider reads exactly what a real model reads (readPromptBlock). promptHashes() goes into
 * run.json: a changed template is a different prompt version.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AREAS,
  EXTRA_TOPIC_AREAS,
  areaOfTopic,
  LEVEL_BLOOM,
  LEVELS,
  TOPICS_BY_AREA,
  TRACK_TOPIC_BLOCKLIST,
  TRACKS,
  VISUAL_ARCHETYPES,
  ZONE_INFO,
  ZONES,
} from '../corpus/taxonomy.js';
import { generateAnswerSchema, judgeAnswerSchema, reviseAnswerSchema } from './answer-schemas.js';
import type { PromptCell, PromptCellInput } from '../domain/plan-cell.js';
import type { CompletionRequest } from './types.js';

/** prompts/ at the project root: two levels up from src/llm, three from the compiled dist/src/llm. */
export const PROMPTS_DIR = [2, 3]
  .map((up) => resolve(dirname(fileURLToPath(import.meta.url)), ...Array<string>(up).fill('..'), 'prompts'))
  .find((d) => existsSync(d)) ?? resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'prompts');
export const PROMPT_NAMES = ['generate', 'judge', 'revise', 'repair', 'hardware', 'taxonomy'] as const;
export type PromptName = (typeof PROMPT_NAMES)[number];

const cache = new Map<PromptName, string>();
function template(name: PromptName): string {
  let t = cache.get(name);
  if (t === undefined) {
    t = readFileSync(join(PROMPTS_DIR, `${name}.md`), 'utf8');
    cache.set(name, t);
  }
  return t;
}

/** sha256 (hex) of each template file as stored: the prompt versions recorded with a run. */
export function promptHashes(): Record<PromptName, string> {
  return Object.fromEntries(PROMPT_NAMES.map((n) => [n, createHash('sha256').update(template(n)).digest('hex')])) as Record<PromptName, string>;
}

/**
 * Fills `{{name}}` and keeps `{{#flag}}…{{/flag}}` blocks only when the flag is true. The leading
 * `<!-- … -->` comment is for maintainers and is not sent. A placeholder left unfilled is a bug in
 * the template or the caller, so it throws rather than send a prompt with holes.
 */
export function renderTemplate(text: string, values: Record<string, string>, flags: Record<string, boolean> = {}): string {
  let out = text.replace(/^<!--[\s\S]*?-->\s*\n/, '');
  out = out.replace(/\{\{#(\w+)\}\}([\s\S]*?)\{\{\/\1\}\}/g, (_, flag: string, body: string) => (flags[flag] ? body : ''));
  out = out.replace(/\{\{(\w+)\}\}/g, (m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`prompt template: no value for ${m}`);
    return v;
  });
  return out;
}

/**
 * JSON for a tagged block. `</` is written `<\/` (the same string to any JSON parser) so no text
 * inside a draft can close the block early.
 */
export function blockJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/<\//g, '<\\/');
}

/** Reads the JSON between `<tag>` and `</tag>` lines of a prompt (the offline provider's input). */
export function readPromptBlock(prompt: string, tag: string): unknown {
  const m = new RegExp(`^<${tag}>\\s*$([\\s\\S]*?)^</${tag}>\\s*$`, 'm').exec(prompt);
  if (!m) throw new Error(`prompt has no <${tag}> block`);
  return JSON.parse(m[1]!);
}

export interface GeneratePromptOptions {
  /** e.g. `<runId>:<iter>`: makes repeated cells in later iterations differ. */
  variantPrefix?: string;
}

export interface BuiltPrompt extends Pick<CompletionRequest, 'purpose' | 'prompt' | 'jsonSchema' | 'cachePrefix'> {
  jsonSchema: NonNullable<CompletionRequest['jsonSchema']>;
}

/**
 * The stable head of a rendered prompt: everything before its last `# <heading>` line, which
 * opens the per-call part (the cells, the drafts). Templates keep instructions, taxonomy, rubric
 * and hardware reference above that heading and nothing that varies per call, so every call of
 * a kind shares the head byte for byte and providers can serve it from their prompt cache.
 */
export function stablePrefix(prompt: string, heading: string): string | undefined {
  const at = prompt.lastIndexOf(`\n# ${heading}`);
  return at > 0 ? prompt.slice(0, at + 1) : undefined;
}

export function toPromptCell(c: PromptCellInput, opts: GeneratePromptOptions = {}): PromptCell {
  const archetype = VISUAL_ARCHETYPES.find((a) => a.topic === c.topic);
  // A visual only where the topic has an archetype, as in the original.
  const withVisual = c.with_visual && archetype !== undefined;
  return {
    index: c.index,
    track: c.track,
    topic: c.topic,
    zone: c.zone,
    level: c.level,
    bloom: LEVEL_BLOOM[c.level] ?? 'apply',
    competency_area: c.competency_area ?? areaOfTopic(c.topic),
    with_visual: withVisual,
    ...(withVisual ? { visual_format: archetype!.kind, visual_archetype: archetype!.archetype } : {}),
    variant: c.variant ?? `${opts.variantPrefix ?? 'v'}:${c.index}`,
  };
}

export function buildGeneratePrompt(cells: readonly PromptCellInput[], opts: GeneratePromptOptions = {}): BuiltPrompt & { cells: PromptCell[] } {
  if (cells.length === 0) throw new Error('buildGeneratePrompt: no cells');
  const promptCells = cells.map((c) => toPromptCell(c, opts));
  const anyVisual = promptCells.some((c) => c.with_visual);
  const prompt = renderTemplate(
    template('generate'),
    {
      n_cells: String(promptCells.length),
      areas: AREAS.join(', '),
      taxonomy: taxonomyReference(),
      hardware_reference: hardwareReference(),
      cells_json: blockJson(promptCells),
    },
    { visual: anyVisual },
  );
  const cachePrefix = stablePrefix(prompt, 'Cells');
  return { purpose: 'generate', prompt, ...(cachePrefix ? { cachePrefix } : {}), jsonSchema: generateAnswerSchema(anyVisual), cells: promptCells };
}

/**
 * One draft as the judge prompt gives it (the contract's field names). Placement fields are plain
 * text: the prompt shows a draft as it is, a value off the taxonomy included.
 */
export interface JudgePromptDraft {
  id: string;
  track: string;
  zone: string;
  level: string;
  topic: string;
  competency_area: string;
  bloom_level: string;
  title: string;
  scenario: string;
  question: string;
  realistic_solution: string;
  common_mistake: string;
  napkin_math: string;
  visual_kind?: string;
  visual_alt?: string;
  visual_source?: string;
  render_error?: string;
  /** Soft findings of the deterministic pre-judge. */
  findings: string[];
}

export function buildJudgePrompt(drafts: readonly JudgePromptDraft[]): BuiltPrompt & { ids: string[] } {
  if (drafts.length === 0) throw new Error('buildJudgePrompt: no drafts');
  const prompt = renderTemplate(template('judge'), {
    n_drafts: String(drafts.length),
    taxonomy: taxonomyReference(),
    hardware_reference: hardwareReference(),
    drafts_json: blockJson(drafts),
  });
  const cachePrefix = stablePrefix(prompt, 'Drafts');
  return { purpose: 'judge', prompt, ...(cachePrefix ? { cachePrefix } : {}), jsonSchema: judgeAnswerSchema(), ids: drafts.map((d) => d.id) };
}

export interface RevisionInput {
  id: string;
  draft: JudgePromptDraft;
  issues: string[];
  fix_suggestion: string;
}

export function buildRevisePrompt(revisions: readonly RevisionInput[]): BuiltPrompt & { ids: string[] } {
  if (revisions.length === 0) throw new Error('buildRevisePrompt: no revisions');
  const prompt = renderTemplate(template('revise'), {
    n_items: String(revisions.length),
    areas: AREAS.join(', '),
    hardware_reference: hardwareReference(),
    revisions_json: blockJson(revisions),
  });
  const anyVisual = revisions.some((r) => r.draft.visual_kind !== undefined);
  return { purpose: 'revise', prompt, jsonSchema: reviseAnswerSchema(anyVisual), ids: revisions.map((r) => r.id) };
}

/**
 * A second chance for an answer that did not parse or validate. `items` is what parsed (or the
 * raw text when nothing did); `original` is the request being repaired, whose schema is reused.
 * The <repair> block holds {purpose, schema, answer}; <errors> holds the error strings.
 */
export function buildRepairPrompt(
  items: unknown[] | string,
  errors: readonly string[],
  original: Pick<CompletionRequest, 'purpose' | 'jsonSchema'>,
): BuiltPrompt & { repairing: CompletionRequest['purpose'] } {
  const prompt = renderTemplate(template('repair'), {
    repair_json: blockJson({ purpose: original.purpose, schema: original.jsonSchema?.schema ?? null, answer: items }),
    errors_json: blockJson(errors),
  });
  const jsonSchema = original.jsonSchema ?? { name: 'repaired', schema: { type: 'array' } };
  return { purpose: 'repair', prompt, jsonSchema, repairing: original.purpose };
}

function hardwareReference(): string {
  return renderTemplate(template('hardware'), {}).trim();
}

let taxonomyText: string | undefined;
/**
 * The whole taxonomy (src/corpus/taxonomy.ts) as the generator and the judge read it: tracks and
 * the topics each never takes, zones with their levels, level → Bloom, every area with its topics.
 * Part of both stable prompt heads: the judge checks cell fit against it, the generator stays
 * on its topic with it, and it is identical for every call.
 */
export function taxonomyReference(): string {
  taxonomyText ??= renderTemplate(template('taxonomy'), {
    tracks: TRACKS.map((t) => (t === 'global' ? 'global (cross-track foundations)' : t)).join(', '),
    track_blocklist: TRACKS.filter((t) => TRACK_TOPIC_BLOCKLIST[t].length > 0).map((t) => `${t}: ${TRACK_TOPIC_BLOCKLIST[t].join(', ')}`).join('; '),
    zones: ZONES.map((z) => `- ${z} (${ZONE_INFO[z].levels.join(', ')}): ${ZONE_INFO[z].description.charAt(0).toLowerCase()}${ZONE_INFO[z].description.slice(1)}`).join('\n'),
    levels: LEVELS.map((l) => `${l} ${LEVEL_BLOOM[l]}`).join(', '),
    areas: AREAS.map((a) => `- ${a}: ${[...TOPICS_BY_AREA[a], ...Object.keys(EXTRA_TOPIC_AREAS).filter((t) => EXTRA_TOPIC_AREAS[t] === a)].join(', ')}`).join('\n'),
  }).trim();
  return taxonomyText;
}
