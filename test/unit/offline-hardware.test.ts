/**
 * The offline generator's hardware fits the track: over many cells of every track (every zone ×
 * level, several variants and seeds), each question names hardware from its track's table in
 * src/corpus/hardware.ts and never a part that belongs only to another track's table. With
 * defects off, every napkin math of that same sweep re-checks as correct. The same table grounds
 * the synthetic vault and names the machine classes for the checks' hardware fit.
 */
import { describe, expect, it } from 'vitest';
import { checkArithmetic, hardwareMismatch } from '../../src/checks/index.js';
import { HW_CLASS_MENTION } from '../../src/corpus/hardware.js';
import { synthesizeQuestions } from '../../src/corpus/synth.js';
import { Applicability, TRACKS, type Track } from '../../src/corpus/taxonomy.js';
import { createOfflineProvider, HARDWARE, hwClassFor, type HwClass, type OfflineCell, type OfflineItem } from '../../src/llm/offline/index.js';
import { fixtureVaultDir } from '../helpers/fixtures.js';
import { cellsPrompt, chunks, everyCell } from './offline-helpers.js';

const app = Applicability.forVault(fixtureVaultDir());
const CLASSES = Object.keys(HARDWARE) as HwClass[];

/** The classes a track may draw from (the one of its table, or every class for `global`). */
function allowedClasses(track: Track): Set<HwClass> {
  const seen = new Set<HwClass>();
  // hwClassFor's picker is asked only when the track has no table of its own: record every offer.
  const fixed = hwClassFor(track, (xs) => {
    xs.forEach((x) => seen.add(x));
    return xs[0]!;
  });
  return seen.size > 0 ? seen : new Set([fixed]);
}

/** Every part name (full and short) with its class; longest first so "Cortex-M4F" is not read as "Cortex-M4". */
const PARTS = CLASSES.flatMap((cls) => HARDWARE[cls].flatMap((hw) => [hw.name, hw.short].map((label) => ({ label, cls, profile: hw.name }))))
  .filter((p, i, all) => all.findIndex((q) => q.label === p.label) === i)
  .sort((a, b) => b.label.length - a.label.length);

/** The hardware classes of the parts a text names. */
function partsNamed(text: string): { classes: Set<HwClass>; profiles: Set<string> } {
  let rest = text;
  const classes = new Set<HwClass>();
  const profiles = new Set<string>();
  for (const p of PARTS) {
    if (!rest.includes(p.label)) continue;
    classes.add(p.cls);
    profiles.add(p.profile);
    rest = rest.split(p.label).join(' ');
  }
  return { classes, profiles };
}

const fullText = (it: OfflineItem): string =>
  [it.title, it.scenario, it.question, it.realistic_solution, it.common_mistake, it.napkin_math, it.visual?.alt ?? '', it.visual?.caption ?? '', it.visual_source ?? ''].join('\n');

async function generate(seed: number, cells: OfflineCell[]): Promise<OfflineItem[]> {
  const p = createOfflineProvider({ seed, defectRate: 0, applicability: app });
  const out: OfflineItem[] = [];
  for (const batch of chunks(cells, 30)) {
    const r = await p.complete({ purpose: 'generate', prompt: cellsPrompt(batch) });
    out.push(...(JSON.parse(r.text) as OfflineItem[]));
  }
  return out;
}

let swept: Promise<{ cell: OfflineCell; item: OfflineItem }[]> | undefined;
/** Every track × zone × level, for three variants (run ids) and three seeds, visuals on and off. */
const sweep = (): Promise<{ cell: OfflineCell; item: OfflineItem }[]> => (swept ??= sweepOnce());

async function sweepOnce(): Promise<{ cell: OfflineCell; item: OfflineItem }[]> {
  const out: { cell: OfflineCell; item: OfflineItem }[] = [];
  for (const seed of [0, 7, 123]) {
    for (const [run, visual] of [
      ['hw-a', false],
      ['hw-b', true],
      ['hw-c', false],
    ] as const) {
      const cells = everyCell(app, visual, `${run}-${seed}`);
      const items = await generate(seed, cells);
      expect(items).toHaveLength(cells.length);
      cells.forEach((cell, i) => out.push({ cell, item: items[i]! }));
    }
  }
  return out;
}

