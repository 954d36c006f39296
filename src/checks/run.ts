/**
 * The deterministic pre-judge, on a certainty ladder (docs/checks.md):
 *
 * - `certain` findings DROP a draft without a model call. Only facts with no judgement in them:
 *   a schema failure (a required field missing, null or empty included), an area that maps to no
 *   canonical area, a topic the track excludes, a draft off its plan cell, an identical copy, and
 *   an arithmetic statement that is fully parsed, dimensionally consistent and wrong beyond every
 *   stated tolerance.
 * - `evidence` findings go to the model judge in the prompt, with what was found and where: unit
 *   slips, near-duplicates, injections, Bloom and hardware fit, form and realism.
 *
 * `hard`/`soft` in reports are the certain/evidence messages. Criteria follow SEED-SPEC §6 and stay
 * consistent with the verdict: every certain finding is an ERROR somewhere, every other a WARN.
 */
import { validateQuestion } from '../corpus/schema.js';
import { Applicability, inLevelAffinity, isArea, isLevel, isZone, TOPIC_AREA, topicArea, ZONE_INFO, type Verdict } from '../corpus/taxonomy.js';
import { checkArithmetic, type ArithmeticResult } from './arithmetic.js';
import { HW_CLASS_MENTION } from '../corpus/hardware.js';
import { bloomMismatch, hardwareMismatch } from './fit.js';
import { findInjections } from './injection.js';
import { similarityScores, type NearestMatch } from './neardup.js';
import { isMapping } from '../util/mapping.js';

export { hasPromptInjection } from './injection.js';

export const CRITERIA = ['math_correct', 'cell_fit', 'scenario_realism', 'uniqueness', 'visual_alignment'] as const;
export type Criterion = (typeof CRITERIA)[number];
export type CriterionGrade = 'PASS' | 'WARN' | 'ERROR' | 'N/A';
export type Criteria = Record<Criterion, CriterionGrade>;

/**
 * Similarity at or above which a draft is reported as a near-duplicate (evidence): chosen from the
 * precision/recall curve of the labelled pairs that `npm run bench` prints (docs/benchmarks.md).
 */
export const DEFAULT_NEAR_DUP_THRESHOLD = 0.6;
export const MAX_TITLE_WORDS = 10;

export interface CheckCell {
  track: string;
  topic: string;
  zone: string;
  level: string;
}

/**
 * A question document as the checks take it: any mapping (a draft about to be written, or a file
 * as read, a broken one included), since finding what is wrong with it is their job. A
 * QuestionDoc is one.
 */
export type DraftDoc = Record<string, unknown>;

export interface CheckContext {
  /** Topic × track applicability (default: the built-in blocklist only). */
  applicability?: Applicability;
  /** The plan cell the draft was generated for. */
  cell?: CheckCell;
  /**
   * The drafts of the same chunk, in order. When the draft itself is among them (same object or
   * same id), only those before it count, so of two near-copies the later one is the duplicate.
   */
  batch?: readonly DraftDoc[];
  /** The closest vault question (from a NearDupIndex), if any. */
  vaultNearest?: NearestMatch | null;
  /** Where `vaultNearest` comes from (default vault; the pre-judge also passes earlier drafts). */
  nearestSource?: 'vault' | 'batch';
  /** The visual renderer's error for this draft. */
  renderError?: string;
  /** Similarity at or above which a draft is a near-duplicate (default DEFAULT_NEAR_DUP_THRESHOLD). */
  nearDupThreshold?: number;
  /** Relative tolerance of the arithmetic re-check (default 0.02). */
  relTol?: number;
}

/** certain: DROP without a model call; evidence: shown to the model judge. */
export type FindingLevel = 'certain' | 'evidence';
export type CheckKind = 'schema' | 'area' | 'arithmetic' | 'units' | 'near-duplicate' | 'injection' | 'cell-fit' | 'form' | 'realism' | 'visual';

export interface Finding {
  level: FindingLevel;
  /** hard = certain, soft = evidence (the older names, kept in reports). */
  severity: 'hard' | 'soft';
  check: CheckKind;
  criterion: Criterion;
  message: string;
  /** The field it was found in, when it has one ("details.napkin_math"). */
  field?: string;
}

