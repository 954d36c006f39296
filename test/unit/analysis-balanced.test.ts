import { describe, expect, it } from 'vitest';
import { analyzeRecords, analyzeVault, type CoverageRecord, type CoverageReport } from '../../src/analysis/index.js';
import { Applicability, inLevelAffinity, TOPIC_AREA, TOPICS_BY_AREA, TRACKS, VISUAL_TOPICS, ZONES, LEVELS } from '../../src/corpus/taxonomy.js';
import { synthetic1kDir, fixtureVaultDir } from '../helpers/fixtures.js';

const sample = () => Applicability.forVault(fixtureVaultDir());
const noClock = (r: CoverageReport) => ({ ...r, generated_at: '' });

function rec(track: string, zone: string, level: string, topic = 'roofline-analysis', area = 'compute'): CoverageRecord {
  return { track, zone, level, topic, competency_area: area, status: 'published' };
}

/** A vault where the four device tracks are well stocked on every in-affinity cell and global is thin. */
function thinGlobal(perCell = 4): CoverageRecord[] {
  const out: CoverageRecord[] = [];
  for (const track of ['cloud', 'edge', 'mobile', 'tinyml'])
    for (const zone of ZONES) for (const level of LEVELS) if (inLevelAffinity(zone, level)) for (let i = 0; i < perCell; i++) out.push(rec(track, zone, level));
  out.push(rec('global', 'recall', 'L1'));
  return out;
}

