/**
 * A synthetic vault shaped like the real one: track shares of the published manifest, every level and
 * zone, topics applicable to their track, mostly published with some drafts, flagged and deleted
 * items, a few MCQs and visuals, and napkin math whose arithmetic is right. Deterministic for a seed:
 * the same seed gives a byte-identical tree (no clock, no Math.random, fixed iteration orders).
 * Test and benchmark data only; none of it is real question text.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QuestionDoc } from '../domain/question.js';
import { createRng, type Rng } from '../util/random.js';
import { HARDWARE, hwClassFor, type HwProfile } from './hardware.js';
import { formatId } from './ids.js';
import { napkinMath, threePartMistake } from './question-text.js';
import { atomicWrite, QuestionWriter, safeVaultPath } from './writer.js';
import {
  Applicability,
  LEVEL_BLOOM,
  LEVELS,
  TOPIC_AREA,
  TRACKS,
  VISUAL_TOPICS,
  ZONE_INFO,
  ZONES,
  type Area,
  type Level,
  type Track,
  type Zone,
} from './taxonomy.js';

/** Question counts per track in the original's published manifest: the shares synth reproduces. */
export const TRACK_SHARES: Record<Track, number> = { cloud: 4058, edge: 1959, mobile: 1635, tinyml: 1156, global: 305 };

/** Topic × track applicability (ids, areas, tracks of the vault taxonomy), shipped as data for synthetic vaults. */
export const BUNDLED_TAXONOMY_FILE = [
  new URL('./data/taxonomy_data.yaml', import.meta.url),
  // tsc does not copy data files: the compiled copy (dist/src/corpus) reads the source tree's.
  new URL('../../../src/corpus/data/taxonomy_data.yaml', import.meta.url),
]
  .map((u) => fileURLToPath(u))
  .find((p) => existsSync(p)) ?? fileURLToPath(new URL('./data/taxonomy_data.yaml', import.meta.url));

/** Largest-remainder apportionment: integer parts that sum to exactly `total`; ties go in key order. */
export function apportion<K extends string>(total: number, shares: Record<K, number>): Record<K, number> {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`apportion: expected a non-negative integer total; found ${total}`);
  const keys = Object.keys(shares) as K[];
  const sum = keys.reduce((s, k) => s + shares[k], 0);
  if (!(sum > 0)) throw new RangeError('apportion: shares sum to zero');
  const out = {} as Record<K, number>;
  const rems: { k: K; r: number; i: number }[] = [];
  let given = 0;
  keys.forEach((k, i) => {
    const exact = (total * shares[k]) / sum;
    out[k] = Math.floor(exact);
    given += out[k];
    rems.push({ k, r: exact - out[k], i });
  });
  rems.sort((a, b) => b.r - a.r || a.i - b.i);
  for (let j = 0; j < total - given; j++) out[rems[j]!.k] += 1;
  return out;
}

const STATUS_WEIGHTS = { published: 875, draft: 81, flagged: 21, deleted: 23 } as const;
type SynthStatus = keyof typeof STATUS_WEIGHTS;
const BASE_DAY = Date.UTC(2026, 3, 25);

/** A part of the hardware table for the track; global questions are set in the datacenter. */
function pickHardware(rng: Rng, track: Track): HwProfile {
  return rng.pick(HARDWARE[hwClassFor(track, () => 'dc')]);
}

/** Shows a number with at most `digits` decimals and says whether that rounding was exact. */
function num(x: number, digits = 2): { text: string; exact: boolean } {
  const f = Number(x.toFixed(digits));
  return { text: String(f), exact: Math.abs(f - x) < 1e-9 };
}
const eq = (n: { exact: boolean }) => (n.exact ? '=' : '≈');

interface Body {
  title: string;
  scenario: string;
  question: string;
  solution: string;
  mistake: [string, string, string];
  assumptions: string[];
  calculations: string[];
  result: string;
}

type Template = (rng: Rng, track: Track, topic: string) => Body;