export interface CheckReport {
  hard: string[];
  soft: string[];
  arithmetic: ArithmeticResult;
  criteria: Criteria;
  verdict: Verdict;
  /** The closest earlier draft of the batch, or the vault match, whichever is more similar. */
  nearest: (NearestMatch & { source: 'vault' | 'batch' }) | null;
  /** Every finding with its criterion (hard and soft above are their messages). */
  findings: Finding[];
  hasVisual: boolean;
}

/**
 * Hardware a scenario can be grounded in: the names of every machine class of the hardware table,
 * other named parts, or the kind of machine.
 */
const HARDWARE_RE = new RegExp(
  [
    ...Object.values(HW_CLASS_MENTION).map((re) => re.source),
    'MI\\d{3}\\w*', 'L4', 'L40S?', 'V100', 'T4', 'A10G?', 'TPU', 'Pixel', 'Galaxy', 'Cortex-[AMR]\\d+\\w*', 'RTX ?\\d{4}', 'M[1-4] (?:Pro|Max|Ultra)?', 'Hexagon', 'Ethos', 'PCIe', 'HBM\\d?e?',
    'LPDDR\\d?X?', 'DDR\\d', 'UFS', 'eMMC', 'SRAM', 'DRAM', 'flash', 'GPUs?', 'NPUs?', 'CPUs?', 'DSPs?', 'FPGAs?', 'ASICs?', 'SoCs?',
    'accelerators?', 'servers?', 'nodes?', 'clusters?', 'chips?', 'boards?', 'Inferentia',
    'devices?', 'sensors?', 'cameras?', 'racks?', 'links?', 'NICs?', 'switch(?:es)?', 'SSDs?', 'batter(?:y|ies)', 'wearables?',
  ].join('|'),
);
const hardwareRe = new RegExp(`(?:^|[^A-Za-z0-9])(?:${HARDWARE_RE.source})(?![A-Za-z])`, 'i');

const PITFALL_RE = /\*{0,2}The Pitfall:\*{0,2}/;
const RATIONALE_RE = /\*{0,2}The Rationale:\*{0,2}/;
const CONSEQUENCE_RE = /\*{0,2}The Consequence:\*{0,2}/;

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function details(doc: DraftDoc): DraftDoc {
  return isMapping(doc.details) ? doc.details : {};
}

/** Three lines, in order: The Pitfall, The Rationale, The Consequence, each with text. */
export function isThreePartMistake(text: string): boolean {
  const p = PITFALL_RE.exec(text);
  const r = RATIONALE_RE.exec(text);
  const c = CONSEQUENCE_RE.exec(text);
  if (!p || !r || !c || !(p.index < r.index && r.index < c.index)) return false;
  const parts = [text.slice(p.index + p[0].length, r.index), text.slice(r.index + r[0].length, c.index), text.slice(c.index + c[0].length)];
  return parts.every((s) => /[A-Za-z]{2,}/.test(s));
}

/** Which of the napkin-math form's parts are missing (sections and the Result line). */
export function napkinFormProblems(text: string): string[] {
  const missing: string[] = [];
  if (!/Assumptions\s*(?:&|and)\s*Constraints/i.test(text)) missing.push('the "Assumptions & Constraints" section');
  if (!/\bCalculations\b/i.test(text)) missing.push('the "Calculations" section');
  if (!/Conclusion\s*(?:&|and)\s*Interpretation/i.test(text)) missing.push('the "Conclusion & Interpretation" section');
  if (!/\bResult\s*:/.test(text)) missing.push('the "Result:" line');
  return missing;
}

/** Text fields a question must have, non-empty (null and blank count as missing). */
const REQUIRED_TEXT: readonly (readonly string[])[] = [['title'], ['scenario'], ['question'], ['details', 'realistic_solution']];

function at(doc: DraftDoc, path: readonly string[]): unknown {
  let v: unknown = doc;
  for (const k of path) v = isMapping(v) ? v[k] : undefined;
  return v;
}

function sameDraft(a: DraftDoc, b: DraftDoc): boolean {
  return a === b || (typeof a.id === 'string' && a.id !== '' && a.id === b.id);
}

