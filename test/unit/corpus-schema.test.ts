import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadVault } from '../../src/corpus/loader.js';
import { QuestionSchema, validateQuestion } from '../../src/corpus/schema.js';
import { validateVault } from '../../src/corpus/validate.js';
import { FIXTURE_BAD_FILES, fixtureVaultDir, synthetic1kDir } from '../helpers/fixtures.js';

const REL = 'questions/cloud/latency/cloud-0042.yaml';

function base(): Record<string, unknown> {
  return {
    schema_version: '1.0',
    id: 'cloud-0042',
    track: 'cloud',
    level: 'L4',
    zone: 'analyze',
    topic: 'queueing-theory',
    competency_area: 'latency',
    bloom_level: 'analyze',
    phase: 'inference',
    title: 'Concurrency at 400 Requests per Second',
    scenario: 'An endpoint receives 400 requests/s and each spends 50 ms in the system; the server has 16 slots.',
    question: 'Do the slots suffice?',
    details: {
      realistic_solution: "By Little's law 400/s × 0.05 s = 20 in flight, more than 16 slots.",
      common_mistake: 'Sizing from the arrival rate alone.',
      napkin_math: '- In flight: 400 × 0.05 = 20.',
    },
    status: 'published',
    provenance: 'imported',
  };
}

// Cases poke at untyped YAML-shaped documents, nested ones included.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
type Mutate = (d: Doc) => void;
const det = (f: (x: Doc) => void): Mutate => (d) => f(d.details);