/** Bytes over a link: "61 GB / 2.0 TB/s = 30.5 ms" (GB / (TB/s) = ms). */
const bandwidthTemplate: Template = (rng, track, topic) => {
  const hw = pickHardware(rng, track);
  const mb = track === 'tinyml';
  const size = mb ? rng.int(1, 40) * 10 : rng.int(2, 400);
  const bw = mb ? rng.pick([0.5, 1, 2, 4]) : rng.pick([0.05, 0.1, 0.2, 0.9, 1.6, 2.0, 3.35, 5.3]);
  const unit = mb ? 'KB' : 'GB';
  const rate = mb ? 'GB/s' : 'TB/s';
  // KB / (GB/s) = µs; GB / (TB/s) = ms: the same ratio with the unit shifted.
  const t = num(size / bw, 2);
  const tu = mb ? 'µs' : 'ms';
  return {
    title: `Streaming ${size} ${unit} Through a ${bw} ${rate} Link`,
    scenario: `A ${track} deployment on ${hw.name} must move ${size} ${unit} of weights per step over a link sustaining ${bw} ${rate}. The team asks whether the memory system is the bottleneck for ${topic}.`,
    question: 'Is the step memory-bound, and by how much?',
    solution: `Moving ${size} ${unit} at ${bw} ${rate} takes ${t.exact ? '' : 'about '}${t.text} ${tu}, so the step is bandwidth-bound whenever compute finishes sooner.`,
    mistake: ['Counting FLOPs and ignoring bytes moved.', 'Peak compute figures dominate vendor slides.', 'The service misses its latency target by an order of magnitude.'],
    assumptions: [`Payload: ${size} ${unit}; bandwidth: ${bw} ${rate}.`],
    calculations: [`Time: ${size} ${unit} / ${bw} ${rate} ${eq(t)} ${t.text} ${tu}.`],
    result: `${t.text} ${tu} (Memory-Bound)`,
  };
};

/** Weight footprint: params × bytes per param against the device's memory. */
const footprintTemplate: Template = (rng, track, topic) => {
  const hw = pickHardware(rng, track);
  const prec = rng.pick([
    { name: 'FP16', bytes: 2 },
    { name: 'INT8', bytes: 1 },
    { name: 'INT4', bytes: 0.5 },
  ]);
  const tiny = track === 'tinyml';
  const small = track === 'mobile' || track === 'edge';
  const params = tiny ? rng.int(20, 900) : small ? rng.int(1, 16) * 0.5 : rng.pick([7, 8, 13, 34, 70, 180, 405]);
  const pu = tiny ? 'K' : 'B';
  // K parameters on a microcontroller (memory in KB), B parameters elsewhere (memory in GB).
  const mu = hw.memUnit;
  const need = num(params * prec.bytes, 2);
  const fits = params * prec.bytes <= hw.mem;
  const cap = num(hw.mem, 2);
  return {
    title: `${params}${pu}-Parameter Model in ${prec.name} on ${hw.name}`,
    scenario: `A team wants to ship a ${params}${pu}-parameter model for ${topic} on ${hw.name}, which has ${cap.text} ${mu} of memory, storing weights in ${prec.name}.`,
    question: 'Do the weights alone fit in device memory?',
    solution: `${params}${pu} parameters at ${prec.bytes} bytes each need ${need.text} ${mu}, which ${fits ? 'fits within' : 'exceeds'} the ${cap.text} ${mu} available before activations are counted.`,
    mistake: ['Forgetting the bytes per parameter of the chosen precision.', 'Parameter counts are quoted without units of storage.', 'The model fails to load, or leaves no room for activations.'],
    assumptions: [`Parameters: ${params}${pu}; ${prec.name} = ${prec.bytes} B/param.`, `Device memory: ${cap.text} ${mu}.`],
    calculations: [`Weights: ${params}${pu} × ${prec.bytes} B ${eq(need)} ${need.text} ${mu}.`],
    result: `${need.text} ${mu} (Memory-Capacity-${fits ? 'OK' : 'Bound'})`,
  };
};

/** A payload over a slow link: MB × 8 = Mb, then Mb / Mbps = s. */
const transferTemplate: Template = (rng, track, topic) => {
  const size = rng.int(1, 60) * 5;
  const link = rng.pick([2, 5, 10, 20, 50, 100]);
  const bits = size * 8;
  const t = num(bits / link, 2);
  const window = rng.pick([10, 30, 60]);
  const ok = bits / link <= window;
  return {
    title: `Pushing a ${size} MB Update over ${link} Mbps`,
    scenario: `A ${track} fleet must push a ${size} MB model update for ${topic} over a link averaging ${link} Mbps, and the OS allows a ${window} s background window.`,
    question: 'Does the transfer finish inside the background window?',
    solution: `${size} MB is ${bits} Mb; at ${link} Mbps that takes ${t.text} s, which is ${ok ? 'inside' : 'beyond'} the ${window} s window.`,
    mistake: ['Dividing megabytes by megabits per second.', 'MB and Mbps look alike on a spec sheet.', 'The update is planned at an eighth of its real duration and keeps timing out.'],
    assumptions: [`Payload: ${size} MB; link: ${link} Mbps; window: ${window} s.`],
    calculations: [`Bits: ${size} MB × 8 = ${bits} Mb.`, `Time: ${bits} Mb / ${link} Mbps ${eq(t)} ${t.text} s.`],
    result: `${t.text} s (Network-Bound)`,
  };
};

