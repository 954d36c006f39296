/**
 * The offline judge and reviser: verdicts from the deterministic checks (merged with the
 * pre-judge's findings the pipeline sends), and revisions that fix what those checks name.
 */
import {
  hasPromptInjection,
  isThreePartMistake,
  napkinFormProblems,
  repairArithmetic,
  runChecks,
  withFindings,
  type CheckReport,
  type DraftDoc,
} from '../../checks/index.js';
import { normalizeArea } from '../../corpus/areas.js';
import { Applicability, isLevel, isTrack, topicArea, type Level } from '../../corpus/taxonomy.js';
import { HARDWARE, hwClassFor } from '../../corpus/hardware.js';
import { threePartMistake } from '../../corpus/question-text.js';
import type { OfflineItem } from './generate.js';

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A judge payload draft (flat) rebuilt into the question document the pipeline wrote. */
export function draftToDoc(d: Record<string, unknown>): DraftDoc {
  const id = str(d.id);
  const doc: DraftDoc = {
    schema_version: '1.0',
    id,
    track: d.track,
    level: d.level,
    zone: d.zone,
    topic: d.topic,
    competency_area: d.competency_area,
    ...(d.bloom_level !== undefined && d.bloom_level !== null ? { bloom_level: d.bloom_level } : {}),
    title: d.title,
    scenario: d.scenario,
    question: d.question,
  };
  if (d.visual_kind !== undefined || d.visual_alt !== undefined || d.visual_source !== undefined) {
    doc.visual = { kind: 'svg', path: `${id}.svg`, alt: str(d.visual_alt) };
  }
  doc.details = { realistic_solution: d.realistic_solution, common_mistake: d.common_mistake, napkin_math: d.napkin_math };
  doc.status = 'draft';
  doc.provenance = 'llm-draft';
  return doc;
}

export interface OfflineVerdict {
  id: string;
  reasoning: string;
  criteria: CheckReport['criteria'];
  issues: string[];
  verdict: CheckReport['verdict'];
  fix_suggestion: string;
}

function suggestionFor(message: string): string {
  if (message.startsWith('common_mistake')) return 'Rewrite common_mistake as three lines: **The Pitfall:**, **The Rationale:**, **The Consequence:**.';
  if (message.startsWith('napkin_math lacks')) return 'Restructure napkin_math into Assumptions & Constraints, Calculations and Conclusion & Interpretation, ending with a "- **Result: …**" line.';
  if (message.startsWith('level ')) return 'Pitch the question at the depth its zone expects for this level.';
  if (message.startsWith('scenario has no')) return 'Ground the scenario in named hardware and concrete numbers.';
  if (message.startsWith('title has')) return 'Shorten the title to at most 10 words.';
  if (message.startsWith('visual did not render')) return 'Fix the visual source so that it renders.';
  if (message.startsWith('visual has no alt')) return 'Add an objective alt text describing the visual.';
  if (message.startsWith('prompt-injection')) return 'Remove the text addressed to the reviewer.';
  const area = /is not the area of topic \S+ \("([^"]+)"\)/.exec(message);
  if (area) return `Set competency_area to "${area[1]}".`;
  return `Address: ${message}`;
}

function reasoningFor(report: CheckReport): string {
  const a = report.arithmetic;
  const parts = [
    a.status === 'not-run' ? 'No napkin-math statement could be re-computed.' : `Re-computed ${a.checked} napkin-math statement(s): ${a.status}.`,
    report.nearest ? `Most similar text: ${report.nearest.id} (${report.nearest.source}), similarity ${report.nearest.similarity.toFixed(2)}.` : 'No similar text found.',
    report.hard.length > 0 ? `Errors: ${report.hard.join('; ')}.` : 'No errors.',
    report.soft.length > 0 ? `Warnings: ${report.soft.join('; ')}.` : 'No warnings.',
    `Verdict by the rules: ${report.hard.length > 0 ? 'an error drops the draft' : report.soft.length > 0 ? 'warnings without errors need a fix' : 'all criteria pass'}.`,
  ];
  return parts.join(' ');
}

export interface JudgeOptions {
  applicability?: Applicability;
  nearDupThreshold?: number;
}

/** One verdict per draft, in order; duplicates are judged against the earlier drafts of the chunk. */
export function judgeDrafts(drafts: readonly Record<string, unknown>[], opts: JudgeOptions = {}): OfflineVerdict[] {
  const docs = drafts.map(draftToDoc);
  return drafts.map((d, i) => {
    const doc = docs[i]!;
    const base = runChecks(doc, {
      applicability: opts.applicability ?? Applicability.builtin(),
      batch: docs,
      ...(typeof d.render_error === 'string' && d.render_error ? { renderError: d.render_error } : {}),
      ...(opts.nearDupThreshold !== undefined ? { nearDupThreshold: opts.nearDupThreshold } : {}),
    });
    const findings = Array.isArray(d.findings) ? d.findings.filter((f): f is string => typeof f === 'string') : [];
    const report = withFindings(base, findings);
    return {
      id: str(d.id),
      reasoning: reasoningFor(report),
      criteria: report.criteria,
      issues: [...report.hard, ...report.soft],
      verdict: report.verdict,
      fix_suggestion: report.verdict === 'NEEDS_FIX' ? [...new Set(report.soft.map(suggestionFor))].join(' ') : '',
    };
  });
}