/** Every field rule of SEED-SPEC §2.2: a case that passes and one that fails, with what the message must name. */
const CASES: { rule: string; ok: Mutate; bad: Mutate; says: string }[] = [
  { rule: 'schema_version starts with "1."', ok: (d) => (d.schema_version = '1.3'), bad: (d) => (d.schema_version = '2.0'), says: 'schema_version' },
  { rule: 'schema_version defaults (may be absent)', ok: (d) => delete d.schema_version, bad: (d) => (d.schema_version = 1), says: 'schema_version: expected string' },
  { rule: 'id required', ok: () => {}, bad: (d) => delete d.id, says: 'id: required field is missing' },
  { rule: 'id URL-safe', ok: () => {}, bad: (d) => (d.id = 'cloud 0042/..'), says: 'URL-safe' },
  { rule: 'track enum', ok: () => {}, bad: (d) => (d.track = 'server'), says: 'track: expected one of cloud, edge, mobile, tinyml, global; found "server"' },
  { rule: 'level includes L6+', ok: (d) => ((d.level = 'L6+'), (d.zone = 'mastery')), bad: (d) => (d.level = 'L6'), says: 'level: expected one of L1, L2, L3, L4, L5, L6+; found "L6"' },
  { rule: 'zone enum', ok: (d) => ((d.zone = 'realization'), (d.level = 'L5')), bad: (d) => (d.zone = 'napkin'), says: 'zone: expected one of recall' },
  { rule: 'topic is one of the 87', ok: (d) => (d.topic = 'sustainability-carbon-accounting'), bad: (d) => (d.topic = 'distributed-training-economics'), says: 'topic: expected one of the 87 curated topics; found "distributed-training-economics"' },
  { rule: 'competency_area closed enum', ok: (d) => (d.competency_area = 'cross-cutting'), bad: (d) => (d.competency_area = 'Duty cycling'), says: 'normalizable to "power"' },
  { rule: 'bloom_level enum', ok: (d) => (d.bloom_level = 'create'), bad: (d) => (d.bloom_level = 'synthesize'), says: 'bloom_level: expected one of remember' },
  { rule: 'bloom_level optional', ok: (d) => delete d.bloom_level, bad: (d) => (d.bloom_level = 3), says: 'bloom_level' },
  { rule: 'phase enum', ok: (d) => (d.phase = 'training'), bad: (d) => (d.phase = 'serving'), says: 'phase: expected one of training, inference, both; found "serving"' },
  { rule: 'title ≤ 120', ok: (d) => (d.title = 'x'.repeat(120)), bad: (d) => (d.title = 'x'.repeat(121)), says: 'title: expected at most 120 characters; found 121' },
  { rule: 'title required', ok: () => {}, bad: (d) => delete d.title, says: 'title: required field is missing' },
  { rule: 'scenario ≥ 30', ok: (d) => (d.scenario = 's'.repeat(30)), bad: (d) => (d.scenario = 's'.repeat(29)), says: 'scenario: expected at least 30 characters; found 29' },
  ...['<SCRIPT', 'JavaScript:', 'data:text/html', 'onerror=', 'ONLOAD='].map((bad) => ({
    rule: `scenario rejects ${bad}`,
    ok: (d: Doc) => (d.scenario = `${d.scenario} The error handler is fine.`),
    bad: (d: Doc) => (d.scenario = `${d.scenario} ${bad}alert(1)`),
    says: `contains "${bad.toLowerCase()}"`,
  })),
  { rule: 'question optional string', ok: (d) => delete d.question, bad: (d) => (d.question = ['a']), says: 'question: expected string' },
  { rule: 'visual kind svg|mermaid, default svg', ok: (d) => (d.visual = { path: 'a.svg', alt: 'x' }), bad: (d) => (d.visual = { kind: 'dot', path: 'a.svg', alt: 'x' }), says: 'visual.kind: expected one of svg, mermaid; found "dot"' },
  { rule: 'visual path ends .svg', ok: (d) => (d.visual = { kind: 'mermaid', path: 'a.svg', alt: 'x' }), bad: (d) => (d.visual = { path: 'a.dot', alt: 'x' }), says: 'visual.path: expected a file name ending in .svg' },
  { rule: 'visual path has no ..', ok: (d) => (d.visual = { path: 'sub/a.svg', alt: 'x' }), bad: (d) => (d.visual = { path: '../a.svg', alt: 'x' }), says: 'no ".."' },
  { rule: 'visual path not absolute', ok: () => {}, bad: (d) => (d.visual = { path: '/etc/a.svg', alt: 'x' }), says: 'no leading "/"' },
  { rule: 'visual path has no backslash', ok: () => {}, bad: (d) => (d.visual = { path: 'a\\b.svg', alt: 'x' }), says: 'no "\\"' },
  { rule: 'visual alt required', ok: (d) => (d.visual = { path: 'a.svg', alt: 'x', caption: 'c' }), bad: (d) => (d.visual = { path: 'a.svg' }), says: 'visual.alt: required field is missing' },
  { rule: 'visual forbids unknown keys', ok: () => {}, bad: (d) => (d.visual = { path: 'a.svg', alt: 'x', source: 'digraph{}' }), says: 'visual: unknown key "source"' },
  { rule: 'details required', ok: () => {}, bad: (d) => delete d.details, says: 'details: required field is missing' },
  { rule: 'details open, realistic_solution required', ok: det((x) => (x.extra_note = 'kept')), bad: det((x) => delete x.realistic_solution), says: 'details.realistic_solution: required field is missing' },
  { rule: 'details.common_mistake string', ok: det((x) => delete x.common_mistake), bad: det((x) => (x.common_mistake = 5)), says: 'details.common_mistake: expected string; found 5' },
  { rule: 'details.napkin_math string', ok: det((x) => (x.napkin_math = null)), bad: det((x) => (x.napkin_math = { a: 1 })), says: 'details.napkin_math' },
  { rule: 'options exactly 4', ok: det((x) => ((x.options = ['a', 'b', 'c', 'd']), (x.correct_index = 3))), bad: det((x) => ((x.options = ['a', 'b', 'c']), (x.correct_index = 0))), says: 'details.options: expected exactly 4 items; found 3' },
  { rule: 'correct_index required with options', ok: det((x) => ((x.options = ['a', 'b', 'c', 'd']), (x.correct_index = 0))), bad: det((x) => (x.options = ['a', 'b', 'c', 'd'])), says: 'details.correct_index: required when details.options is present' },
  { rule: 'correct_index only with options', ok: () => {}, bad: det((x) => (x.correct_index = 1)), says: 'only allowed together with details.options' },
  { rule: 'correct_index 0..3', ok: det((x) => ((x.options = ['a', 'b', 'c', 'd']), (x.correct_index = 3))), bad: det((x) => ((x.options = ['a', 'b', 'c', 'd']), (x.correct_index = 4))), says: 'details.correct_index: expected a value ≤ 3; found 4' },
  { rule: 'resources name 1..200', ok: det((x) => (x.resources = [{ name: 'n', url: 'https://a.example' }])), bad: det((x) => (x.resources = [{ name: '', url: 'https://a.example' }])), says: 'details.resources[0].name: expected at least 1 characters' },
  { rule: 'resources name ≤200', ok: det((x) => (x.resources = [{ name: 'n'.repeat(200), url: 'https://a.example' }])), bad: det((x) => (x.resources = [{ name: 'n'.repeat(201), url: 'https://a.example' }])), says: 'expected at most 200 characters' },
  { rule: 'resources url https://', ok: () => {}, bad: det((x) => (x.resources = [{ name: 'n', url: 'http://a.example' }])), says: 'details.resources[0].url: expected a URL starting with https://; found "http://a.example"' },
  { rule: 'status enum, default draft', ok: (d) => delete d.status, bad: (d) => (d.status = 'live'), says: 'status: expected one of draft, published, flagged, archived, deleted; found "live"' },
  { rule: 'provenance enum, default imported', ok: (d) => delete d.provenance, bad: (d) => (d.provenance = 'gpt'), says: 'provenance: expected one of human, llm-draft' },
  { rule: 'requires_explanation bool', ok: (d) => (d.requires_explanation = false), bad: (d) => (d.requires_explanation = 'yes'), says: 'requires_explanation: expected boolean; found "yes"' },
  { rule: 'expected_time_minutes int', ok: (d) => (d.expected_time_minutes = 0), bad: (d) => (d.expected_time_minutes = 2.5), says: 'expected_time_minutes: expected int' },
  { rule: 'expected_time_minutes ≥ 0', ok: (d) => (d.expected_time_minutes = 15), bad: (d) => (d.expected_time_minutes = -1), says: 'expected_time_minutes: expected a value ≥ 0; found -1' },
  { rule: 'deletion_reason string', ok: (d) => ((d.status = 'deleted'), (d.deletion_reason = 'dup')), bad: (d) => (d.deletion_reason = 1), says: 'deletion_reason' },
  { rule: 'chains [{id, position ≥ 0}]', ok: (d) => (d.chains = [{ id: 'cloud-chain-001', position: 0 }]), bad: (d) => (d.chains = [{ id: 'cloud-chain-001', position: -1 }]), says: 'chains[0].position: expected a value ≥ 0; found -1' },
  { rule: 'chains id required', ok: () => {}, bad: (d) => (d.chains = [{ position: 1 }]), says: 'chains[0].id: required field is missing' },
  { rule: 'validated bool', ok: (d) => (d.validated = true), bad: (d) => (d.validated = 'true'), says: 'validated: expected boolean' },
  { rule: 'validation_status string', ok: (d) => (d.validation_status = 'PARSE_ERROR'), bad: (d) => (d.validation_status = false), says: 'validation_status' },
  { rule: 'validation_date date or string', ok: (d) => (d.validation_date = new Date('2026-04-01')), bad: (d) => (d.validation_date = 20260401), says: 'validation_date: expected a date or a string' },
  { rule: 'validation_issues list of strings', ok: (d) => (d.validation_issues = ['x']), bad: (d) => (d.validation_issues = 'x'), says: 'validation_issues: expected array' },
  { rule: 'math_verified bool', ok: (d) => (d.math_verified = false), bad: (d) => (d.math_verified = 1), says: 'math_verified' },
  { rule: 'math_date date or string', ok: (d) => (d.math_date = '2026-04-03'), bad: (d) => (d.math_date = ['2026']), says: 'math_date' },
  { rule: 'math_issues list of strings', ok: (d) => (d.math_issues = []), bad: (d) => (d.math_issues = [1]), says: 'math_issues[0]: expected string' },
  { rule: 'human_reviewed status enum, default not-reviewed', ok: (d) => (d.human_reviewed = { by: null, date: null, notes: null }), bad: (d) => (d.human_reviewed = { status: 'approved' }), says: 'human_reviewed.status: expected one of not-reviewed, verified, flagged, needs-rework; found "approved"' },
  { rule: 'human_reviewed by/date/notes', ok: (d) => (d.human_reviewed = { status: 'verified', by: 'a', date: '2026-04-01', notes: 'n' }), bad: (d) => (d.human_reviewed = { status: 'verified', by: 3 }), says: 'human_reviewed.by' },
  { rule: 'tags list of strings', ok: (d) => (d.tags = ['gemini-generated', 'target-analyze-L4']), bad: (d) => (d.tags = [{ a: 1 }]), says: 'tags[0]: expected string; found a mapping' },
  { rule: 'authors list of strings', ok: (d) => (d.authors = ['a']), bad: (d) => (d.authors = 'a'), says: 'authors' },
  { rule: 'created_at datetime or string', ok: (d) => (d.created_at = '2026-03-23T22:54:05.386501'), bad: (d) => (d.created_at = true), says: 'created_at' },
  { rule: 'last_modified date or string', ok: (d) => (d.last_modified = new Date()), bad: (d) => (d.last_modified = 5), says: 'last_modified' },
  { rule: 'unknown top-level keys allowed', ok: (d) => (d.generation_meta = { model: 'x' }), bad: (d) => (d.title = 7), says: 'title: expected string; found 7' },
];