/** Duty-cycled power: a weighted average, then battery life. */
const dutyTemplate: Template = (rng, track, topic) => {
  const active = rng.int(5, 120);
  const sleep = rng.pick([0.01, 0.05, 0.1, 0.5]);
  const duty = rng.pick([1, 2, 5, 10, 20]);
  const avgRaw = (active * duty + sleep * (100 - duty)) / 100;
  const avg = num(avgRaw, 3);
  const battery = rng.pick([500, 1000, 2400, 3000]);
  const life = num(battery / Number(avg.text), 1);
  return {
    title: `Battery Life at a ${duty}% Duty Cycle`,
    scenario: `A ${track} sensor node running ${topic} draws ${active} mW when active and ${sleep} mW asleep, is active ${duty}% of the time, and runs from a ${battery} mWh battery.`,
    question: 'How long does the battery last?',
    solution: `The average draw is ${avg.text} mW, so ${battery} mWh lasts ${life.exact ? '' : 'about '}${life.text} h; the active share dominates the budget.`,
    mistake: ['Using the active current as the average current.', 'Datasheets headline the active figure.', 'Battery life is underestimated by orders of magnitude and the design is over-provisioned.'],
    assumptions: [`Active: ${active} mW; sleep: ${sleep} mW; duty cycle: ${duty}%.`, `Battery: ${battery} mWh.`],
    calculations: [
      `Average: ${active} mW × ${duty}% + ${sleep} mW × ${100 - duty}% ${eq(avg)} ${avg.text} mW.`,
      `Life: ${battery} mWh / ${avg.text} mW ${eq(life)} ${life.text} h.`,
    ],
    result: `${life.text} h (Energy-Bound)`,
  };
};

/** Compute time: 2 × params × tokens FLOPs at a sustained rate. */
const computeTemplate: Template = (rng, track, topic) => {
  // A billion-parameter prefill makes no sense on a microcontroller.
  if (track === 'tinyml') return footprintTemplate(rng, track, topic);
  const hw = pickHardware(rng, track);
  const params = rng.pick([1, 3, 7, 8, 13]);
  const tokens = rng.pick([128, 256, 512, 1024, 2048]);
  const gflop = 2 * params * tokens;
  const util = rng.pick([30, 40, 50]);
  const eff = num((hw.peak * util) / 100, 2);
  const t = num(gflop / Number(eff.text), 3);
  return {
    title: `Prefill of ${tokens} Tokens on ${hw.name}`,
    scenario: `A ${track} service runs a ${params}B-parameter model for ${topic} on ${hw.name} (${hw.peak} ${hw.peakUnit} peak) and sustains ${util}% of peak during a ${tokens}-token prefill.`,
    question: 'How long does the prefill take if it is compute-bound?',
    solution: `The prefill needs ${gflop} GFLOP; at ${eff.text} TFLOP/s sustained that is ${t.text} ms.`,
    mistake: ['Using peak instead of sustained throughput.', 'Spec sheets quote peak dense or sparse figures.', 'Latency budgets come out several times too optimistic.'],
    assumptions: [`${params}B params; ${tokens} tokens; 2 FLOPs per param per token.`, `Sustained: ${hw.peak} ${hw.peakUnit} × ${util}% ${eq(eff)} ${eff.text} ${hw.peakUnit}.`],
    calculations: [`FLOPs: 2 × ${params}B × ${tokens} = ${gflop} GFLOP.`, `Time: ${gflop} GFLOP / ${eff.text} TFLOP/s ${eq(t)} ${t.text} ms.`],
    result: `${t.text} ms (Compute-Bound)`,
  };
};