/** Removes the sentences that address the judge. */
function stripInjection(text: string): string {
  if (!hasPromptInjection(text)) return text;
  return text
    .split(/(?<=[.!?])\s+|\n/)
    .filter((s) => !hasPromptInjection(s))
    .join(' ')
    .trim();
}

function fixMistake(text: string): string {
  if (isThreePartMistake(text)) return text;
  const plain = text.replace(/\*\*The \w+:\*\*/g, ' ').replace(/\s+/g, ' ').trim();
  const sentences = plain.split(/(?<=[.!?])\s+/).filter(Boolean);
  const pitfall = sentences[0] ?? 'Skipping the back-of-the-envelope check.';
  const rationale = sentences[1] ?? 'The shortcut looks safe because the headline numbers seem to fit.';
  const consequence = sentences[2] ?? 'The design misses its target once it meets production load.';
  return threePartMistake(pitfall, rationale, consequence);
}

/** Puts loose napkin math into the three sections with a Result line. */
function fixNapkinForm(text: string): string {
  if (napkinFormProblems(text).length === 0) return text;
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^\s*(?:[-*•]|\d+\.)\s*/, '').replace(/\*\*[^*]*:\*\*/g, '').trim())
    .filter((l) => l !== '' && !/^(?:Assumptions|Calculations|Conclusion)/i.test(l));
  const calcs = lines.filter((l) => /[=≈]/.test(l) && !/^Result/i.test(l));
  const assumptions = lines.filter((l) => !calcs.includes(l) && !/^Result/i.test(l));
  const last = calcs[calcs.length - 1];
  const result = last ? last.split(/[=≈]/).pop()!.trim().replace(/\.$/, '') : (lines[0] ?? 'see calculations');
  return [
    '**Assumptions & Constraints:**',
    ...(assumptions.length > 0 ? assumptions : ['As stated in the scenario.']).map((l) => `- ${l}`),
    '',
    '**Calculations:**',
    ...(calcs.length > 0 ? calcs : lines).map((l) => `- ${l}`),
    '',
    '**Conclusion & Interpretation:**',
    `- **Result: ${result}**. The estimate follows from the calculations above.`,
  ].join('\n');
}

export interface RevisionRequest {
  id: string;
  draft: Record<string, unknown>;
  issues?: unknown;
  fix_suggestion?: unknown;
}

const MINUTES: Record<Level, number> = { L1: 4, L2: 5, L3: 6, L4: 8, L5: 10, 'L6+': 12 };

/** A revised item for one NEEDS_FIX draft: the defects the checks name, fixed. */
export function reviseDraft(r: RevisionRequest): OfflineItem {
  const d = r.draft ?? {};
  const topic = str(d.topic);
  let title = stripInjection(str(d.title)).trim();
  const titleWords = title.split(/\s+/).filter(Boolean);
  if (titleWords.length > 10) title = titleWords.slice(0, 10).join(' ');
  let scenario = stripInjection(str(d.scenario));
  if (!/\d/.test(scenario)) {
    const track = isTrack(d.track) ? d.track : 'global';
    const hw = HARDWARE[hwClassFor(track, (xs) => xs[0]!)][0]!;
    scenario = `${scenario} It runs on a ${hw.name} with ${hw.mem} ${hw.memUnit} of memory and ${hw.bw} ${hw.bwUnit} of bandwidth.`.trim();
  }
  const n = normalizeArea(d.competency_area);
  const area = topicArea(topic) ?? ('area' in n ? n.area : 'cross-cutting');
  const item: OfflineItem = {
    id: r.id,
    title,
    scenario,
    question: stripInjection(str(d.question)),
    realistic_solution: stripInjection(str(d.realistic_solution)),
    common_mistake: fixMistake(stripInjection(str(d.common_mistake))),
    napkin_math: fixNapkinForm(repairArithmetic(stripInjection(str(d.napkin_math)))),
    expected_time_minutes: isLevel(d.level) ? MINUTES[d.level] : 8,
    competency_area: area,
    phase: 'both',
  };
  const source = str(d.visual_source);
  if (d.visual_kind !== undefined || source !== '') {
    const kind = /^\s*(?:strict\s+)?(?:di)?graph\b/.test(source) ? 'dot' : 'matplotlib';
    item.visual = { kind, alt: stripInjection(str(d.visual_alt)).trim() || `Diagram supporting: ${title}`, caption: title.slice(0, 120) };
    if (source !== '') item.visual_source = source;
  }
  return item;
}
