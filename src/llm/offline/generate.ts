/**
 * The offline generator: one valid, varied question per cell, deterministic for (seed, cell,
 * variant), plus seeded defects of the kinds real models produce, so that the checks, the judge
 * and the pipeline's repairs are exercised without a network.
 */
import { arithmeticStatements, formatQuantity } from '../../checks/arithmetic.js';
import {
  areaOfTopic,
  isArea,
  isLevel,
  isTrack,
  isZone,
  VISUAL_ARCHETYPES,
  type Area,
  type Level,
  type Track,
  type Zone,
} from '../../corpus/taxonomy.js';
import type { AnswerItem } from '../../domain/generated-item.js';
import type { PromptCellAsRead } from '../../domain/plan-cell.js';
import { napkinMath, threePartMistake } from '../../corpus/question-text.js';
import { createRng, type Rng } from '../../util/random.js';
import { HARDWARE, hwClassFor } from '../../corpus/hardware.js';
import { AREA_TEMPLATES, TEMPLATES } from './templates.js';
import { buildVisual } from './visual.js';

/** One cell of a generate prompt (the contract's `<cells>` entries), as the offline model reads it. */
export type OfflineCell = PromptCellAsRead;

/** One answer item (the contract's generate item; `id` instead of `cell_index` for revisions). */
export type OfflineItem = AnswerItem;

export const OFFLINE_DEFECTS = ['wrong-arithmetic', 'malformed-area', 'near-copy', 'form'] as const;
export type OfflineDefect = (typeof OFFLINE_DEFECTS)[number];

/** The defect (if any) the generator plants in the item for `variant`; tests predict with it. */
export function offlineDefectFor(seed: string | number, variant: string, defectRate: number, kinds: readonly OfflineDefect[] = OFFLINE_DEFECTS): OfflineDefect | null {
  if (!(defectRate > 0) || kinds.length === 0) return null;
  const rng = createRng(`${seed}|defect|${variant}`);
  if (rng.next() >= defectRate) return null;
  return rng.pick(kinds);
}

const OPENERS: Record<Level, readonly string[]> = {
  L1: ['You are new to the team and are asked to check a number.', 'A new hire asks you to walk through a basic estimate.'],
  L2: ["You are double-checking a teammate's estimate.", 'You are asked to explain a basic sizing question.'],
  L3: ['You are sizing a change before it ships.', 'You are asked for an estimate before anyone benchmarks.'],
  L4: ['You own this service and must explain its numbers in review.', 'A regression on the dashboard lands on your desk.'],
  L5: ['You lead the design review for the next release.', 'You must sign off on the capacity plan.'],
  'L6+': ['You set direction for several teams and must defend it with numbers.', 'You are writing the plan the organization will follow next year.'],
};

const FRAMES: Record<Zone, (ask: string) => string> = {
  recall: (a) => `What is ${a}?`,
  analyze: (a) => `What is ${a}, and which resource bounds it?`,
  design: (a) => `Given ${a}, which design would you choose?`,
  implement: (a) => `Compute ${a}.`,
  diagnosis: (a) => `Which bottleneck does ${a} reveal?`,
  fluency: (a) => `Estimate ${a} from the hardware numbers you know.`,
  specification: (a) => `What requirement follows from ${a}?`,
  evaluation: (a) => `Judged by ${a}, is the current plan sound?`,
  realization: (a) => `What is ${a}, in concrete numbers for this deployment?`,
  optimization: (a) => `What is ${a}, and what would you change first to improve it?`,
  mastery: (a) => `Using ${a}, what end-to-end plan would you defend?`,
};

const MINUTES: Record<Level, number> = { L1: 4, L2: 5, L3: 6, L4: 8, L5: 10, 'L6+': 12 };

const titleCase = (s: string): string => s.replace(/\b([a-z])/g, (m) => m.toUpperCase());
const words = (s: string): number => s.trim().split(/\s+/).filter(Boolean).length;

function cellArea(cell: OfflineCell): Area {
  if (isArea(cell.competency_area)) return cell.competency_area;
  return areaOfTopic(cell.topic);
}

function itemRng(seed: string | number, cell: OfflineCell): Rng {
  return createRng(`${seed}|${cell.track}|${cell.topic}|${cell.zone}|${cell.level}|${cell.variant ?? cell.index}`);
}