describe('QuestionSchema: every field rule of §2.2', () => {
  it('the base document is valid', () => {
    expect(validateQuestion(base(), REL)).toEqual([]);
  });
  for (const c of CASES) {
    it(c.rule, () => {
      const good = base();
      c.ok(good);
      expect(validateQuestion(good, REL).filter((p) => p.severity === 'error')).toEqual([]);
      const bad = base();
      c.bad(bad);
      const errors = validateQuestion(bad, REL).filter((p) => p.severity === 'error');
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.map((e) => e.message).join('\n')).toContain(c.says);
    });
  }

  it('fills the Pydantic defaults', () => {
    const d = base();
    delete d.schema_version;
    delete d.status;
    delete d.provenance;
    d.visual = { path: 'a.svg', alt: 'x' };
    d.human_reviewed = {};
    const out = QuestionSchema.parse(d);
    expect([out.schema_version, out.status, out.provenance, out.visual?.kind, out.human_reviewed?.status]).toEqual(['1.0', 'draft', 'imported', 'svg', 'not-reviewed']);
  });
});

describe('validateQuestion: the loader rules and the affinity warning', () => {
  it('file name must be <track>-<suffix>.yaml and equal the id', () => {
    expect(validateQuestion(base(), 'questions/cloud/latency/cloud-0043.yaml').map((p) => p.code)).toEqual(['id-mismatch']);
    expect(validateQuestion(base(), 'questions/cloud/latency/q-0042.yaml').map((p) => p.code)).toEqual(['filename']);
    const edge = { ...base(), id: 'edge-0042' };
    expect(validateQuestion(edge, 'questions/cloud/latency/edge-0042.yaml').map((p) => p.code)).toEqual(['filename']);
  });
  it('the first folder under questions/ must equal the track', () => {
    const p = validateQuestion(base(), 'questions/edge/latency/cloud-0042.yaml');
    expect(p.map((x) => [x.code, x.severity])).toEqual([['track-dir', 'error']]);
    expect(validateQuestion(base(), 'questions/cloud-0042.yaml').map((x) => x.code)).toEqual(['track-dir']);
    // The flat legacy layout is still accepted.
    expect(validateQuestion(base(), 'questions/cloud/cloud-0042.yaml')).toEqual([]);
  });
  it('a level outside the zone affinity is a warning, not an error', () => {
    const d = { ...base(), level: 'L4', zone: 'mastery' };
    const p = validateQuestion(d, REL);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ severity: 'warning', code: 'affinity' });
    expect(p[0]!.message).toContain('L6+');
  });
  it('an area folder that disagrees with competency_area is a warning', () => {
    expect(validateQuestion(base(), 'questions/cloud/memory/cloud-0042.yaml').map((p) => [p.code, p.severity])).toEqual([['area-dir', 'warning']]);
  });
  it('gives the line of the field when the text is at hand', () => {
    const text = 'id: cloud-0042\ntrack: cloud\nlevel: L6\nzone: analyze\ntopic: queueing-theory\ncompetency_area: latency\ntitle: t\nscenario: short\ndetails:\n  napkin_math: x\n';
    const p = validateQuestion({ id: 'cloud-0042', track: 'cloud', level: 'L6', zone: 'analyze', topic: 'queueing-theory', competency_area: 'latency', title: 't', scenario: 'short', details: { napkin_math: 'x' } }, REL, { text });
    const lines = Object.fromEntries(p.map((x) => [x.message.split(':')[0], x.line]));
    expect(lines).toMatchObject({ level: 3, scenario: 8, 'details.realistic_solution': 9 });
  });
  it('refuses non-mappings', () => {
    expect(validateQuestion(['a'], REL)[0]!.message).toContain('found a list of 1');
  });
});