describe('balanced strategy', () => {
  it('never pairs a topic with a track it does not apply to, and derives the area from the topic', async () => {
    const app = sample();
    expect(app.listedTopicCount).toBe(80);
    for (const dir of [fixtureVaultDir(), synthetic1kDir()]) {
      for (const extra of [{}, { visual: true }, { includeAreas: ['parallelism', 'networking', 'power'] as const }]) {
        const { report } = await analyzeVault(dir, { strategy: 'balanced', total: 150, useIndex: false, applicability: app, ...extra, includeAreas: [...(('includeAreas' in extra && extra.includeAreas) || [])] });
        expect(report.strategy).toBe('balanced');
        expect(report.recommended_plan.length).toBeGreaterThan(0);
        for (const c of report.recommended_plan) {
          expect(app.applies(c.topic, c.track), `${c.track}/${c.topic}`).toBe(true);
          expect(c.competency_area).toBe(TOPIC_AREA.get(c.topic));
          expect(c.reason).toBeDefined();
          expect(c.reason!.priority).toBe(c.priority);
        }
      }
    }
    // The reference strategy, by contrast, plans tinyml/queueing-theory (cloud-only in taxonomy_data).
    const ref = await analyzeVault(fixtureVaultDir(), { strategy: 'reference', total: 36, useIndex: false });
    expect(ref.report.recommended_plan.some((c) => !app.applies(c.topic, c.track))).toBe(true);
  });

  it('plans global cells when global is thin (the reference never does)', () => {
    const records = thinGlobal();
    const balanced = analyzeRecords(records, { strategy: 'balanced', total: 20, applicability: sample() });
    const reference = analyzeRecords(records, { strategy: 'reference', total: 20 });
    expect(reference.recommended_plan.some((c) => c.track === 'global')).toBe(false);
    expect(balanced.recommended_plan[0]!.track).toBe('global');
    expect(balanced.recommended_plan.filter((c) => c.track === 'global').length).toBeGreaterThan(10);
  });

  it('prefers the least-covered topic of a partly covered cell', () => {
    const app = sample();
    // Device tracks well stocked (12 per cell), so every global cell stays short by several questions.
    const stocked = () => thinGlobal(12);
    const cell = (records: CoverageRecord[]) => analyzeRecords(records, { strategy: 'balanced', total: 40, applicability: app }).recommended_plan.find((c) => c.track === 'global' && c.zone === 'realization' && c.level === 'L6+');
    const empty = cell(stocked())!;
    expect(empty).toBeDefined();
    // The same cell with one question on the topic it picked when empty, and one on a second topic.
    const partly = [...stocked(), rec('global', 'realization', 'L6+', empty.topic, TOPIC_AREA.get(empty.topic)!), rec('global', 'realization', 'L6+', 'collective-communication', 'networking')];
    const picked = cell(partly)!;
    expect(picked).toBeDefined();
    expect([empty.topic, 'collective-communication']).not.toContain(picked.topic);
    expect(partly.some((r) => r.track === 'global' && r.topic === picked.topic)).toBe(false);

    // Coverage in the cell comes first: every applicable topic but one is in the cell once, and that
    // one is the most used elsewhere in the track; it is still the one picked.
    const all = app.topicsFor('global');
    const left = all[Math.floor(all.length / 2)]!;
    const nearlyFull = [
      ...thinGlobal(150),
      ...all.filter((t) => t !== left).map((t) => rec('global', 'realization', 'L6+', t, TOPIC_AREA.get(t)!)),
      ...Array.from({ length: 5 }, () => rec('global', 'design', 'L4', left, TOPIC_AREA.get(left)!)),
    ];
    const plan = analyzeRecords(nearlyFull, { strategy: 'balanced', total: 3000, applicability: app }).recommended_plan;
    const first = plan.find((c) => c.track === 'global' && c.zone === 'realization' && c.level === 'L6+');
    expect(first?.topic).toBe(left);
  });

  it('gives the same plan for the same vault, whatever the record order', async () => {
    const a = await analyzeVault(synthetic1kDir(), { strategy: 'balanced', total: 60, useIndex: false });
    const b = await analyzeVault(synthetic1kDir(), { strategy: 'balanced', total: 60, useIndex: false });
    expect(noClock(b.report)).toStrictEqual(noClock(a.report));
    const reversed = analyzeRecords([...a.records].reverse(), { strategy: 'balanced', total: 60, applicability: Applicability.forVault(synthetic1kDir()) });
    expect(noClock(reversed)).toStrictEqual(noClock(a.report));
  });

  it('breaks ties deterministically: equal priorities keep track → zone → level order, topics keep taxonomy order', () => {
    const app = sample();
    const r = analyzeRecords([], { strategy: 'balanced', total: 500, applicability: app });
    const plan = r.recommended_plan;
    // Empty vault: every in-affinity cell of a track has the same shortfall; the weights decide, ties by order.
    for (let i = 1; i < plan.length; i++) expect(plan[i]!.priority).toBeLessThanOrEqual(plan[i - 1]!.priority);
    const trackIdx = (t: string) => TRACKS.indexOf(t as never);
    const key = (c: (typeof plan)[number]) => [trackIdx(c.track), ZONES.indexOf(c.zone), LEVELS.indexOf(c.level)];
    for (let i = 1; i < plan.length; i++) {
      if (plan[i]!.priority !== plan[i - 1]!.priority || plan[i]!.reason!.count !== 0 || plan[i - 1]!.reason!.count !== 0) continue;
      const [a, b] = [key(plan[i - 1]!), key(plan[i]!)];
      expect(a[0]! < b[0]! || (a[0] === b[0] && (a[1]! < b[1]! || (a[1] === b[1] && a[2]! < b[2]!)))).toBe(true);
    }
    // The first tinyml cell gets tinyml's first applicable topic in taxonomy order.
    const firstTiny = plan.find((c) => c.track === 'tinyml')!;
    expect(firstTiny.topic).toBe(app.topicsFor('tinyml')[0]);
    // And picks spread over areas before repeating one.
    const tinyAreas = plan.filter((c) => c.track === 'tinyml').slice(0, 5).map((c) => c.competency_area);
    expect(new Set(tinyAreas).size).toBe(5);
  });

  it('skips off-affinity zone × level pairs by default, or down-weights them', () => {
    const records = thinGlobal();
    const skip = analyzeRecords(records, { strategy: 'balanced', total: 200, applicability: sample() });
    expect(skip.track_zone_level_gaps.length).toBe(5 * 21);
    for (const c of skip.recommended_plan) expect(inLevelAffinity(c.zone, c.level)).toBe(true);

    const weighted = analyzeRecords(records, { strategy: 'balanced', total: 200, applicability: sample(), offAffinity: 0.5 });
    expect(weighted.track_zone_level_gaps.length).toBe(330);
    const off = weighted.recommended_plan.filter((c) => !inLevelAffinity(c.zone, c.level));
    expect(off.length).toBeGreaterThan(0);
    for (const c of off) expect(c.reason!.affinity_factor).toBe(0.5);
    expect(() => analyzeRecords(records, { strategy: 'balanced', offAffinity: 2 })).toThrow(RangeError);
  });

  it('honours --visual with applicable visual-archetype topics', () => {
    const app = sample();
    const r = analyzeRecords(thinGlobal(), { strategy: 'balanced', total: 80, visual: true, applicability: app });
    for (const c of r.recommended_plan) {
      const visualForTrack = app.topicsFor(c.track).filter((t) => VISUAL_TOPICS.includes(t));
      if (visualForTrack.length > 0) {
        expect(VISUAL_TOPICS).toContain(c.topic);
        expect(c.with_visual).toBe(true);
      }
    }
  });

  it('honours --include-areas with forced cells of applicable topics of those areas', () => {
    const app = sample();
    const r = analyzeRecords(thinGlobal(), { strategy: 'balanced', total: 200, includeAreas: ['networking', 'power'], applicability: app });
    const forced = r.recommended_plan.filter((c) => c.forced_area);
    expect(forced.length).toBeGreaterThan(0);
    expect(new Set(forced.map((c) => c.forced_area))).toStrictEqual(new Set(['networking', 'power']));
    for (const c of forced) {
      expect(TOPICS_BY_AREA[c.forced_area!]).toContain(c.topic);
      expect(app.applies(c.topic, c.track)).toBe(true);
      expect(c.reason!.note).toBe(`forced area ${c.forced_area}`);
    }
    const keys = r.recommended_plan.map((c) => `${c.track}|${c.topic}|${c.zone}|${c.level}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('plans nothing when every cell in scope is full (the loop reads that as saturated)', () => {
    const records: CoverageRecord[] = [];
    for (const track of TRACKS) for (const zone of ZONES) for (const level of LEVELS) if (inLevelAffinity(zone, level)) for (let i = 0; i < 3; i++) records.push(rec(track, zone, level));
    expect(analyzeRecords(records, { strategy: 'balanced', total: 30 }).recommended_plan).toEqual([]);
  });
});