/** A clean item for one cell (no defect). */
export function generateItem(cell: OfflineCell, seed: string | number): OfflineItem {
  const rng = itemRng(seed, cell);
  const track: Track = isTrack(cell.track) ? cell.track : 'global';
  const level: Level = isLevel(cell.level) ? cell.level : 'L3';
  const zone: Zone = isZone(cell.zone) ? cell.zone : 'analyze';
  const area = cellArea(cell);
  const cls = hwClassFor(track, (xs) => rng.pick(xs));
  const hw = rng.pick(HARDWARE[cls]);
  const kind = rng.pick(AREA_TEMPLATES[area]);
  const topicLabel = cell.topic.replaceAll('-', ' ');
  const parts = TEMPLATES[kind]({ rng, hw, cls, track, topic: cell.topic, topicLabel, zone, level });

  let title = `${parts.titleCore} for ${titleCase(topicLabel)}`;
  if (words(title) > 10) title = parts.titleCore;
  if (words(title) < 5) title = `${title} on the ${hw.short}`;
  const item: OfflineItem = {
    cell_index: cell.index,
    title,
    scenario: `${rng.pick(OPENERS[level])} ${parts.situation}`,
    question: FRAMES[zone](parts.ask),
    realistic_solution: parts.solution,
    common_mistake: threePartMistake(parts.pitfall, parts.rationale, parts.consequence),
    napkin_math: napkinMath({ assumptions: parts.assumptions, calculations: parts.calculations, result: `${parts.result} (${parts.bound})`, conclusion: parts.conclusion }),
    expected_time_minutes: MINUTES[level] + rng.int(0, 2),
    competency_area: area,
    phase: parts.phase,
  };
  if (cell.with_visual) {
    const archetype = VISUAL_ARCHETYPES.find((a) => a.topic === cell.topic);
    const format = cell.visual_format ?? archetype?.kind ?? 'dot';
    const name = cell.visual_archetype ?? archetype?.archetype ?? (format === 'dot' ? 'fanout diagram' : 'bar chart');
    Object.assign(item, buildVisual(format, name, parts, hw, parts.titleCore));
  }
  return item;
}

/** Makes the first checkable statement wrong by a factor no unit conversion explains (×1.5). */
export function corruptArithmetic(napkinMath: string): string {
  const s = arithmeticStatements(napkinMath).find((st) => st.ok && st.statedSpan.start >= 0);
  if (!s) return napkinMath;
  const printed = Number(napkinMath.slice(s.statedSpan.start, s.statedSpan.end).replaceAll(',', ''));
  return napkinMath.slice(0, s.statedSpan.start) + formatQuantity(printed * 1.5) + napkinMath.slice(s.statedSpan.end);
}

/** An area in one of the malformed forms the original generator let through. */
function malformedArea(cell: OfflineCell, rng: Rng): string {
  const forms = [`${cell.track} / ${cell.topic}`, cell.topic];
  if (!isArea(cell.zone)) forms.push(cell.zone);
  return rng.pick(forms);
}

function nearCopy(item: OfflineItem, source: OfflineItem): OfflineItem {
  // Same title and scenario, a question with a few words added: similar well above 0.8, not equal.
  return { ...item, title: source.title, scenario: source.scenario, question: `${source.question.replace(/[.?]$/, '')}, with the numbers shown?` };
}

export interface GenerateOptions {
  seed: string | number;
  defectRate?: number;
  /** Which defects to plant (default: all four kinds). */
  defectKinds?: readonly OfflineDefect[];
}

/** The answer to a generate prompt: one item per cell, in input order, with seeded defects. */
export function generateAnswer(cells: readonly OfflineCell[], opts: GenerateOptions): OfflineItem[] {
  const out: OfflineItem[] = [];
  for (const cell of cells) {
    const variant = cell.variant ?? String(cell.index);
    let item = generateItem(cell, opts.seed);
    const defect = offlineDefectFor(opts.seed, variant, opts.defectRate ?? 0, opts.defectKinds);
    const rng = createRng(`${opts.seed}|defect-shape|${variant}`);
    switch (defect) {
      case 'wrong-arithmetic':
        item.napkin_math = corruptArithmetic(item.napkin_math);
        break;
      case 'malformed-area':
        item.competency_area = malformedArea(cell, rng);
        break;
      case 'near-copy':
        // The copied item is the cell's canonical one (variant "0"), never a neighbour in the
        // answer: which cells share a call depends on batching, and a seeded run must not.
        item = nearCopy(item, generateItem({ ...cell, variant: '0' }, opts.seed));
        break;
      case 'form': {
        const lines = item.common_mistake.split('\n').map((l) => l.replace(/^\*\*The \w+:\*\*\s*/, ''));
        item.common_mistake = `${lines[0]} ${lines[1]}`;
        break;
      }
      default:
        break;
    }
    out.push(item);
  }
  return out;
}
