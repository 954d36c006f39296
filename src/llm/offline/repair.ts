/**
 * The offline answer to a repair prompt: `<repair>` holds {purpose, schema, answer} (answer: the
 * items that parsed, or the raw text), `<errors>` the problems found. Items keep their content and
 * their cell_index or id; only shape problems are fixed (types, enums, missing strings). Nothing is
 * invented: an answer with no recoverable items repairs to an empty array.
 */
import { normalizeArea } from '../../corpus/areas.js';
import { findJsonArray } from './tags.js';
import { isMapping } from '../../util/mapping.js';

const TEXT_FIELDS = ['title', 'scenario', 'question', 'realistic_solution', 'common_mistake', 'napkin_math'] as const;
const GRADES = new Set(['PASS', 'WARN', 'ERROR', 'N/A']);
const CRITERIA = ['math_correct', 'cell_fit', 'scenario_realism', 'uniqueness', 'visual_alignment'] as const;

function recoverItems(answer: unknown): Record<string, unknown>[] {
  let items: unknown[] | undefined;
  if (Array.isArray(answer)) items = answer;
  else if (typeof answer === 'string') {
    try {
      const v = JSON.parse(answer) as unknown;
      items = Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : undefined;
    } catch {
      items = findJsonArray(answer);
    }
  } else if (isMapping(answer)) {
    const wrapped = answer.items;
    items = Array.isArray(wrapped) ? wrapped : [answer];
  }
  return (items ?? []).filter(isMapping);
}

function repairQuestionItem(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...item };
  if (out.cell_index !== undefined) {
    const n = Number.parseInt(String(out.cell_index), 10);
    if (Number.isFinite(n)) out.cell_index = n;
  }
  if (out.id !== undefined) out.id = String(out.id).trim();
  for (const f of TEXT_FIELDS) {
    const v = out[f];
    out[f] = typeof v === 'string' ? v.trim() : Array.isArray(v) ? v.map(String).join('\n') : v === undefined || v === null ? '' : String(v);
  }
  const minutes = Number.parseInt(String(out.expected_time_minutes ?? ''), 10);
  out.expected_time_minutes = Number.isFinite(minutes) && minutes > 0 ? minutes : 8;
  const area = normalizeArea(out.competency_area);
  if ('area' in area) out.competency_area = area.area;
  if (out.phase !== undefined && !['training', 'inference', 'both'].includes(String(out.phase))) out.phase = 'both';
  return out;
}

function repairVerdict(item: Record<string, unknown>): Record<string, unknown> {
  const raw = isMapping(item.criteria) ? item.criteria : {};
  const criteria: Record<string, string> = {};
  for (const c of CRITERIA) {
    const g = String(raw[c] ?? '').trim().toUpperCase().replace(/^NA$/, 'N/A');
    criteria[c] = GRADES.has(g) ? g : c === 'visual_alignment' ? 'N/A' : 'PASS';
  }
  const grades = Object.values(criteria);
  const derived = grades.includes('ERROR') ? 'DROP' : grades.includes('WARN') ? 'NEEDS_FIX' : 'PASS';
  const v = String(item.verdict ?? '').trim().toUpperCase().replace(/[\s-]+/g, '_');
  const verdict = ['PASS', 'NEEDS_FIX', 'DROP'].includes(v) ? v : derived;
  return {
    id: String(item.id ?? '').trim(),
    reasoning: typeof item.reasoning === 'string' ? item.reasoning : '',
    criteria,
    issues: Array.isArray(item.issues) ? item.issues.map(String) : [],
    verdict,
    fix_suggestion: verdict === 'NEEDS_FIX' && typeof item.fix_suggestion === 'string' ? item.fix_suggestion : '',
  };
}

export function repairAnswer(block: unknown): Record<string, unknown>[] {
  const b = isMapping(block) ? block : { answer: block };
  const items = recoverItems(b.answer);
  return items.map((it) => (b.purpose === 'judge' ? repairVerdict(it) : repairQuestionItem(it)));
}
