/**
 * Turning a model's raw text into validated items. Fixes the original's fragile parsing (SEED-SPEC
 * §11.8): the JSON is found with a string-aware bracket scan, nothing lenient is accepted silently
 * (a trailing comma is an error, not a repair), items are matched to cells by cell_index and to
 * drafts by exact id, and nothing a model returns becomes an id or a path: identity always comes
 * from the cell or the draft list the caller holds.
 */
import { z } from 'zod';
import { LlmOutputInvalidError } from '../errors.js';
import { normalizeArea } from '../corpus/areas.js';
import { isLevel, PHASES, type Area, type Level } from '../corpus/taxonomy.js';
import { excerpt } from './errors.js';
import { isMapping } from '../util/mapping.js';
import type { GeneratedItem } from '../domain/generated-item.js';
import type { PromptCell } from '../domain/plan-cell.js';

// ---------------------------------------------------------------------------------------------
// JSON extraction

interface Span {
  start: number;
  end: number;
}

/**
 * The top-level balanced `[...]`/`{...}` spans of `text`, scanning with awareness of JSON strings
 * (a bracket inside "…" does not count). A span that never closes is reported as truncated.
 */
function topLevelSpans(text: string): { spans: Span[]; unclosedAt?: number; mismatchAt?: number } {
  const spans: Span[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch !== '[' && ch !== '{') {
      i++;
      continue;
    }
    const start = i;
    const stack: string[] = [];
    let inString = false;
    let closed = false;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '[' || c === '{') stack.push(c === '[' ? ']' : '}');
      else if (c === ']' || c === '}') {
        if (stack.pop() !== c) return { spans, mismatchAt: i };
        if (stack.length === 0) {
          closed = true;
          i++;
          break;
        }
      }
    }
    if (!closed) return { spans, unclosedAt: start };
    spans.push({ start, end: i });
  }
  return { spans };
}

/** The body of the first ``` fence, if the text has one (prose around it is ignored). */
function fenced(text: string): string | undefined {
  const m = /```[a-zA-Z]*[ \t]*\r?\n([\s\S]*?)(?:\r?\n)?```/.exec(text);
  return m?.[1];
}

/**
 * The JSON value in a model's answer: the content of a code fence if there is one, else the first
 * top-level bracketed span of the text that parses. Throws LlmOutputInvalidError (with an excerpt)
 * for no JSON, truncated JSON or JSON that does not parse (trailing commas included).
 */
export function extractJson(raw: string): unknown {
  const text = (fenced(raw) ?? raw).trim();
  const { spans, unclosedAt, mismatchAt } = topLevelSpans(text);
  let firstError: string | undefined;
  for (const s of spans) {
    const slice = text.slice(s.start, s.end);
    try {
      return JSON.parse(slice);
    } catch (e) {
      // Prose such as "[see below]" may precede the answer; a later span may still be the JSON.
      firstError ??= `${(e as Error).message} in ${excerpt(slice, 200)}`;
    }
  }
  if (unclosedAt !== undefined) throw new LlmOutputInvalidError('truncated JSON: a bracket opened and never closed (answer cut off?)', excerpt(text.slice(unclosedAt), 500));
  if (mismatchAt !== undefined) throw new LlmOutputInvalidError(`malformed JSON: mismatched bracket at offset ${mismatchAt}`, excerpt(text, 500));
  if (firstError) throw new LlmOutputInvalidError(`malformed JSON: ${firstError}`, excerpt(text, 500));
  throw new LlmOutputInvalidError('no JSON array or object in the answer', excerpt(text, 500));
}

/**
 * The answer as a list of items: an array as is; `{"items": [...]}` (or any object whose only
 * property is an array) unwrapped; any other single object as a one-item list.
 */
export function extractItems(raw: string): unknown[] {
  const v = extractJson(raw);
  if (Array.isArray(v)) return v;
  if (v && typeof v === 'object') {
    const values = Object.values(v);
    if (values.length === 1 && Array.isArray(values[0])) return values[0];
    return [v];
  }
  throw new LlmOutputInvalidError(`expected a JSON array of objects, got ${typeof v}`, excerpt(raw, 500));
}

// ---------------------------------------------------------------------------------------------
// Schemas

const text = z.string().trim().min(1);

/** "L6" → "L6+", "l3" → "L3"; anything else undefined. */
export function normalizeLevel(v: unknown): Level | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toUpperCase();
  if (s === 'L6' || s === 'L6+') return 'L6+';
  return isLevel(s) ? s : undefined;
}

