import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildGeneratePrompt,
  buildJudgePrompt,
  buildRepairPrompt,
  buildRevisePrompt,
  promptHashes,
  PROMPTS_DIR,
  readPromptBlock,
  renderTemplate,
  type JudgePromptDraft,
} from '../../src/llm/prompts.js';
import { AREAS, TOPICS_BY_AREA, TRACK_TOPIC_BLOCKLIST, ZONE_INFO, ZONES } from '../../src/corpus/taxonomy.js';

const draft = (id: string, extra: Partial<JudgePromptDraft> = {}): JudgePromptDraft => ({
  id,
  track: 'cloud',
  zone: 'design',
  level: 'L5',
  topic: 'collective-communication',
  competency_area: 'networking',
  bloom_level: 'evaluate',
  title: 'Ring AllReduce on 512 GPUs',
  scenario: 'A text with </drafts> inside\n</drafts>\nand more',
  question: 'How long?',
  realistic_solution: '2(N-1)/N × 10 GB / 400 GB/s',
  common_mistake: 'Forgetting the factor 2.',
  napkin_math: '2 × 10 / 400 = 0.05 s',
  findings: ['near-duplicate title of cloud-0007'],
  ...extra,
});

describe('prompts', () => {
  it('generate: one <cells> block with the contract fields, area from the taxonomy, Bloom, visual rules only when wanted', () => {
    const built = buildGeneratePrompt(
      [
        { index: 0, track: 'tinyml', topic: 'duty-cycling', zone: 'fluency', level: 'L3', with_visual: true, variant: 'run1:0:0' },
        { index: 1, track: 'cloud', topic: 'vram-budgeting', zone: 'design', level: 'L6+', with_visual: true },
      ],
      { variantPrefix: 'run1:0' },
    );
    expect(built.purpose).toBe('generate');
    const cells = readPromptBlock(built.prompt, 'cells') as Record<string, unknown>[];
    expect(cells).toEqual([
      { index: 0, track: 'tinyml', topic: 'duty-cycling', zone: 'fluency', level: 'L3', bloom: 'apply', competency_area: 'power', with_visual: true, visual_format: 'matplotlib', visual_archetype: 'sleep/wake timeline', variant: 'run1:0:0' },
      // vram-budgeting has no archetype: no visual, whatever was asked.
      { index: 1, track: 'cloud', topic: 'vram-budgeting', zone: 'design', level: 'L6+', bloom: 'create', competency_area: 'memory', with_visual: false, variant: 'run1:0:1' },
    ]);
    expect(built.cells).toEqual(cells);
    expect(built.prompt).toContain('H100 SXM');
    expect(built.prompt).toContain('VISUAL_OUT_PATH');
    expect(built.prompt).toContain('# Cells (2)');
    expect(built.prompt).not.toMatch(/\{\{|\}\}|<!--/);
    expect(JSON.stringify(built.jsonSchema.schema)).toContain('visual_source');

    const plain = buildGeneratePrompt([{ index: 3, track: 'edge', topic: 'queueing-theory', zone: 'analyze', level: 'L4', with_visual: false }]);
    expect(plain.prompt).not.toContain('VISUAL_OUT_PATH');
    expect(JSON.stringify(plain.jsonSchema.schema)).not.toContain('visual_source');
  });

  it('judge: drafts block survives a closing tag inside a field; reasoning before verdict is asked for', () => {
    const drafts = [draft('cloud-0001', { visual_kind: 'dot', visual_alt: 'ring', visual_source: 'digraph { a -> b }', render_error: 'syntax error in line 1' }), draft('cloud-0002')];
    const built = buildJudgePrompt(drafts);
    expect(readPromptBlock(built.prompt, 'drafts')).toEqual(drafts);
    expect(built.ids).toEqual(['cloud-0001', 'cloud-0002']);
    expect(built.prompt).toMatch(/reasoning[\s\S]*then[\s\S]*verdict/i);
    expect(built.prompt).toContain('render_error');
    expect(built.prompt).toContain('findings');
    expect(built.prompt).toContain('competency_area');
    expect(built.prompt).toContain('bloom_level');
  });

  it('revise and repair carry their blocks', () => {
    const rev = buildRevisePrompt([{ id: 'cloud-0001', draft: draft('cloud-0001'), issues: ['math off'], fix_suggestion: 'use 400 GB/s' }]);
    expect((readPromptBlock(rev.prompt, 'revisions') as { id: string }[])[0]!.id).toBe('cloud-0001');
    const gen = buildGeneratePrompt([{ index: 0, track: 'edge', topic: 'queueing-theory', zone: 'analyze', level: 'L4', with_visual: false }]);
    const rep = buildRepairPrompt('[{"cell_index": 0,', ['truncated JSON'], gen);
    expect(rep.purpose).toBe('repair');
    expect(rep.repairing).toBe('generate');
    expect(rep.jsonSchema).toEqual(gen.jsonSchema);
    expect(readPromptBlock(rep.prompt, 'repair')).toMatchObject({ purpose: 'generate', answer: '[{"cell_index": 0,' });
    expect(readPromptBlock(rep.prompt, 'errors')).toEqual(['truncated JSON']);
  });

  it('promptHashes are the sha256 of each template file', () => {
    const h = promptHashes();
    expect(Object.keys(h).sort()).toEqual(['generate', 'hardware', 'judge', 'repair', 'revise', 'taxonomy']);
    expect(h.judge).toBe(createHash('sha256').update(readFileSync(join(PROMPTS_DIR, 'judge.md'))).digest('hex'));
  });

  it('renderTemplate refuses a placeholder without a value', () => {
    expect(() => renderTemplate('a {{missing}} b', {})).toThrow(/missing/);
    expect(renderTemplate('<!-- c -->\nx{{#f}}Y{{/f}}{{#g}}Z{{/g}}', {}, { f: true })).toBe('xY');
  });
});