export function runChecks(draft: DraftDoc, ctx: CheckContext = {}): CheckReport {
  const findings: Finding[] = [];
  const add = (level: FindingLevel, f: Omit<Finding, 'level' | 'severity'>) => findings.push({ level, severity: level === 'certain' ? 'hard' : 'soft', ...f });
  const certain = (f: Omit<Finding, 'level' | 'severity'>) => add('certain', f);
  const evidence = (f: Omit<Finding, 'level' | 'severity'>) => add('evidence', f);
  const threshold = ctx.nearDupThreshold ?? DEFAULT_NEAR_DUP_THRESHOLD;
  const applicability = ctx.applicability ?? Applicability.builtin();
  const d = details(draft);

  // --- schema and taxonomy (certain)
  const area = draft.competency_area;
  const reported = new Set<string>();
  for (const path of REQUIRED_TEXT) {
    const v = at(draft, path);
    if (typeof v === 'string' && v.trim() !== '') continue;
    const field = path.join('.');
    reported.add(field);
    const what = v === undefined ? 'is missing' : v === null ? 'is null' : typeof v === 'string' ? 'is empty' : `is not text (${Array.isArray(v) ? 'a list' : typeof v})`;
    certain({ check: 'schema', criterion: 'cell_fit', field, message: `schema: ${field} ${what} (a required field must have text)` });
  }
  for (const p of validateQuestion(draft, `questions/${str(draft.track) || 'unknown'}/${str(draft.id) || 'draft'}.yaml`, { skipLocation: true })) {
    if (p.severity !== 'error') continue;
    // The area gets its own, clearer finding below; empty required fields have theirs above.
    if (p.message.startsWith('competency_area:')) continue;
    const field = p.message.split(':')[0]!;
    if (reported.has(field)) continue;
    certain({ check: 'schema', criterion: 'cell_fit', field, message: `schema: ${p.message}` });
  }
  if (!isArea(area)) {
    certain({ check: 'area', criterion: 'cell_fit', field: 'competency_area', message: `competency_area ${JSON.stringify(area ?? null)} is not one of the 13 canonical areas` });
  } else {
    const ofTopic = topicArea(str(draft.topic));
    if (ofTopic && ofTopic !== area) {
      evidence({ check: 'cell-fit', criterion: 'cell_fit', field: 'competency_area', message: `competency_area "${area}" is not the area of topic ${str(draft.topic)} ("${ofTopic}")` });
    }
  }
  const track = str(draft.track);
  const topic = str(draft.topic);
  if (TOPIC_AREA.has(topic) && ['cloud', 'edge', 'mobile', 'tinyml', 'global'].includes(track) && !applicability.applies(topic, track as never)) {
    certain({ check: 'cell-fit', criterion: 'cell_fit', field: 'topic', message: `topic ${topic} does not apply to track ${track}` });
  }
  if (ctx.cell) {
    const cell = ctx.cell;
    // Only the cell's known values: a cell without a level has nothing to compare the draft's with.
    const off = (['track', 'topic', 'zone', 'level'] as const).filter((k) => typeof cell[k] === 'string' && cell[k] !== '' && cell[k] !== 'undefined' && str(draft[k]) !== cell[k]);
    if (off.length > 0) {
      certain({
        check: 'cell-fit',
        criterion: 'cell_fit',
        field: off[0]!,
        message: `draft does not match its cell: ${off.map((k) => `${k} is ${draft[k] === undefined || draft[k] === null ? 'missing' : JSON.stringify(draft[k])} where the cell has "${cell[k]}"`).join('; ')}`,
      });
    }
  }

  // --- arithmetic and units: certain only for a wrong value in a napkin-math statement
  const napkin = str(d.napkin_math);
  const solution = str(d.realistic_solution);
  const context = [str(draft.scenario), str(draft.question), solution, napkin].join('\n');
  const tol = ctx.relTol !== undefined ? { relTol: ctx.relTol } : {};
  const arithmetic = checkArithmetic(napkin, { ...tol, context });
  for (const p of arithmetic.problems) {
    const check = p.kind === 'value' ? 'arithmetic' : 'units';
    add(p.certain ? 'certain' : 'evidence', { check, criterion: 'math_correct', field: 'details.napkin_math', message: `${check === 'units' ? 'units' : 'arithmetic'} (details.napkin_math): ${p.message}` });
  }
  // The solution text is prose: what is wrong there is evidence only.
  for (const p of checkArithmetic(solution, { ...tol, context, prose: true }).problems) {
    evidence({ check: p.kind === 'value' ? 'arithmetic' : 'units', criterion: 'math_correct', field: 'details.realistic_solution', message: `${p.kind === 'value' ? 'arithmetic' : 'units'} (details.realistic_solution): ${p.message}` });
  }
  const bitRate = bitRateReadAsBytes(context);
  if (bitRate) evidence({ check: 'units', criterion: 'math_correct', message: `units: ${bitRate}` });

  // --- duplicates: an identical copy is certain, a near one is evidence
  let nearest: CheckReport['nearest'] = ctx.vaultNearest ? { ...ctx.vaultNearest, source: ctx.nearestSource ?? 'vault' } : null;
  if (ctx.batch && ctx.batch.length > 0) {
    const self = ctx.batch.findIndex((b) => sameDraft(b, draft));
    const earlier = self >= 0 ? ctx.batch.slice(0, self) : ctx.batch;
    for (const other of earlier) {
      if (sameDraft(other, draft)) continue;
      const sim = similarityScores(draft as never, other as never);
      if (!nearest || sim.similarity > nearest.similarity) nearest = { id: str(other.id) || '(unnamed draft)', ...sim, source: 'batch' };
    }
  }
  if (nearest && nearest.similarity >= threshold) {
    const exact = nearest.similarity >= 0.999;
    const parts = nearest.scenario !== undefined ? `; scenario ${nearest.scenario.toFixed(2)}, question ${(nearest.question ?? 0).toFixed(2)}` : '';
    add(exact ? 'certain' : 'evidence', {
      check: 'near-duplicate',
      criterion: 'uniqueness',
      message: `${exact ? 'exact duplicate' : 'near duplicate'} of ${nearest.source === 'vault' ? 'vault question' : 'earlier draft'} ${nearest.id} (similarity ${nearest.similarity.toFixed(2)} ≥ ${threshold}${parts})`,
    });
  }

  // --- form, fit and realism (evidence)
  const mistake = str(d.common_mistake);
  if (!isThreePartMistake(mistake)) {
    evidence({ check: 'form', criterion: 'scenario_realism', field: 'details.common_mistake', message: 'common_mistake is not in the three-part form (The Pitfall / The Rationale / The Consequence)' });
  }
  const missing = napkinFormProblems(napkin);
  if (missing.length > 0) evidence({ check: 'form', criterion: 'math_correct', field: 'details.napkin_math', message: `napkin_math lacks ${missing.join(', ')}` });
  if (isZone(draft.zone) && isLevel(draft.level) && !inLevelAffinity(draft.zone, draft.level)) {
    evidence({
      check: 'cell-fit',
      criterion: 'cell_fit',
      field: 'level',
      message: `level ${draft.level} is outside zone ${draft.zone}'s level affinity (${ZONE_INFO[draft.zone].levels.join(', ')})`,
    });
  }
  const bloom = bloomMismatch(str(draft.question), draft.level);
  if (bloom) evidence({ check: 'cell-fit', criterion: 'cell_fit', field: 'question', message: `cell fit: ${bloom}` });
  const scenario = str(draft.scenario);
  const hardware = hardwareMismatch(`${scenario}\n${str(draft.question)}`, draft.track);
  if (hardware) evidence({ check: 'cell-fit', criterion: 'cell_fit', field: 'scenario', message: `cell fit: ${hardware}` });
  // Real vault scenarios ground themselves in a number or in hardware, not always both.
  if (!/\d/.test(scenario) && !hardwareRe.test(scenario)) {
    evidence({ check: 'realism', criterion: 'scenario_realism', field: 'scenario', message: 'scenario has no concrete number or hardware' });
  }
  const titleWords = str(draft.title).trim().split(/\s+/).filter(Boolean).length;
  if (titleWords > MAX_TITLE_WORDS) evidence({ check: 'realism', criterion: 'scenario_realism', field: 'title', message: `title has ${titleWords} words (at most ${MAX_TITLE_WORDS})` });
  const visual = draft.visual;
  if (ctx.renderError) evidence({ check: 'visual', criterion: 'visual_alignment', field: 'visual', message: `visual did not render: ${ctx.renderError}` });
  if (visual && typeof visual === 'object' && str(isMapping(visual) ? visual.alt : undefined).trim() === '') evidence({ check: 'visual', criterion: 'visual_alignment', field: 'visual.alt', message: 'visual has no alt text' });
  for (const hit of findInjections(draft)) {
    evidence({
      check: 'injection',
      criterion: 'scenario_realism',
      field: hit.field,
      message: `prompt-injection attempt in ${hit.field} (${hit.rule}): "${hit.excerpt}"`,
    });
  }

  return summarize(findings, arithmetic, nearest, Boolean(visual) || Boolean(ctx.renderError));
}

