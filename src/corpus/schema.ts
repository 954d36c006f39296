/**
 * The question schema v1.0 (SEED-SPEC §2.2) in zod, and `validateQuestion`, which adds the loader's
 * file rules and turns every issue into a CorpusProblem that names the field, what was expected and
 * what was found, with the line where the source text is at hand.
 *
 * Where the original's two schemas disagree, the stricter one that the data still passes wins:
 * topic and competency_area are closed (LinkML), schema_version only has to start with "1."
 * (Pydantic), and schema_version/status/provenance take Pydantic's defaults when absent.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import type { CorpusProblem, Severity } from './loader.js';
import { inLevelAffinity, isArea, isLevel, isTrack, isZone, TOPICS, TRACKS, ZONE_INFO } from './taxonomy.js';
import { normalizeArea } from './areas.js';
import { isMapping } from '../util/mapping.js';

export { ChainRefSchema, DetailsSchema, HumanReviewedSchema, ID_PATTERN, QuestionSchema, ResourceSchema, SCENARIO_FORBIDDEN, VisualSchema, type Question, type QuestionInput } from '../domain/question.js';
import { QuestionSchema } from '../domain/question.js';

/** `<track>-<suffix>.yaml` (the original's FILENAME_RE was not read; this is its documented shape). */
export const FILENAME_PATTERN = new RegExp(`^(${TRACKS.join('|')})-([A-Za-z0-9][A-Za-z0-9_-]*)\\.yaml$`);

export interface ValidateOptions {
  /** The file's text: when given, problems get the line of the field they name. */
  text?: string;
  /** Skip the file-location rules (for a document not yet placed on disk). */
  skipLocation?: boolean;
}

type FieldPath = readonly (string | number)[];
interface Located extends CorpusProblem {
  field?: FieldPath;
}

/** Validates one parsed document and its place in the vault. Never throws. */
export function validateQuestion(doc: unknown, relPath: string, opts: ValidateOptions = {}): CorpusProblem[] {
  const out: Located[] = [];
  const add = (severity: Severity, code: string, message: string, field?: FieldPath) => out.push({ path: relPath, severity, code, message, field });

  if (!isMapping(doc)) {
    add('error', 'not-a-mapping', `expected a YAML mapping at the top level; found ${describeValue(doc)}`);
    return out.map(strip);
  }
  const result = QuestionSchema.safeParse(doc, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      add('error', 'schema', formatIssue(issue, path), path);
    }
  }

  if (!opts.skipLocation) checkLocation(doc, relPath, add);
  if (isZone(doc.zone) && isLevel(doc.level) && !inLevelAffinity(doc.zone, doc.level)) {
    add('warning', 'affinity', `level ${doc.level} is outside zone ${doc.zone}'s level affinity (${ZONE_INFO[doc.zone].levels.join(', ')})`, ['level']);
  }
  if (opts.text !== undefined && out.some((p) => p.field)) locate(out, opts.text);
  return out.map(strip);
}

function strip(p: Located): CorpusProblem {
  const { field: _field, ...rest } = p;
  if (rest.line === undefined) delete rest.line;
  return rest;
}

/** The loader's two rules: `<track>-<suffix>.yaml` equal to the id, and questions/<track>/ equal to the track. */
function checkLocation(d: Record<string, unknown>, relPath: string, add: (s: Severity, code: string, m: string, f?: FieldPath) => void): void {
  const parts = relPath.split('/');
  const base = parts[parts.length - 1] ?? '';
  const m = FILENAME_PATTERN.exec(base);
  if (!m) {
    add('error', 'filename', `file name "${base}" does not match <track>-<suffix>.yaml (track one of ${TRACKS.join(', ')})`);
  } else {
    const stem = base.slice(0, -'.yaml'.length);
    if (typeof d.id === 'string' && d.id !== stem) add('error', 'id-mismatch', `id: expected "${stem}" (the file name); found "${d.id}"`, ['id']);
    if (isTrack(d.track) && m[1] !== d.track) add('error', 'filename', `file name "${base}" starts with track "${m[1]}" but track is "${d.track}"`, ['track']);
  }
  if (parts[0] === 'questions') {
    if (parts.length < 3) {
      add('error', 'track-dir', `file sits directly in questions/; expected questions/<track>/…`);
    } else if (isTrack(d.track) && parts[1] !== d.track) {
      add('error', 'track-dir', `track: the file is under questions/${parts[1]}/ but track is "${d.track}"`, ['track']);
    }
    // The loader does not check the area folder; a mismatch is worth a warning (fix-areas moves the file).
    if (parts.length >= 4 && isArea(d.competency_area) && parts[2] !== d.competency_area) {
      add('warning', 'area-dir', `competency_area is "${d.competency_area}" but the file is under questions/${parts[1]}/${parts[2]}/ (run fix-areas to move it)`, ['competency_area']);
    }
  }
}

function pathText(path: FieldPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s || '(document)';
}

/** A short, quoted rendering of a found value. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const shown = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return `${JSON.stringify(shown)}${v.length > 60 ? ` (${v.length} characters)` : ''}`;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return `the date ${v.toISOString().slice(0, 10)}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  return 'a mapping';
}

function formatIssue(issue: z.core.$ZodIssue, path: FieldPath): string {
  const where = pathText(path);
  const input = (issue as { input?: unknown }).input;
  const found = describeValue(input);
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return `${where}: required field is missing (expected ${issue.expected})`;
      return `${where}: expected ${issue.expected}; found ${found}`;
    case 'invalid_value': {
      const values = issue.values.map(String);
      let msg = `${where}: expected one of ${values.join(', ')}; found ${found}`;
      if (where === 'competency_area') {
        const n = normalizeArea(input);
        msg += 'unmappable' in n ? ' (no canonical area can be derived from it)' : ` (normalizable to "${n.area}" by rule ${n.rule}: run fix-areas)`;
      }
      return msg;
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const exact = (issue as { exact?: boolean }).exact;
      const cmp = exact ? 'exactly' : issue.code === 'too_small' ? 'at least' : 'at most';
      if (issue.origin === 'string') return `${where}: expected ${cmp} ${bound} characters; found ${typeof input === 'string' ? input.length : '?'} (${found})`;
      if (issue.origin === 'array') return `${where}: expected ${cmp} ${bound} items; found ${Array.isArray(input) ? input.length : '?'}`;
      return `${where}: expected a value ${issue.code === 'too_small' ? '≥' : '≤'} ${bound}; found ${found}`;
    }
    case 'unrecognized_keys':
      return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${where === 'visual' ? ' (allowed: kind, path, alt, caption)' : ''}`;
    case 'invalid_format':
    case 'custom':
    case 'invalid_union':
    default: {
      if (where === 'topic' && typeof input === 'string') return `topic: expected one of the ${TOPICS.length} curated topics; found ${found}`;
      return `${where}: ${issue.message}; found ${found}`;
    }
  }
}

/** Gives each problem the line of the deepest key of its field path present in the text. */
function locate(problems: Located[], text: string): void {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) return;
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined): number | undefined =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  for (const p of problems) {
    if (!p.field || p.line !== undefined) continue;
    let node: unknown = document.contents;
    let line: number | undefined;
    for (const seg of p.field) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && it.key.value === seg);
        if (!pair) break;
        line = lineOf(pair.key as YamlNode) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as YamlNode | undefined;
        if (!item) break;
        line = lineOf(item) ?? line;
        node = item;
      } else break;
    }
    if (line !== undefined) p.line = line;
  }
}