/** Little's law: in-flight requests = arrival rate × time in system. */
const queueTemplate: Template = (rng, track, topic) => {
  const rate = rng.int(2, 80) * 25;
  const latency = rng.pick([20, 40, 50, 80, 120, 250]);
  const inflight = num((rate * latency) / 1000, 2);
  const slots = rng.pick([16, 32, 64, 128]);
  const ok = (rate * latency) / 1000 <= slots;
  return {
    title: `Concurrency at ${rate} Requests per Second`,
    scenario: `A ${track} endpoint for ${topic} receives ${rate} requests/s, each spends ${latency} ms in the system, and the server has ${slots} concurrent slots.`,
    question: 'How many requests are in flight on average, and do the slots suffice?',
    solution: `By Little's law ${rate}/s × ${latency / 1000} s = ${inflight.text} requests in flight, which ${ok ? 'fits within' : 'exceeds'} ${slots} slots.`,
    mistake: ['Sizing concurrency from the arrival rate alone.', 'Throughput and concurrency are conflated.', 'Queues build up and tail latency explodes at peak.'],
    assumptions: [`Arrivals: ${rate} req/s; time in system: ${latency} ms; slots: ${slots}.`],
    calculations: [`In flight: ${rate} req/s × ${latency / 1000} s ${eq(inflight)} ${inflight.text}.`],
    result: `${inflight.text} in flight (Queueing-${ok ? 'OK' : 'Bound'})`,
  };
};

const TEMPLATES: readonly Template[] = [bandwidthTemplate, footprintTemplate, transferTemplate, dutyTemplate, computeTemplate, queueTemplate];
const AREA_TEMPLATES: Partial<Record<Area, readonly Template[]>> = {
  memory: [bandwidthTemplate, footprintTemplate],
  compute: [computeTemplate, bandwidthTemplate],
  networking: [transferTemplate],
  power: [dutyTemplate],
  latency: [queueTemplate, computeTemplate],
  precision: [footprintTemplate],
};

/** The 21 in-affinity (zone, level) pairs: dealing these first puts every zone and level in the vault. */
const AFFINITY_PAIRS: readonly { zone: Zone; level: Level }[] = ZONES.flatMap((zone) => ZONE_INFO[zone].levels.map((level) => ({ zone, level })));

function isoDay(daysBefore: number): string {
  return new Date(BASE_DAY - daysBefore * 86_400_000).toISOString().slice(0, 10);
}

export interface SynthQuestion {
  doc: QuestionDoc;
  /** The question's track and status (also in `doc`), for the writer's folders and the counts. */
  track: Track;
  status: SynthStatus;
  /** An SVG to write at visuals/<track>/<id>.svg when the question has a visual. */
  svg?: string;
}

/** Builds the documents in memory (pure: same arguments, same documents). */
export function synthesizeQuestions(total: number, seed: string | number, applicability: Applicability): SynthQuestion[] {
  const counts = apportion(total, TRACK_SHARES);
  const out: SynthQuestion[] = [];
  for (const track of TRACKS) {
    // One generator per track: a track's questions do not change when another track's count does.
    const rng = createRng(seed).fork(track);
    const topics = applicability.topicsFor(track);
    const pairs = rng.shuffle(AFFINITY_PAIRS);
    for (let i = 0; i < counts[track]; i++) {
      let cell: { zone: Zone; level: Level };
      if (i < pairs.length) cell = pairs[i]!;
      else {
        const zone = rng.pick(ZONES);
        // Mostly in affinity; about one in ten off it, as the original loop's products were.
        const level = rng.chance(0.9) ? rng.pick(ZONE_INFO[zone].levels) : rng.pick(LEVELS);
        cell = { zone, level };
      }
      const topic = rng.pick(topics);
      const area = TOPIC_AREA.get(topic)!;
      const id = formatId(track, i + 1);
      const status = rng.weighted(Object.keys(STATUS_WEIGHTS) as SynthStatus[], Object.values(STATUS_WEIGHTS));
      const body = rng.pick(AREA_TEMPLATES[area] ?? TEMPLATES)(rng, track, topic);
      out.push(buildQuestion(rng, { id, track, topic, area, status, body, ...cell }));
    }
  }
  return out;
}