describe('prompt caching: stable part first, per-call part last', () => {
  const cell = (index: number, topic: string) => ({ index, track: 'cloud' as const, topic, zone: 'design' as const, level: 'L4' as const, with_visual: false });

  it('every generate prompt of a kind shares its cachePrefix byte for byte; the cells come after it', () => {
    const a = buildGeneratePrompt([cell(0, 'vram-budgeting'), cell(1, 'queueing-theory')], { variantPrefix: 'r1:0' });
    const b = buildGeneratePrompt([cell(0, 'kv-cache')], { variantPrefix: 'r2:3' });
    expect(a.cachePrefix).toBeDefined();
    expect(a.cachePrefix).toBe(b.cachePrefix);
    expect(a.prompt.startsWith(a.cachePrefix!)).toBe(true);
    expect(a.cachePrefix).toContain('H100 SXM');
    expect(a.cachePrefix).not.toContain('<cells>');
    expect(a.prompt.slice(a.cachePrefix!.length)).toMatch(/^# Cells \(2\)\n<cells>/);
  });

  it('every judge prompt shares its cachePrefix (rubric first); the drafts come after it', () => {
    const d = (id: string): Parameters<typeof buildJudgePrompt>[0][number] => ({ id, track: 'cloud', zone: 'design', level: 'L4', topic: 't', competency_area: 'memory', bloom_level: 'apply', title: id, scenario: 's', question: 'q', realistic_solution: 'r', common_mistake: 'c', napkin_math: 'n', findings: [] });
    const a = buildJudgePrompt([d('cloud-0001'), d('cloud-0002')]);
    const b = buildJudgePrompt([d('cloud-0009')]);
    expect(a.cachePrefix).toBe(b.cachePrefix);
    expect(a.cachePrefix).toContain('# Verdict rules');
    expect(a.cachePrefix).not.toContain('cloud-0001');
    expect(a.prompt.slice(a.cachePrefix!.length)).toMatch(/^# Drafts \(2\)\n<drafts>/);
  });

  it('both heads carry the whole taxonomy: every topic under its area, every zone, every track exclusion', () => {
    const gen = buildGeneratePrompt([cell(0, 'vram-budgeting')]).cachePrefix!;
    const judge = buildJudgePrompt([draft('cloud-0001')]).cachePrefix!;
    for (const head of [gen, judge]) {
      for (const area of AREAS) {
        const line = new RegExp(`^- ${area}: (.*)$`, 'm').exec(head)?.[1]?.split(', ');
        expect(line, area).toEqual(expect.arrayContaining([...TOPICS_BY_AREA[area]]));
      }
      for (const zone of ZONES) expect(head).toContain(`\n- ${zone} (${ZONE_INFO[zone].levels.join(', ')}): `);
      expect(head).toContain(`tinyml: ${TRACK_TOPIC_BLOCKLIST.tinyml.join(', ')}`);
    }
  });

  it('both heads reach the 1024-token cache minimum of OpenAI and of Sonnet-class Claude models', () => {
    // About 4 characters a token for English prose; the heads hold far more than 1024 × 4.
    expect(buildGeneratePrompt([cell(0, 'vram-budgeting')]).cachePrefix!.length).toBeGreaterThan(1024 * 6);
    expect(buildJudgePrompt([draft('cloud-0001')]).cachePrefix!.length).toBeGreaterThan(1024 * 6);
  });
});
