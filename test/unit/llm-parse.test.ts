import { describe, expect, it } from 'vitest';
import { LlmOutputInvalidError } from '../../src/errors.js';
import { extractItems, extractJson, normalizeLevel, parseGenerateAnswer, parseJudgeAnswer, parseReviseAnswer } from '../../src/llm/parse.js';
import { toPromptCell } from '../../src/llm/prompts.js';
import type { PromptCell } from '../../src/domain/plan-cell.js';

const cells: PromptCell[] = [
  toPromptCell({ index: 0, track: 'edge', topic: 'queueing-theory', zone: 'analyze', level: 'L4', with_visual: false }),
  toPromptCell({ index: 1, track: 'cloud', topic: 'collective-communication', zone: 'design', level: 'L6+', with_visual: true }),
  toPromptCell({ index: 2, track: 'mobile', topic: 'duty-cycling', zone: 'fluency', level: 'L3', with_visual: false }),
];

const item = (cell_index: number | undefined, extra: Record<string, unknown> = {}) => ({
  ...(cell_index === undefined ? {} : { cell_index }),
  title: `Question for cell ${cell_index}`,
  scenario: 'An Orin runs [batch] inference at 30 fps.',
  question: 'What is the p99 latency?',
  realistic_solution: 'Compute 1/30 s = 33 ms per frame.',
  common_mistake: 'Ignoring queueing.',
  napkin_math: '1000 ms / 30 = 33.3 ms',
  expected_time_minutes: 6,
  competency_area: 'latency',
  ...extra,
});
const visualExtra = { competency_area: 'networking', visual: { kind: 'dot', alt: 'ring of 8 GPUs', caption: 'Ring' }, visual_source: 'digraph { a -> b }' };
const good = [item(0), item(1, visualExtra), item(2, { competency_area: 'power' })];

function invalid(fn: () => unknown): LlmOutputInvalidError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LlmOutputInvalidError);
    return e as LlmOutputInvalidError;
  }
  throw new Error('expected LlmOutputInvalidError');
}

