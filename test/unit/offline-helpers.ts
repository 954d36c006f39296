/** Shared by the offline-* tests: building prompts' blocks and documents the way the pipeline does. */
import { Applicability, LEVEL_BLOOM, LEVELS, TOPIC_AREA, TRACKS, ZONES, VISUAL_ARCHETYPES, type Level } from '../../src/corpus/taxonomy.js';
import type { OfflineCell, OfflineItem } from '../../src/llm/offline/index.js';

export function cellsPrompt(cells: readonly OfflineCell[]): string {
  return `Write one question per cell.\n\n<cells>\n${JSON.stringify(cells, null, 2)}\n</cells>\n`;
}

/** Every track × zone × level, topics rotating through the track's applicable ones. */
export function everyCell(app: Applicability, withVisual: boolean, run = 'run1'): OfflineCell[] {
  const cells: OfflineCell[] = [];
  let i = 0;
  for (const track of TRACKS) {
    const topics = withVisual ? VISUAL_ARCHETYPES.map((a) => a.topic).filter((t) => app.applies(t, track)) : app.topicsFor(track);
    for (const zone of ZONES) {
      for (const level of LEVELS) {
        const topic = topics[i % topics.length]!;
        const arch = VISUAL_ARCHETYPES.find((a) => a.topic === topic);
        cells.push({
          index: i,
          track,
          topic,
          zone,
          level,
          bloom: LEVEL_BLOOM[level as Level],
          competency_area: TOPIC_AREA.get(topic)!,
          with_visual: withVisual && arch !== undefined,
          ...(withVisual && arch ? { visual_format: arch.kind, visual_archetype: arch.archetype } : {}),
          variant: `${run}:0:${i}`,
        });
        i++;
      }
    }
  }
  return cells;
}

/** The document the pipeline writes for an item (the generator's key order, SEED-SPEC §5). */
export function docFor(cell: OfflineCell, item: OfflineItem, id: string): Record<string, unknown> {
  return {
    schema_version: '1.0',
    id,
    track: cell.track,
    level: cell.level,
    zone: cell.zone,
    topic: cell.topic,
    competency_area: item.competency_area,
    bloom_level: LEVEL_BLOOM[cell.level as Level],
    phase: item.phase ?? 'both',
    title: item.title,
    scenario: item.scenario,
    question: item.question,
    ...(item.visual ? { visual: { kind: 'svg', path: `${id}.svg`, alt: item.visual.alt, caption: item.visual.caption } } : {}),
    details: { realistic_solution: item.realistic_solution, common_mistake: item.common_mistake, napkin_math: item.napkin_math },
    status: 'draft',
    provenance: 'llm-draft',
    expected_time_minutes: item.expected_time_minutes,
    requires_explanation: true,
    validated: false,
    math_verified: false,
    human_reviewed: { status: 'not-reviewed', by: null, date: null, notes: null },
    tags: ['gemini-generated', `target-${cell.zone}-${cell.level}`],
    created_at: '2026-05-01',
  };
}

export function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