function buildQuestion(
  rng: Rng,
  c: { id: string; track: Track; topic: string; area: Area; status: SynthStatus; body: Body; zone: Zone; level: Level },
): SynthQuestion {
  const { body } = c;
  const details: NonNullable<QuestionDoc['details']> = {
    realistic_solution: body.solution,
    common_mistake: `${threePartMistake(...body.mistake)}\n`,
    napkin_math: `${napkinMath(body)}\n`,
  };
  if (rng.chance(0.05)) {
    const correct = rng.int(0, 3);
    const wrong = ['Half of that figure', 'Ten times that figure', 'It cannot be estimated without profiling'];
    const options = [...wrong];
    options.splice(correct, 0, `${body.result}`);
    details.options = options;
    details.correct_index = correct;
  }
  const draft = c.status === 'draft';
  const doc: QuestionDoc = {
    schema_version: '1.0',
    id: c.id,
    track: c.track,
    level: c.level,
    zone: c.zone,
    topic: c.topic,
    competency_area: c.area,
    bloom_level: LEVEL_BLOOM[c.level],
    phase: rng.pick(['both', 'both', 'inference', 'training']),
    title: body.title,
    scenario: body.scenario,
    question: body.question,
  };
  let svg: string | undefined;
  if (VISUAL_TOPICS.includes(c.topic) && rng.chance(0.15)) {
    doc.visual = { kind: 'svg', path: `${c.id}.svg`, alt: `Bar chart of the quantities in ${c.id}: ${body.result}.`, caption: body.title.slice(0, 120) };
    svg = syntheticSvg(c.id, body.result);
  }
  doc.details = details;
  doc.status = c.status;
  doc.provenance = draft ? 'llm-draft' : rng.pick(['imported', 'human', 'imported', 'llm-then-human-edited']);
  doc.expected_time_minutes = rng.int(4, 15);
  doc.requires_explanation = rng.chance(0.5);
  doc.validated = !draft;
  doc.math_verified = !draft && rng.chance(0.8);
  doc.human_reviewed = { status: c.status === 'flagged' ? 'flagged' : rng.chance(0.1) ? 'verified' : 'not-reviewed', by: null, date: null, notes: null };
  if (draft) {
    doc.tags = ['gemini-generated', `target-${c.zone}-${c.level}`];
    doc.created_at = isoDay(rng.int(0, 30));
  }
  if (c.status === 'deleted') doc.deletion_reason = rng.pick(['duplicate of an existing question', 'arithmetic could not be verified', 'off-topic for the track']);
  if (!draft) {
    doc.validation_status = 'OK';
    doc.validation_date = isoDay(rng.int(20, 90));
  }
  return { doc, track: c.track, status: c.status, ...(svg !== undefined ? { svg } : {}) };
}

function syntheticSvg(id: string, label: string): string {
  const esc = label.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="80" viewBox="0 0 320 80" font-family="Helvetica, Arial, sans-serif">',
    `<title>${id}</title>`,
    '<rect x="10" y="20" width="200" height="24" fill="#cfe2f3" stroke="#4a90c4"/>',
    `<text x="14" y="37" font-size="12">${esc}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

export interface SynthOptions {
  outDir: string;
  questions: number;
  seed?: string | number;
  /** taxonomy_data.yaml to copy into <out>/schema/ (default: the bundled applicability file). */
  taxonomyFile?: string;
  /** Parallel file writes (default 32). */
  concurrency?: number;
}

export interface SynthResult {
  outDir: string;
  files: number;
  visuals: number;
  byTrack: Record<Track, number>;
  byStatus: Record<string, number>;
}

/** Writes a synthetic vault into `outDir`, which must not already hold questions. */
export async function synthesizeVault(opts: SynthOptions): Promise<SynthResult> {
  const { outDir, questions } = opts;
  if (!Number.isSafeInteger(questions) || questions < 0) throw new RangeError(`questions: expected a non-negative integer; found ${questions}`);
  const existing = await readdir(join(outDir, 'questions')).catch(() => [] as string[]);
  if (existing.length > 0) throw new Error(`${join(outDir, 'questions')} already holds files; synth writes only into an empty vault`);

  const schemaFile = safeVaultPath(outDir, 'schema', 'taxonomy_data.yaml');
  await mkdir(dirname(schemaFile), { recursive: true });
  await copyFile(opts.taxonomyFile ?? BUNDLED_TAXONOMY_FILE, schemaFile);
  const items = synthesizeQuestions(questions, opts.seed ?? 0, Applicability.forVault(outDir));

  const byTrack = Object.fromEntries(TRACKS.map((t) => [t, 0])) as Record<Track, number>;
  const byStatus: Record<string, number> = {};
  let visuals = 0;
  let next = 0;
  const writer = new QuestionWriter(outDir);
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await writer.write(item.doc);
      if (item.svg) await atomicWrite(await writer.prepare('visuals', item.track, `${item.doc.id ?? ''}.svg`), item.svg, { mkdir: false });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 32, items.length)) }, worker));
  for (const { track, status, svg } of items) {
    byTrack[track]++;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (svg) visuals++;
  }
  return { outDir, files: items.length, visuals, byTrack, byStatus };
}
