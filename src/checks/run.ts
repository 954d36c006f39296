/**
 * The deterministic pre-judge. Hard findings drop a draft without spending a model call; soft
 * findings make it NEEDS_FIX and are handed to the judge prompt. Criteria follow SEED-SPEC §6 and
 * stay consistent with the verdict: every hard finding is an ERROR somewhere, every soft one a WARN.
 *
 * Unlike the §6 model rules ("repeated WARNs across criteria → DROP"), soft findings never drop a
 * draft here: they are the ones a revision can fix.
 */
import { validateQuestion } from '../corpus/schema.js';
import { Applicability, inLevelAffinity, isArea, isLevel, isZone, TOPIC_AREA, ZONE_INFO, type Verdict } from '../corpus/taxonomy.js';
import { checkArithmetic, type ArithmeticResult } from './arithmetic.js';
import { nearDupText, similarity, type NearestMatch } from './neardup.js';

export const CRITERIA = ['math_correct', 'cell_fit', 'scenario_realism', 'uniqueness', 'visual_alignment'] as const;
export type Criterion = (typeof CRITERIA)[number];
export type CriterionGrade = 'PASS' | 'WARN' | 'ERROR' | 'N/A';
export type Criteria = Record<Criterion, CriterionGrade>;

export const DEFAULT_NEAR_DUP_THRESHOLD = 0.8;
export const MAX_TITLE_WORDS = 10;

export interface CheckCell {
  track: string;
  topic: string;
  zone: string;
  level: string;
}

/** A question document as a plain mapping (the YAML about to be, or just, written). */
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
  /** The visual renderer's error for this draft. */
  renderError?: string;
  /** Similarity at or above which a draft is a duplicate (default 0.8). */
  nearDupThreshold?: number;
  /** Relative tolerance of the arithmetic re-check (default 0.02). */
  relTol?: number;
}