const minutes = z.preprocess((v) => {
  const n = typeof v === 'string' ? Number.parseInt(v, 10) : v;
  return typeof n === 'number' && Number.isFinite(n) ? Math.round(n) : undefined;
}, z.number().int().min(1).max(120).optional());

const itemFields = {
  title: text,
  scenario: text,
  question: text,
  realistic_solution: text,
  common_mistake: text,
  napkin_math: text,
  expected_time_minutes: minutes,
  competency_area: z.string().nullish(),
  phase: z.string().nullish(),
  level: z.unknown().optional(),
  visual: z
    .object({ kind: z.string().nullish(), alt: z.string().trim().nullish(), caption: z.string().trim().nullish() })
    .nullish(),
  visual_source: z.string().nullish(),
};

/** One generated item as the model sends it (unknown keys such as `id` or `path` are dropped). */
export const GenerateItemSchema = z.object({ cell_index: z.coerce.number().int().min(0), ...itemFields });
/** One revised item: the generate shape with the draft's id instead of cell_index. */
export const ReviseItemSchema = z.object({ id: z.string().trim().min(1), ...itemFields });

const criterion = z.preprocess((v) => (typeof v === 'string' ? v.trim().toUpperCase().replace(/^NA$/, 'N/A') : v), z.enum(['PASS', 'WARN', 'ERROR', 'N/A']));

/** One judge verdict. Verdict spellings such as "needs fix" are read as NEEDS_FIX. */
export const JudgeVerdictSchema = z.object({
  id: z.string().trim().min(1),
  reasoning: z.string().default(''),
  verdict: z.preprocess((v) => (typeof v === 'string' ? v.trim().toUpperCase().replace(/[\s-]+/g, '_') : v), z.enum(['PASS', 'NEEDS_FIX', 'DROP'])),
  criteria: z.object({
    math_correct: criterion,
    cell_fit: criterion,
    scenario_realism: criterion,
    uniqueness: criterion,
    visual_alignment: criterion,
  }),
  issues: z.array(z.string()).default([]),
  fix_suggestion: z.string().default(''),
});
export type JudgeVerdict = z.output<typeof JudgeVerdictSchema>;

// ---------------------------------------------------------------------------------------------
// Generate answers

/** A generated item, validated and tied to its cell. Everything that identifies it comes from the cell. */
export type { GeneratedItem } from '../domain/generated-item.js';

export interface ItemFailure {
  cellIndex: number;
  error: string;
  /** The item as the model sent it, when there was one and it failed the schema (the repair prompt shows it). */
  item?: unknown;
}

export interface UnknownItem {
  /** Position in the answer array. */
  position: number;
  reason: string;
  excerpt: string;
}

export interface GenerateParse {
  items: Map<number, GeneratedItem>;
  failures: ItemFailure[];
  unknown: UnknownItem[];
}

type CellLike = Pick<PromptCell, 'index' | 'competency_area' | 'with_visual' | 'level'> & Partial<Pick<PromptCell, 'visual_format'>>;

export const DEFAULT_MINUTES = 8;

function zodMessage(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(item)'}: ${i.message}`).join('; ');
}

/** Shared by generate and revise items: area, level, phase and visual checked against the target. */
function finishItem(
  raw: z.output<typeof GenerateItemSchema> | z.output<typeof ReviseItemSchema>,
  target: { competency_area: Area; with_visual: boolean; level: Level; visual_format?: 'dot' | 'matplotlib' | undefined },
): Omit<GeneratedItem, 'cellIndex'> {
  const notes: string[] = [];
  if (raw.competency_area !== undefined && raw.competency_area !== null) {
    const n = normalizeArea(raw.competency_area);
    if ('unmappable' in n) notes.push(`competency_area "${raw.competency_area}" unmappable (${n.reason}); used the cell's ${target.competency_area}`);
    else {
      if (n.rule !== 'canonical') notes.push(`competency_area "${raw.competency_area}" normalized to ${n.area} (${n.rule})`);
      if (n.area !== target.competency_area) notes.push(`competency_area ${n.area} differs from the cell's ${target.competency_area}; kept the cell's`);
    }
  }
  // The topic's area (the cell's) is authoritative: a model cannot move a question to another area.
  const area: Area = target.competency_area;
  if (raw.level !== undefined) {
    const lvl = normalizeLevel(raw.level);
    if (lvl !== target.level) notes.push(`level ${JSON.stringify(raw.level)} ignored; the cell's is ${target.level}`);
  }
  const phase = (PHASES as readonly string[]).includes(String(raw.phase ?? '').trim().toLowerCase())
    ? (String(raw.phase).trim().toLowerCase() as GeneratedItem['phase'])
    : 'both';
  const out: Omit<GeneratedItem, 'cellIndex'> = {
    title: raw.title,
    scenario: raw.scenario,
    question: raw.question,
    realistic_solution: raw.realistic_solution,
    common_mistake: raw.common_mistake,
    napkin_math: raw.napkin_math,
    expected_time_minutes: raw.expected_time_minutes ?? DEFAULT_MINUTES,
    competency_area: area,
    phase,
    notes,
  };
  if (target.with_visual && target.visual_format) {
    const v = raw.visual;
    const src = raw.visual_source?.trim();
    if (v && v.alt && src) {
      if (v.kind && v.kind !== target.visual_format) notes.push(`visual kind ${v.kind} ignored; the cell asks for ${target.visual_format}`);
      out.visual = { kind: target.visual_format, alt: v.alt, caption: v.caption ?? '' };
      out.visual_source = src;
    } else {
      notes.push('visual wanted but the answer has no visual with alt and visual_source');
    }
  } else if (raw.visual || raw.visual_source) {
    notes.push('visual returned for a cell without one; dropped');
  }
  return out;
}