describe('extractJson', () => {
  it('reads an array inside a code fence with prose around it', () => {
    const text = `Sure! Here they are:\n\`\`\`json\n${JSON.stringify(good, null, 2)}\n\`\`\`\nLet me know [if] you need more.`;
    expect(extractJson(text)).toEqual(good);
  });

  it('is not fooled by brackets and quotes inside strings', () => {
    const tricky = [{ cell_index: 0, title: 'a ] b [ c } { "quoted" \\ back', napkin_math: '[1, 2]' }];
    expect(extractJson(`noise ${JSON.stringify(tricky)} trailing`)).toEqual(tricky);
  });

  it('skips prose brackets before the answer', () => {
    expect(extractJson('Answer [see below]: [{"a": 1}]')).toEqual([{ a: 1 }]);
  });

  it('rejects malformed JSON with an excerpt, and does not accept trailing commas', () => {
    const e = invalid(() => extractJson('[{"cell_index": 0, "title": "x",}]'));
    expect(e.message).toMatch(/malformed JSON/);
    expect(e.rawExcerpt).toContain('"title": "x",');
    invalid(() => extractJson('[1, 2, 3,]'));
  });

  it('reports truncated JSON as truncated', () => {
    const full = JSON.stringify(good);
    const e = invalid(() => extractJson(full.slice(0, full.length - 40)));
    expect(e.message).toMatch(/truncated/);
  });

  it('reports no JSON at all', () => {
    expect(invalid(() => extractJson('I cannot help with that.')).message).toMatch(/no JSON/);
  });

  it('wraps a single object, and unwraps {"items": [...]}', () => {
    expect(extractItems('{"a": 1}')).toEqual([{ a: 1 }]);
    expect(extractItems('{"items": [{"a": 1}, {"a": 2}]}')).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe('parseGenerateAnswer', () => {
  it('matches items to cells by cell_index whatever their order', () => {
    const r = parseGenerateAnswer(JSON.stringify([good[2], good[0], good[1]]), cells);
    expect([...r.items.keys()].sort()).toEqual([0, 1, 2]);
    expect(r.failures).toEqual([]);
    expect(r.items.get(2)!.competency_area).toBe('power');
    expect(r.items.get(1)!.visual).toEqual({ kind: 'dot', alt: 'ring of 8 GPUs', caption: 'Ring' });
    expect(r.items.get(1)!.visual_source).toBe('digraph { a -> b }');
    expect(r.items.get(0)!.visual).toBeUndefined();
  });

  it('falls back to position only when no item has a cell_index and the count matches', () => {
    const noIdx = good.map(({ cell_index: _drop, ...rest }) => rest);
    const r = parseGenerateAnswer(JSON.stringify(noIdx), cells);
    expect(r.items.size).toBe(3);
    expect(r.items.get(1)!.title).toBe('Question for cell 1');
    // Wrong count: no positional guessing.
    const short = parseGenerateAnswer(JSON.stringify(noIdx.slice(0, 2)), cells);
    expect(short.items.size).toBe(0);
    expect(short.unknown).toHaveLength(2);
    expect(short.failures.map((f) => f.error)).toEqual(['missing in response', 'missing in response', 'missing in response']);
  });

  it('wrong item count: missing cells are failures, extra and duplicate items are unknown', () => {
    const r = parseGenerateAnswer(JSON.stringify([good[0], good[0], item(7)]), cells);
    expect([...r.items.keys()]).toEqual([0]);
    expect(r.failures).toEqual([
      { cellIndex: 1, error: 'missing in response' },
      { cellIndex: 2, error: 'missing in response' },
    ]);
    expect(r.unknown.map((u) => u.reason)).toEqual(['second item for cell_index 0; the first one is kept', 'cell_index 7 matches no cell']);
  });

  it('an item failing the schema is a failure of its cell, the others survive', () => {
    const r = parseGenerateAnswer(JSON.stringify([good[0], { cell_index: 1, title: '' }, good[2]]), cells);
    expect(r.items.size).toBe(2);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.cellIndex).toBe(1);
    expect(r.failures[0]!.error).toMatch(/title/);
  });

  it('normalizes a malformed competency_area and keeps the cell (topic) area', () => {
    const r = parseGenerateAnswer(JSON.stringify([item(0, { competency_area: 'edge / queueing-theory' }), item(2, { competency_area: 'diagnosis' })]), cells);
    expect(r.items.get(0)!.competency_area).toBe('latency');
    expect(r.items.get(0)!.notes.join()).toMatch(/normalized to latency/);
    expect(r.items.get(2)!.competency_area).toBe('power');
    expect(r.items.get(2)!.notes.join()).toMatch(/cross-cutting differs from the cell's power/);
  });

  it('never uses a model-provided id or path: identity comes from the cell', () => {
    const evil = item(0, { id: '../../etc/passwd', path: '../../../root/.ssh/id_rsa', track: 'cloud', topic: '../x' });
    const r = parseGenerateAnswer(JSON.stringify([evil]), cells);
    const got = r.items.get(0)!;
    expect(got.cellIndex).toBe(0);
    // Only the notes quote what the model sent (they are never paths).
    const { notes, ...fields } = got;
    expect(JSON.stringify(fields)).not.toContain('..');
    expect(notes.filter((n) => n.includes('..'))).toHaveLength(2);
    expect(Object.keys(got)).not.toContain('id');
    expect(Object.keys(got)).not.toContain('path');
    // A path-like cell_index matches no cell.
    const r2 = parseGenerateAnswer(JSON.stringify([{ ...item(0), cell_index: '../1' }]), cells);
    expect(r2.items.size).toBe(0);
    expect(r2.unknown).toHaveLength(1);
  });

  it('ignores a visual on a cell without one, forces the cell format, defaults minutes and phase', () => {
    const r = parseGenerateAnswer(
      JSON.stringify([item(0, visualExtra), item(1, { ...visualExtra, visual: { kind: 'matplotlib', alt: 'x', caption: 'y' }, expected_time_minutes: 'soon', phase: 'Inference' })]),
      cells,
    );
    expect(r.items.get(0)!.visual).toBeUndefined();
    expect(r.items.get(0)!.notes.join()).toMatch(/dropped/);
    expect(r.items.get(1)!.visual!.kind).toBe('dot');
    expect(r.items.get(1)!.expected_time_minutes).toBe(8);
    expect(r.items.get(1)!.phase).toBe('inference');
    expect(r.items.get(0)!.phase).toBe('both');
  });

  it('normalizes levels: L6 → L6+, a wrong level is noted and the cell level is kept', () => {
    expect(normalizeLevel('L6')).toBe('L6+');
    expect(normalizeLevel(' l3 ')).toBe('L3');
    expect(normalizeLevel('L7')).toBeUndefined();
    const r = parseGenerateAnswer(JSON.stringify([item(1, { ...visualExtra, level: 'L6' }), item(0, { level: 'L2' })]), cells);
    expect(r.items.get(1)!.notes.some((n) => n.startsWith('level'))).toBe(false);
    expect(r.items.get(0)!.notes.join()).toMatch(/level "L2" ignored/);
  });

  it('ids and paths the model sends are ignored and noted, escapes named as such', () => {
    const r = parseGenerateAnswer(JSON.stringify([item(0, { id: 'cloud-9999', path: '/etc/passwd' }), item(1, { ...visualExtra, file: 'a/../../b', visual: { ...visualExtra.visual, path: '../x.svg' } }), good[2]]), cells);
    expect(r.items.get(0)!.notes).toEqual([
      `model's id "cloud-9999" ignored: ids and paths are minted by the pipeline`,
      `model's path "/etc/passwd" ignored (it points outside its folder): ids and paths are minted by the pipeline`,
    ]);
    expect(r.items.get(1)!.notes).toEqual([
      `model's file "a/../../b" ignored (it points outside its folder): ids and paths are minted by the pipeline`,
      `model's visual.path "../x.svg" ignored (it points outside its folder): ids and paths are minted by the pipeline`,
    ]);
    expect(r.items.get(2)!.notes).toEqual([]);
  });

  it('malformed whole answers throw LlmOutputInvalidError', () => {
    invalid(() => parseGenerateAnswer('[{"cell_index": 0', cells));
  });
});

describe('parseJudgeAnswer', () => {
  const v = (id: unknown, verdict = 'PASS', extra: Record<string, unknown> = {}) => ({
    id,
    reasoning: 'checked 2 × 3 = 6',
    verdict,
    criteria: { math_correct: 'PASS', cell_fit: 'PASS', scenario_realism: 'WARN', uniqueness: 'PASS', visual_alignment: 'N/A' },
    issues: [],
    fix_suggestion: '',
    ...extra,
  });

  it('matches by exact id; renamed ids are unknown and their drafts missing', () => {
    const r = parseJudgeAnswer(JSON.stringify([v('cloud-0001'), v('cloud-0002 ', 'needs fix'), v('CLOUD-0003', 'DROP'), v('cloud-3', 'DROP')]), ['cloud-0001', 'cloud-0002', 'cloud-0003']);
    expect([...r.verdicts.keys()]).toEqual(['cloud-0001', 'cloud-0002']);
    expect(r.verdicts.get('cloud-0002')!.verdict).toBe('NEEDS_FIX');
    expect(r.unknown).toEqual([
      { id: 'CLOUD-0003', reason: 'id not among the drafts judged' },
      { id: 'cloud-3', reason: 'id not among the drafts judged' },
    ]);
    expect(r.missing).toEqual(['cloud-0003']);
  });

  it('never falls back to position, keeps the first of duplicates, rejects invalid verdicts', () => {
    const r = parseJudgeAnswer(JSON.stringify([v(undefined, 'DROP'), v('a', 'PASS'), v('a', 'DROP'), v('b', 'MAYBE')]), ['a', 'b']);
    expect(r.verdicts.get('a')!.verdict).toBe('PASS');
    expect(r.verdicts.has('b')).toBe(false);
    expect(r.missing).toEqual(['b']);
    expect(r.unknown.map((u) => u.reason)).toEqual(['no id', 'second verdict for this id; the first one is kept', expect.stringMatching(/invalid verdict: verdict/)]);
  });

  it('reads fenced answers with brackets in the reasoning', () => {
    const r = parseJudgeAnswer('```json\n' + JSON.stringify([v('x', 'PASS', { reasoning: 'array [1,2] and } brace' })]) + '\n```', ['x']);
    expect(r.verdicts.get('x')!.reasoning).toBe('array [1,2] and } brace');
    expect(r.verdicts.get('x')!.criteria.visual_alignment).toBe('N/A');
  });
});

describe('parseReviseAnswer', () => {
  it('matches by id and checks area and visual against the draft', () => {
    const { cell_index: _c, ...base } = item(0);
    const r = parseReviseAnswer(JSON.stringify([{ ...base, id: 'edge-0001', competency_area: 'Queueing theory' }, { ...base, id: 'other' }]), [
      { id: 'edge-0001', competency_area: 'latency', level: 'L4' },
      { id: 'edge-0002', competency_area: 'latency', level: 'L4' },
    ]);
    expect(r.items.get('edge-0001')!.competency_area).toBe('latency');
    expect(r.failures).toEqual([{ id: 'edge-0002', error: 'missing in response' }]);
    expect(r.unknown).toEqual([{ id: 'other', reason: 'id not among the drafts revised' }]);
  });
});