export interface Finding {
  severity: 'hard' | 'soft';
  criterion: Criterion;
  message: string;
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

/** Hardware a scenario can be grounded in: named parts, or the kind of machine. */
const HARDWARE_RE = new RegExp(
  [
    'H100', 'H200', 'B200', 'GB200', 'A100', 'A10G?', 'L4', 'L40S?', 'V100', 'T4', 'MI\\d{3}\\w*', 'TPU', 'Gaudi', 'Trainium', 'Inferentia',
    'RTX ?\\d{4}', 'Jetson', 'Orin', 'Xavier', 'Hailo', 'Coral', 'Edge ?TPU', 'Myriad', 'A1\\d (?:Pro|Bionic)', 'M[1-4] (?:Pro|Max|Ultra)?',
    'Snapdragon', 'Hexagon', 'Dimensity', 'Exynos', 'Tensor G\\d', 'Pixel', 'iPhone', 'Galaxy', 'Neural Engine', 'Cortex-[AMR]\\d+\\w*',
    'nRF\\d+\\w*', 'ESP32\\w*', 'STM32\\w*', 'RP2040', 'Arduino', 'Raspberry Pi', 'Ethos', 'NVLink', 'InfiniBand', 'PCIe', 'HBM\\d?e?', 'LPDDR\\d?X?',
    'DDR\\d', 'UFS', 'eMMC', 'SRAM', 'DRAM', 'flash', 'GPUs?', 'NPUs?', 'CPUs?', 'DSPs?', 'MCUs?', 'FPGAs?', 'ASICs?', 'SoCs?',
    'accelerators?', 'microcontrollers?', 'servers?', 'nodes?', 'clusters?', 'phones?', 'smartphones?', 'chips?', 'boards?',
    'devices?', 'sensors?', 'cameras?', 'racks?', 'links?', 'NICs?', 'switch(?:es)?', 'SSDs?', 'batter(?:y|ies)', 'wearables?',
  ].join('|'),
);
const hardwareRe = new RegExp(`(?:^|[^A-Za-z0-9])(?:${HARDWARE_RE.source})(?![A-Za-z])`, 'i');

/** Text that addresses the judge instead of the candidate. */
const INJECTION_PATTERNS: readonly RegExp[] = [
  /\bignore\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?(?:previous|prior|above|earlier|preceding|other)\s+(?:instructions?|rules|prompts?|directions|criteria)/i,
  /\bdisregard\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?(?:previous\s+|prior\s+|above\s+|earlier\s+)?(?:instructions?|rules|criteria)/i,
  /\bverdict\s*["'`]?\s*[:=]\s*["'`]?\s*(?:PASS|NEEDS_FIX)\b/i,
  /\b(?:answer|respond|reply|output|return|mark|grade|rate|label|judge|classify)\b[^.\n]{0,40}\bPASS\b/,
  /\b(?:all|every)\s+criteri(?:a|on)\s+(?:are|is|=|:)\s*["']?PASS/i,
  /\bsystem\s+prompt\b/i,
  /\byou\s+are\s+(?:now\s+)?(?:the|a|an)\s+(?:judge|grader|evaluator)\b/i,
  /\b(?:new|updated)\s+instructions?\s*:/i,
];

const PITFALL_RE = /\*{0,2}The Pitfall:\*{0,2}/;
const RATIONALE_RE = /\*{0,2}The Rationale:\*{0,2}/;
const CONSEQUENCE_RE = /\*{0,2}The Consequence:\*{0,2}/;

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function details(doc: DraftDoc): Record<string, unknown> {
  const d = doc.details;
  return d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : {};
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

/** Every string of a draft a reader (or a judge) sees. */
function visibleTexts(doc: DraftDoc): string[] {
  const d = details(doc);
  const v = doc.visual && typeof doc.visual === 'object' ? (doc.visual as Record<string, unknown>) : {};
  return [doc.title, doc.scenario, doc.question, d.realistic_solution, d.common_mistake, d.napkin_math, v.alt, v.caption].map(str);
}

export function hasPromptInjection(texts: string | readonly string[]): boolean {
  const all = typeof texts === 'string' ? [texts] : texts;
  return all.some((t) => INJECTION_PATTERNS.some((re) => re.test(t)));
}

function sameDraft(a: DraftDoc, b: DraftDoc): boolean {
  return a === b || (typeof a.id === 'string' && a.id !== '' && a.id === b.id);
}

export function runChecks(draft: DraftDoc, ctx: CheckContext = {}): CheckReport {
  const findings: Finding[] = [];
  const hard = { push: (f: Omit<Finding, 'severity'>) => findings.push({ severity: 'hard', ...f }) };
  const soft = { push: (f: Omit<Finding, 'severity'>) => findings.push({ severity: 'soft', ...f }) };
  const threshold = ctx.nearDupThreshold ?? DEFAULT_NEAR_DUP_THRESHOLD;
  const applicability = ctx.applicability ?? Applicability.builtin();
  const d = details(draft);

  // --- schema and taxonomy (hard)
  const area = draft.competency_area;
  for (const p of validateQuestion(draft, `questions/${str(draft.track) || 'unknown'}/${str(draft.id) || 'draft'}.yaml`, { skipLocation: true })) {
    if (p.severity !== 'error') continue;
    // The area gets its own, clearer finding below.
    if (p.message.startsWith('competency_area:')) continue;
    hard.push({ criterion: 'cell_fit', message: `schema: ${p.message}` });
  }
  if (!isArea(area)) {
    hard.push({ criterion: 'cell_fit', message: `competency_area ${JSON.stringify(area ?? null)} is not one of the 13 canonical areas` });
  } else {
    const topicArea = TOPIC_AREA.get(str(draft.topic));
    if (topicArea && topicArea !== area) {
      soft.push({ criterion: 'cell_fit', message: `competency_area "${area}" is not the area of topic ${str(draft.topic)} ("${topicArea}")` });
    }
  }
  const track = str(draft.track);
  const topic = str(draft.topic);
  if (TOPIC_AREA.has(topic) && ['cloud', 'edge', 'mobile', 'tinyml', 'global'].includes(track) && !applicability.applies(topic, track as never)) {
    hard.push({ criterion: 'cell_fit', message: `topic ${topic} does not apply to track ${track}` });
  }
  if (ctx.cell) {
    const off = (['track', 'topic', 'zone', 'level'] as const).filter((k) => str(draft[k]) !== ctx.cell![k]);
    if (off.length > 0) {
      hard.push({
        criterion: 'cell_fit',
        message: `draft does not match its cell: ${off.map((k) => `${k} is ${JSON.stringify(draft[k] ?? null)}, the cell's is "${ctx.cell![k]}"`).join('; ')}`,
      });
    }
  }

  // --- arithmetic (hard when wrong)
  const napkin = str(d.napkin_math);
  const arithmetic = checkArithmetic(napkin, ctx.relTol !== undefined ? { relTol: ctx.relTol } : {});
  for (const f of arithmetic.failures) hard.push({ criterion: 'math_correct', message: `arithmetic: ${f}` });

  // --- duplicates (hard at or above the threshold)
  let nearest: CheckReport['nearest'] = ctx.vaultNearest ? { ...ctx.vaultNearest, source: 'vault' } : null;
  if (ctx.batch && ctx.batch.length > 0) {
    const self = ctx.batch.findIndex((b) => sameDraft(b, draft));
    const earlier = self >= 0 ? ctx.batch.slice(0, self) : ctx.batch;
    const text = nearDupText(draft as never);
    for (const other of earlier) {
      if (sameDraft(other, draft)) continue;
      const sim = similarity(text, other as never);
      if (!nearest || sim > nearest.similarity) nearest = { id: str(other.id) || '(unnamed draft)', similarity: sim, source: 'batch' };
    }
  }
  if (nearest && nearest.similarity >= threshold) {
    const what = nearest.similarity >= 0.999 ? 'exact duplicate' : 'near duplicate';
    hard.push({
      criterion: 'uniqueness',
      message: `${what} of ${nearest.source === 'vault' ? 'vault question' : 'earlier draft'} ${nearest.id} (similarity ${nearest.similarity.toFixed(2)} ≥ ${threshold})`,
    });
  }

  // --- form and realism (soft)
  const mistake = str(d.common_mistake);
  if (!isThreePartMistake(mistake)) {
    soft.push({ criterion: 'scenario_realism', message: 'common_mistake is not in the three-part form (The Pitfall / The Rationale / The Consequence)' });
  }
  const missing = napkinFormProblems(napkin);
  if (missing.length > 0) soft.push({ criterion: 'math_correct', message: `napkin_math lacks ${missing.join(', ')}` });
  if (isZone(draft.zone) && isLevel(draft.level) && !inLevelAffinity(draft.zone, draft.level)) {
    soft.push({
      criterion: 'cell_fit',
      message: `level ${draft.level} is outside zone ${draft.zone}'s level affinity (${ZONE_INFO[draft.zone].levels.join(', ')})`,
    });
  }
  const scenario = str(draft.scenario);
  // Real vault scenarios ground themselves in a number or in hardware, not always both.
  if (!/\d/.test(scenario) && !hardwareRe.test(scenario)) {
    soft.push({ criterion: 'scenario_realism', message: 'scenario has no concrete number or hardware' });
  }
  const titleWords = str(draft.title).trim().split(/\s+/).filter(Boolean).length;
  if (titleWords > MAX_TITLE_WORDS) soft.push({ criterion: 'scenario_realism', message: `title has ${titleWords} words (at most ${MAX_TITLE_WORDS})` });
  const visual = draft.visual && typeof draft.visual === 'object' ? (draft.visual as Record<string, unknown>) : null;
  if (ctx.renderError) soft.push({ criterion: 'visual_alignment', message: `visual did not render: ${ctx.renderError}` });
  if (visual && str(visual.alt).trim() === '') soft.push({ criterion: 'visual_alignment', message: 'visual has no alt text' });
  if (hasPromptInjection(visibleTexts(draft))) {
    soft.push({ criterion: 'scenario_realism', message: 'prompt-injection attempt: the draft addresses the judge (e.g. asks for a PASS verdict)' });
  }

  return summarize(findings, arithmetic, nearest, Boolean(visual) || Boolean(ctx.renderError));
}

/** Verdict and criteria from findings; also used to merge outside findings into a report. */
export function summarize(findings: readonly Finding[], arithmetic: ArithmeticResult, nearest: CheckReport['nearest'], hasVisual: boolean): CheckReport {
  const hard = findings.filter((f) => f.severity === 'hard');
  const soft = findings.filter((f) => f.severity === 'soft');
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
  const added = extra.map((message): Finding => ({ severity: 'soft', criterion: criterionFor(message), message }));
  return summarize([...report.findings, ...added], report.arithmetic, report.nearest, report.hasVisual);
}