/** Fields a model may send that would name a file; they are never used (ids and paths are minted). */
const IDENTITY_FIELDS = ['id', 'path', 'file', 'filename'] as const;

/** Notes on the identity fields of a raw generate item: each one ignored, and said so. */
export function identityNotes(value: unknown): string[] {
  if (!isMapping(value)) return [];
  const v = value;
  const found: [string, unknown][] = IDENTITY_FIELDS.filter((k) => v[k] !== undefined && v[k] !== null).map((k) => [k, v[k]]);
  const visual = v.visual;
  if (isMapping(visual) && visual.path !== undefined) found.push(['visual.path', visual.path]);
  return found.map(([k, x]) => {
    const text = excerpt(typeof x === 'string' ? x : (JSON.stringify(x) ?? String(x)), 120);
    const escapes = typeof x === 'string' && (x.includes('..') || x.startsWith('/') || x.includes('\\'));
    return `model's ${k} ${JSON.stringify(text)} ignored${escapes ? ' (it points outside its folder)' : ''}: ids and paths are minted by the pipeline`;
  });
}

function itemExcerpt(v: unknown): string {
  try {
    return excerpt(JSON.stringify(v) ?? String(v), 300);
  } catch {
    return String(v);
  }
}

/**
 * Matches a generate answer to its cells. By cell_index; by position only when no item has a
 * cell_index and the counts agree. Cells without a valid item are failures; items that match no
 * cell (or repeat one) are unknown. Throws LlmOutputInvalidError when no JSON can be read at all.
 */
export function parseGenerateAnswer(raw: string, cells: readonly CellLike[]): GenerateParse {
  const arr = extractItems(raw);
  const byIndex = new Map(cells.map((c) => [c.index, c]));
  const items = new Map<number, GeneratedItem>();
  /** Cells whose item failed the schema: the reason, and the item as sent (the repair prompt shows it). */
  const failed = new Map<number, { error: string; item: unknown }>();
  const unknown: UnknownItem[] = [];
  const hasIndex = (v: unknown) => !!v && typeof v === 'object' && 'cell_index' in v && (v as { cell_index: unknown }).cell_index !== null;
  const positional = arr.length === cells.length && arr.every((v) => !hasIndex(v));

  arr.forEach((value, position) => {
    const candidate = positional && value && typeof value === 'object' ? { ...(value as object), cell_index: cells[position]!.index } : value;
    const parsed = GenerateItemSchema.safeParse(candidate);
    const idx = parsed.success ? parsed.data.cell_index : Number((candidate as { cell_index?: unknown } | null)?.cell_index);
    const cell = Number.isInteger(idx) ? byIndex.get(idx) : undefined;
    if (!cell) {
      unknown.push({ position, reason: parsed.success || hasIndex(candidate) ? `cell_index ${JSON.stringify((candidate as { cell_index?: unknown }).cell_index)} matches no cell` : `no usable cell_index (${parsed.success ? '' : zodMessage(parsed.error)})`, excerpt: itemExcerpt(value) });
      return;
    }
    if (items.has(cell.index) || failed.has(cell.index)) {
      unknown.push({ position, reason: `second item for cell_index ${cell.index}; the first one is kept`, excerpt: itemExcerpt(value) });
      return;
    }
    if (!parsed.success) {
      failed.set(cell.index, { error: zodMessage(parsed.error), item: value });
      return;
    }
    const finished = finishItem(parsed.data, { competency_area: cell.competency_area, with_visual: cell.with_visual, level: cell.level, visual_format: cell.visual_format });
    items.set(cell.index, { cellIndex: cell.index, ...finished, notes: [...identityNotes(value), ...finished.notes] });
  });

  const failures: ItemFailure[] = [];
  for (const c of cells) {
    if (items.has(c.index)) continue;
    failures.push({ cellIndex: c.index, ...(failed.get(c.index) ?? { error: 'missing in response' }) });
  }
  return { items, failures, unknown };
}