describe('offline generator: hardware fitting the track', () => {
  it("every generated question names hardware of its track's table and never hardware only another track's table has", async () => {
    const all = await sweep();
    expect(all.length).toBe(9 * 5 * 11 * 6);
    const profilesByTrack = new Map<Track, Set<string>>(TRACKS.map((t) => [t, new Set<string>()]));
    const classesOfGlobal = new Set<HwClass>();
    for (const { cell, item } of all) {
      const track = cell.track as Track;
      const where = `${cell.track}/${cell.topic}/${cell.zone}/${cell.level} (${cell.variant}): ${item.title}`;
      const allowed = allowedClasses(track);
      const { classes, profiles } = partsNamed(fullText(item));
      // Grounded in named hardware: its scenario names at least one part.
      expect(partsNamed(item.scenario).classes.size, `${where}\nscenario names no hardware: ${item.scenario}`).toBeGreaterThan(0);
      // Every part named anywhere in the question is from the track's table.
      for (const c of classes) expect(allowed.has(c), `${where}\nnames ${c} hardware (${[...profiles].join(', ')}); ${track} may use ${[...allowed].join(', ')}`).toBe(true);
      // One question, one machine class (global questions pick one table and stay with it).
      expect(classes.size, `${where}\nmixes ${[...classes].join(' + ')}`).toBe(1);
      profiles.forEach((p) => profilesByTrack.get(track)!.add(p));
      if (track === 'global') classes.forEach((c) => classesOfGlobal.add(c));
    }
    // The sweep is not vacuous: the fixed tracks use more than one part of their own table ...
    for (const track of TRACKS.filter((t) => t !== 'global')) {
      const own = HARDWARE[hwClassFor(track, () => 'dc')].map((h) => h.name);
      const used = [...profilesByTrack.get(track)!];
      expect(used.length, `${track} used ${used.join(', ')}`).toBeGreaterThan(1);
      expect(own, track).toEqual(expect.arrayContaining(used));
    }
    // ... and global, which has no table of its own, draws from every class.
    expect([...classesOfGlobal].sort()).toEqual([...CLASSES].sort());
  });

  it('the track tables are disjoint: a part belongs to one machine class only', () => {
    const owner = new Map<string, HwClass>();
    for (const cls of CLASSES)
      for (const hw of HARDWARE[cls]) {
        expect(hw.cls).toBe(cls);
        for (const label of [hw.name, hw.short]) {
          expect(owner.get(label) ?? cls, `${label} is in ${owner.get(label)} and ${cls}`).toBe(cls);
          owner.set(label, cls);
        }
      }
    expect(hwClassFor('cloud', () => 'mcu')).toBe('dc');
    expect(hwClassFor('edge', () => 'mcu')).toBe('edge');
    expect(hwClassFor('mobile', () => 'mcu')).toBe('mobile');
    expect(hwClassFor('tinyml', () => 'dc')).toBe('mcu');
  });

  it('with defects off, the napkin math of every question in the sweep re-checks as correct arithmetic', async () => {
    const all = await sweep();
    let statements = 0;
    for (const { cell, item } of all) {
      const r = checkArithmetic(item.napkin_math);
      const where = `${cell.track}/${cell.topic}/${cell.zone}/${cell.level} (${cell.variant})\n${item.napkin_math}`;
      expect(r.failures, where).toEqual([]);
      expect(r.status, where).toBe('passed');
      expect(r.checked, where).toBeGreaterThan(0);
      statements += r.checked;
    }
    // Most questions carry several checked statements, not one.
    expect(statements).toBeGreaterThan(2 * all.length);
  });

  it('is the one table: the checks recognise each part as its own class, and the synthetic vault states its numbers', () => {
    for (const cls of CLASSES)
      for (const hw of HARDWARE[cls]) {
        expect(HW_CLASS_MENTION[cls].test(hw.name), `${hw.name} is not recognised as ${cls}`).toBe(true);
        for (const other of CLASSES.filter((c) => c !== cls)) expect(HW_CLASS_MENTION[other].test(hw.name), `${hw.name} also reads as ${other}`).toBe(false);
      }
    expect(hardwareMismatch('A Jetson AGX Orin runs the model.', 'tinyml')).toMatch(/edge hardware/);
    expect(hardwareMismatch('An H100 node runs the model.', 'tinyml')).toMatch(/datacenter hardware/);
    // The vault's own questions give the Jetson AGX Orin 32 GB; so does every synthetic question.
    const orin = HARDWARE.edge.find((h) => h.name === 'Jetson AGX Orin')!;
    expect([orin.mem, orin.memUnit]).toEqual([32, 'GB']);
    const stated = synthesizeQuestions(3000, 5, app)
      .map((q) => String(q.doc.scenario))
      .filter((s) => s.includes('on Jetson AGX Orin, which has'));
    expect(stated.length).toBeGreaterThan(0);
    for (const s of stated) expect(s).toContain('on Jetson AGX Orin, which has 32 GB of memory');
  });
});