describe('the fixtures', () => {
  it('the fixture vault: its 32 questions validate with zero errors, including the three that end early; errors only in its three bad files', async () => {
    const { files, problems } = await loadVault(fixtureVaultDir());
    expect(files).toHaveLength(35);
    expect([...new Set(problems.map((p) => p.path))].sort()).toEqual(FIXTURE_BAD_FILES.slice(0, 2));
    expect(problems.map((p) => p.code).sort()).toEqual(['empty', 'yaml-syntax']);
    for (const f of files.filter((x) => !(FIXTURE_BAD_FILES as readonly string[]).includes(x.relPath))) {
      const errors = validateQuestion(f.doc, f.relPath).filter((p) => p.severity === 'error');
      expect(errors, f.relPath).toEqual([]);
    }
    const offEnum = files.find((f) => f.relPath === FIXTURE_BAD_FILES[2])!;
    const offEnumErrors = validateQuestion(offEnum.doc, offEnum.relPath).map((p) => p.message.split(':')[0]);
    expect(offEnumErrors).toEqual(expect.arrayContaining(['level', 'zone', 'topic', 'competency_area', 'scenario']));
    // They stop after provenance / human_reviewed.status: no optional tail, yet valid.
    for (const id of ['cloud-0106', 'edge-0204', 'tinyml-0406']) {
      const f = files.find((x) => x.relPath.endsWith(`/${id}.yaml`))!;
      expect(f.doc).not.toBeNull();
      expect(Object.keys(f.doc!)).not.toContain('tags');
    }
  });

  it('synthetic-1k: errors in exactly its three bad files, with lines, and the normalizable area named', async () => {
    const v = await validateVault(synthetic1kDir());
    expect(v.files).toBe(1003);
    expect(v.errorFiles).toEqual([
      'questions/cloud/cross-cutting/cloud-9000.yaml',
      'questions/cloud/cross-cutting/cloud-9001.yaml',
      'questions/cloud/cross-cutting/cloud-9002.yaml',
    ]);
    const of = (id: string) => v.problems.filter((p) => p.path.endsWith(`${id}.yaml`) && p.severity === 'error');
    expect(of('cloud-9000')).toMatchObject([{ code: 'yaml-syntax', line: 1 }]);
    expect(of('cloud-9001')).toMatchObject([{ code: 'empty' }]);
    const bad = of('cloud-9002');
    const text = readFileSync(join(synthetic1kDir(), 'questions/cloud/cross-cutting/cloud-9002.yaml'), 'utf8').split('\n');
    const lineOf = (key: string) => text.findIndex((l) => l.startsWith(`${key}:`)) + 1;
    expect(bad.find((p) => p.message.startsWith('level:'))).toMatchObject({ line: lineOf('level') });
    expect(bad.find((p) => p.message.startsWith('zone:'))!.message).toContain('found "napkin"');
    expect(bad.find((p) => p.message.startsWith('competency_area:'))).toMatchObject({ line: lineOf('competency_area') });
    expect(bad.find((p) => p.message.startsWith('competency_area:'))!.message).toContain('normalizable to "latency"');
    expect(v.problems.filter((p) => p.severity === 'warning').every((p) => p.code === 'affinity')).toBe(true);
  });
});
