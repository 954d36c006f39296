/**
 * Cell-fit plausibility: does the question's verb ask for the thinking its level names (Bloom),
 * and is the hardware it is set on plausible for its track? Both are judgement calls (a "design"
 * question can be L3 when the design is small), so they are evidence for the judge, never a DROP.
 */
import { HW_CLASS_LABEL, HW_CLASS_MENTION, type HwClass } from '../corpus/hardware.js';
import { BLOOM_LEVELS, LEVEL_BLOOM, isLevel, type BloomLevel } from '../corpus/taxonomy.js';

const BLOOM_VERBS: Record<BloomLevel, readonly string[]> = {
  remember: ['list', 'name', 'define', 'recall', 'state', 'identify', 'recognize', 'recognise'],
  understand: ['explain', 'describe', 'summarize', 'summarise', 'interpret', 'paraphrase', 'illustrate'],
  apply: ['calculate', 'compute', 'estimate', 'apply', 'determine', 'solve', 'implement'],
  analyze: ['analyze', 'analyse', 'compare', 'diagnose', 'differentiate', 'investigate', 'contrast', 'break down'],
  evaluate: ['evaluate', 'justify', 'assess', 'critique', 'recommend', 'decide', 'defend', 'argue', 'weigh', 'propose'],
  // "Propose" is used loosely at every level ("propose how to keep 25 FPS"): it counts as evaluate.
  create: ['design', 'architect', 'devise', 'construct', 'formulate', 'invent', 'draft a plan'],
};

const VERB_RE = new RegExp(
  `(?:^|[.?!:;]\\s+|\\b(?:you|to|and|then|first|please)\\s+)(${Object.values(BLOOM_VERBS)
    .flat()
    .sort((a, b) => b.length - a.length)
    .join('|')})\\b`,
  'i',
);

/** The Bloom level of the question's leading verb, if it has one. */
export function bloomOfQuestion(question: string): { verb: string; bloom: BloomLevel } | null {
  const m = VERB_RE.exec(question.trim());
  if (!m) return null;
  const verb = m[1]!.toLowerCase();
  const bloom = BLOOM_LEVELS.find((b) => BLOOM_VERBS[b].includes(verb));
  return bloom ? { verb, bloom } : null;
}

/**
 * A finding when the verb is three or more Bloom steps from the level's ("List…" at L6+, "Design…"
 * at L1); neighbouring steps are normal variation.
 */
export function bloomMismatch(question: string, level: unknown): string | null {
  if (!isLevel(level)) return null;
  const found = bloomOfQuestion(question);
  if (!found) return null;
  const want = LEVEL_BLOOM[level];
  const gap = Math.abs(BLOOM_LEVELS.indexOf(found.bloom) - BLOOM_LEVELS.indexOf(want));
  if (gap < 3) return null;
  return `the question's verb "${found.verb}" asks to ${found.bloom}, but level ${level} expects ${want}`;
}

/** Classes a track's questions are set on, and classes that cannot carry it alone. */
const TRACK_HW: Record<string, { own: HwClass[]; far: HwClass[] }> = {
  tinyml: { own: ['mcu'], far: ['dc', 'edge', 'mobile'] },
  cloud: { own: ['dc'], far: ['mcu'] },
  mobile: { own: ['mobile'], far: ['dc', 'mcu'] },
  edge: { own: ['edge', 'mcu'], far: ['dc'] },
};

/**
 * A finding when the scenario is set only on hardware of another track (an H100 cluster filed
 * under tinyml). A mention beside the track's own hardware ("trained on A100s, deployed to a
 * Cortex-M4") is a contrast, not a misfit.
 */
export function hardwareMismatch(text: string, track: unknown): string | null {
  const spec = typeof track === 'string' ? TRACK_HW[track] : undefined;
  if (!spec) return null;
  if (spec.own.some((c) => HW_CLASS_MENTION[c].test(text))) return null;
  const far = spec.far.find((c) => HW_CLASS_MENTION[c].test(text));
  if (!far) return null;
  const m = HW_CLASS_MENTION[far].exec(text)!;
  return `the scenario is set on ${HW_CLASS_LABEL[far]} hardware ("${m[0]}"), which is implausible for the ${String(track)} track`;
}