// ---------------------------------------------------------------------------------------------
// Judge answers

export interface UnknownVerdict {
  id: string | null;
  reason: string;
}

export interface JudgeParse {
  verdicts: Map<string, JudgeVerdict>;
  /** Verdicts ignored: ids not asked for (renamed, invented), duplicates, invalid objects. */
  unknown: UnknownVerdict[];
  /** Drafts asked for that got no valid verdict. */
  missing: string[];
}

/**
 * Matches verdicts to drafts by exact id (surrounding whitespace aside). Never by position and
 * never by similarity: a renamed id could otherwise send a DROP to the wrong draft.
 */
export function parseJudgeAnswer(raw: string, draftIds: readonly string[]): JudgeParse {
  const arr = extractItems(raw);
  const wanted = new Set(draftIds);
  const verdicts = new Map<string, JudgeVerdict>();
  const unknown: UnknownVerdict[] = [];
  for (const value of arr) {
    const rawId = value && typeof value === 'object' ? (value as { id?: unknown }).id : undefined;
    const id = typeof rawId === 'string' ? rawId.trim() : typeof rawId === 'number' ? String(rawId) : null;
    if (id === null || !wanted.has(id)) {
      unknown.push({ id, reason: id === null ? 'no id' : 'id not among the drafts judged' });
      continue;
    }
    if (verdicts.has(id)) {
      unknown.push({ id, reason: 'second verdict for this id; the first one is kept' });
      continue;
    }
    const parsed = JudgeVerdictSchema.safeParse({ ...(value as object), id });
    if (!parsed.success) {
      unknown.push({ id, reason: `invalid verdict: ${zodMessage(parsed.error)}` });
      continue;
    }
    verdicts.set(id, parsed.data);
  }
  return { verdicts, unknown, missing: draftIds.filter((id) => !verdicts.has(id)) };
}

// ---------------------------------------------------------------------------------------------
// Revise answers

export interface RevisedItem extends Omit<GeneratedItem, 'cellIndex'> {
  id: string;
}

export interface ReviseTarget {
  id: string;
  competency_area: Area;
  level: Level;
  visual_kind?: 'dot' | 'matplotlib';
}

export interface ReviseParse {
  items: Map<string, RevisedItem>;
  failures: { id: string; error: string }[];
  unknown: UnknownVerdict[];
}

/** Matches revised items to the drafts being revised, by exact id, like the judge. */
export function parseReviseAnswer(raw: string, targets: readonly ReviseTarget[]): ReviseParse {
  const arr = extractItems(raw);
  const byId = new Map(targets.map((t) => [t.id, t]));
  const items = new Map<string, RevisedItem>();
  const failed = new Map<string, string>();
  const unknown: UnknownVerdict[] = [];
  for (const value of arr) {
    const rawId = value && typeof value === 'object' ? (value as { id?: unknown }).id : undefined;
    const id = typeof rawId === 'string' ? rawId.trim() : null;
    const target = id === null ? undefined : byId.get(id);
    if (!target || id === null) {
      unknown.push({ id, reason: id === null ? 'no id' : 'id not among the drafts revised' });
      continue;
    }
    if (items.has(id) || failed.has(id)) {
      unknown.push({ id, reason: 'second item for this id; the first one is kept' });
      continue;
    }
    const parsed = ReviseItemSchema.safeParse(value);
    if (!parsed.success) {
      failed.set(id, zodMessage(parsed.error));
      continue;
    }
    const done = finishItem(parsed.data, {
      competency_area: target.competency_area,
      level: target.level,
      with_visual: target.visual_kind !== undefined,
      visual_format: target.visual_kind,
    });
    items.set(id, { id, ...done });
  }
  const failures = targets.filter((t) => !items.has(t.id)).map((t) => ({ id: t.id, error: failed.get(t.id) ?? 'missing in response' }));
  return { items, failures, unknown };
}