/** "100 GbE" (or "100 Gb/s") used as "100 GB/s": a bit rate read as a byte rate. */
function bitRateReadAsBytes(text: string): string | null {
  const re = /(\d+(?:\.\d+)?)\s*(?:GbE|Gb\/s|Gbps|Gbit\/s|Gigabit)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const n = m[1]!.replace('.', '\\.');
    if (new RegExp(`(?<![\\d.])${n}\\s*(?:GB\\/s|GBps|gigabytes per second)`).test(text)) {
      return `"${m[0]}" is a bit rate (${m[1]} Gb/s = ${Number(m[1]) / 8} GB/s), but the text uses ${m[1]} GB/s`;
    }
  }
  return null;
}

/** Verdict and criteria from findings; also used to merge outside findings into a report. */
export function summarize(findings: readonly Finding[], arithmetic: ArithmeticResult, nearest: CheckReport['nearest'], hasVisual: boolean): CheckReport {
  const hard = findings.filter((f) => f.level === 'certain');
  const soft = findings.filter((f) => f.level !== 'certain');
  const criteria: Criteria = {
    math_correct: 'PASS',
    cell_fit: 'PASS',
    scenario_realism: 'PASS',
    uniqueness: 'PASS',
    visual_alignment: hasVisual ? 'PASS' : 'N/A',
  };
  for (const f of soft) if (criteria[f.criterion] !== 'ERROR') criteria[f.criterion] = 'WARN';
  for (const f of hard) criteria[f.criterion] = 'ERROR';
  const verdict: Verdict = hard.length > 0 ? 'DROP' : soft.length > 0 ? 'NEEDS_FIX' : 'PASS';
  return {
    hard: hard.map((f) => f.message),
    soft: dedupe(soft.map((f) => f.message)),
    arithmetic,
    criteria,
    verdict,
    nearest,
    findings: [...findings],
    hasVisual,
  };
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** The criterion an outside finding (free text, e.g. the pipeline's pre-judge) belongs to. */
export function criterionFor(message: string): Criterion {
  const m = message.toLowerCase();
  if (/arithmetic|napkin|math|calculation|result/.test(m)) return 'math_correct';
  if (/visual|render|alt text|diagram|svg|dot\b|matplotlib/.test(m)) return 'visual_alignment';
  if (/duplicate|similar|copy|uniqueness/.test(m)) return 'uniqueness';
  if (/area|topic|track|zone|level|affinity|cell|schema/.test(m)) return 'cell_fit';
  return 'scenario_realism';
}

/** Adds outside soft findings (the judge payload's `findings`) to a report, keeping it consistent. */
export function withFindings(report: CheckReport, findings: readonly string[]): CheckReport {
  const known = new Set(report.findings.map((f) => f.message));
  const extra = [...new Set(findings)].filter((f) => typeof f === 'string' && f.trim() !== '' && !known.has(f));
  if (extra.length === 0) return report;
  const added = extra.map((message): Finding => ({ level: 'evidence', severity: 'soft', check: 'realism', criterion: criterionFor(message), message }));
  return summarize([...report.findings, ...added], report.arithmetic, report.nearest, report.hasVisual);
}
