/**
 * The question document as the pipeline carries it (QuestionDoc, src/domain/question.ts): a broken
 * draft of the right kinds (off-enum values, missing fields, unknown keys) fits and travels in job
 * data unchanged, key order included; a file whose field holds a value of the wrong kind is read
 * as a mapping but is no QuestionDoc; the revise codec refuses a target it cannot place.
 */
import { describe, expect, it } from 'vitest';
import { reviseCodec } from '../../src/core/codecs.js';
import { asQuestionDoc, parseQuestionText } from '../../src/corpus/loader.js';
import { validateQuestion } from '../../src/corpus/schema.js';
import { isQuestionDoc, type QuestionDoc } from '../../src/domain/question.js';
import { judgeQueue } from '../../src/queues/judge.js';

const broken = (): QuestionDoc => ({
  id: 'edge-0007',
  zz_note: 'kept where it was',
  track: 'underwater',
  level: 'L4',
  details: { napkin_math: '2 x 3 = 6', extra: [1, 2] },
  schema_version: '1.0',
});

describe('QuestionDoc', () => {
  it('takes a draft with an off-enum track, no title and unknown keys, which the strict schema refuses', () => {
    const doc = broken();
    expect(isQuestionDoc(doc)).toBe(true);
    const errors = validateQuestion(doc, 'questions/edge/latency/edge-0007.yaml').filter((p) => p.severity === 'error').map((p) => p.message);
    expect(errors.some((m) => m.startsWith('track:'))).toBe(true);
    expect(errors.some((m) => m.startsWith('title:'))).toBe(true);
  });

  it('travels in judge job data as it was: same values, same key order', () => {
    const doc = broken();
    const data = { runId: 'r', iter: 1, chunk: 0, round: 0, drafts: [{ id: 'edge-0007', doc, path: 'questions/edge/latency/edge-0007.yaml', fileHash: 'a'.repeat(64), vaultNearest: null }] };
    const parsed = judgeQueue.payload.parse(JSON.parse(JSON.stringify(data)));
    expect(parsed.drafts[0]!.doc).toEqual(doc);
    expect(Object.keys(parsed.drafts[0]!.doc)).toEqual(['id', 'zz_note', 'track', 'level', 'details', 'schema_version']);
  });

  it('is refused in job data when a field holds a value of the wrong kind, naming what was expected', () => {
    const data = { runId: 'r', iter: 1, chunk: 0, round: 0, drafts: [{ id: 'edge-0007', doc: { ...broken(), title: 1984 }, path: 'p.yaml', fileHash: 'a'.repeat(64), vaultNearest: null }] };
    const r = judgeQueue.payload.safeParse(data);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('expected a question document');
  });

  it('reads a file whose title is a number as a mapping, but not as a QuestionDoc', () => {
    const text = 'id: edge-0007\ntrack: edge\ntitle: 1984\n';
    const { doc, problems } = parseQuestionText(text, 'questions/edge/latency/edge-0007.yaml');
    expect(problems).toEqual([]);
    expect(doc).toEqual({ id: 'edge-0007', track: 'edge', title: 1984 });
    expect(asQuestionDoc(doc)).toBeNull();
    expect(asQuestionDoc(parseQuestionText('id: edge-0007\ntrack: nowhere\n', 'x.yaml').doc)).toEqual({ id: 'edge-0007', track: 'nowhere' });
  });
});

describe('reviseCodec', () => {
  it('fails a target whose area is not canonical, with the value it found, and parses the others', () => {
    const item = {
      title: 'Ring all-reduce time',
      scenario: 'Eight GPUs on 100 GB/s links all-reduce a 1 GB gradient every step.',
      question: 'How long does one all-reduce take?',
      realistic_solution: 'About 2 x 7/8 GB / 100 GB/s = 17.5 ms.',
      common_mistake: 'Forgetting the factor of two.',
      napkin_math: '2 x 0.875 / 100 = 0.0175 s',
      expected_time_minutes: 6,
    };
    const codec = reviseCodec({ info: () => {} });
    const r = codec.parse(JSON.stringify([{ ...item, id: 'cloud-0001' }, { ...item, id: 'cloud-0002' }]), [
      { id: 'cloud-0001', doc: { id: 'cloud-0001', competency_area: 'networking', level: 'L4' } },
      { id: 'cloud-0002', doc: { id: 'cloud-0002', competency_area: 'plumbing', level: 'L4' } },
    ]);
    expect([...r.items.keys()]).toEqual(['cloud-0001']);
    expect(r.failures).toEqual([{ id: 'cloud-0002', error: 'competency_area "plumbing" or level "L4" is not canonical' }]);
  });
});
