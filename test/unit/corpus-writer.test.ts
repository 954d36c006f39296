import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CorpusFileError, UnsafePathError } from '../../src/errors.js';
import { loadQuestionFile, loadVault, sha256 } from '../../src/corpus/loader.js';
import { validateQuestion } from '../../src/corpus/schema.js';
import { moveQuestion, QUESTION_KEY_ORDER, QuestionWriter, safeVaultPath, serializeQuestion, writeQuestion } from '../../src/corpus/writer.js';
import { fixtureVaultDir, synthetic1kDir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-corpus-writer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshVault = () => {
  const dir = join(tmp, `v${n++}`);
  mkdirSync(join(dir, 'questions'), { recursive: true });
  return dir;
};

function draft(over: Record<string, unknown> = {}): Record<string, unknown> {
  // Keys deliberately out of the generator's order.
  return {
    tags: ['gemini-generated', 'target-diagnosis-L4'],
    created_at: '2026-04-25',
    details: { napkin_math: '**Calculations:**\n- 80 Mb / 2 Mbps = 40 s.\n', realistic_solution: 'It takes 40 s.', common_mistake: 'Bytes vs bits.' },
    id: 'edge-0101',
    human_reviewed: { notes: null, status: 'not-reviewed', by: null, date: null },
    schema_version: '1.0',
    track: 'edge',
    level: 'L4',
    zone: 'diagnosis',
    topic: 'network-bandwidth-bottlenecks',
    competency_area: 'networking',
    title: 'Update Window on a 2 Mbps Link',
    scenario: 'An edge box must push 10 MB over a 2 Mbps link inside a 30 s window.',
    question: 'Does it fit?',
    status: 'draft',
    provenance: 'llm-draft',
    extra_field: 'kept at the end',
    visual: { caption: 'c', alt: 'a', path: 'edge-0101.svg', kind: 'svg' },
    ...over,
  };
}

describe('serializeQuestion', () => {
  it("writes the original generator's key order, then other keys in their order", () => {
    const text = serializeQuestion(draft());
    const keys = text.split('\n').filter((l) => /^[a-z_]+:/.test(l)).map((l) => l.split(':')[0]);
    const known = QUESTION_KEY_ORDER.filter((k) => keys.includes(k));
    expect(keys).toEqual([...known, 'extra_field']);
    expect(text).toMatch(/details:\n {2}realistic_solution: .*\n {2}common_mistake: .*\n {2}napkin_math: \|\n/);
    expect(text).toMatch(/visual:\n {2}kind: svg\n {2}path: edge-0101.svg\n {2}alt: a\n {2}caption: c\n/);
    expect(text).toMatch(/human_reviewed:\n {2}status: not-reviewed\n {2}by: null\n {2}date: null\n {2}notes: null\n/);
  });

  it('keeps the existing order with keyOrder: preserve', () => {
    const d = draft();
    const keys = serializeQuestion(d, { keyOrder: 'preserve' }).split('\n').filter((l) => /^[a-z_]+:/.test(l)).map((l) => l.split(':')[0]);
    expect(keys).toEqual(Object.keys(d));
  });

  it('is PyYAML-like: literal blocks, flush lists, quoted look-alikes', () => {
    const text = serializeQuestion(draft({ validation_status: 'yes', math_status: 'null', version_like: '1.0' }));
    expect(text).toContain("schema_version: '1.0'\n");
    expect(text).toContain("created_at: '2026-04-25'\n");
    expect(text).toContain('tags:\n- gemini-generated\n- target-diagnosis-L4\n');
    expect(text).toContain('  napkin_math: |\n    **Calculations:**\n    - 80 Mb / 2 Mbps = 40 s.\n');
    expect(text).toContain("validation_status: 'yes'\n");
    expect(text).toContain("math_status: 'null'\n");
  });

  it('round-trips tricky strings exactly, under YAML 1.2 and 1.1', () => {
    const tricky = [
      'a\nb',
      'a\nb\n\n\n',
      ' leading space\nline',
      'trailing blank line\n   ',
      'tab\there',
      "it's: \"quoted\" # not a comment",
      '- looks like a list',
      '2026-04-25',
      'on',
      '0x1F',
      '1:20',
      '~',
      'café ✓ — ünïcode',
      'ctrl \u0007 char',
      '    indented\n  first',
      'x'.repeat(500),
      '',
      'line\r\nwindows',
    ];
    const d: Record<string, unknown> = { ...draft(), tricky, nested: [[1, 'a'], { k: ['v', { deep: 'multi\nline' }] }], empty: [], emptyMap: {} };
    const text = serializeQuestion(d);
    expect(parse(text)).toEqual(d);
    expect(parse(text, { version: '1.1' })).toEqual(d);
  });

  it('writes Date values as the strings PyYAML users wrote', () => {
    const text = serializeQuestion(draft({ validation_date: new Date('2026-04-01T00:00:00Z'), updated_at: new Date('2026-04-02T10:11:12.5Z') }));
    expect(text).toContain("validation_date: '2026-04-01'\n");
    expect(text).toContain("updated_at: '2026-04-02T10:11:12.500Z'\n");
  });

  it('round-trips every document of both fixture corpora', async () => {
    let count = 0;
    for (const dir of [fixtureVaultDir(), synthetic1kDir()]) {
      for (const f of (await loadVault(dir)).files) {
        if (!f.doc) continue;
        count++;
        for (const keyOrder of ['generator', 'preserve'] as const) {
          const back = parse(serializeQuestion(f.doc, { keyOrder }));
          expect(isDeepStrictEqual(back, f.doc), `${f.relPath} (${keyOrder})`).toBe(true);
        }
      }
    }
    // 33 parsed documents of the fixture vault (its broken and empty files have none) and 1,001 of synthetic-1k.
    expect(count).toBe(1034);
  });
});

describe('safeVaultPath', () => {
  it('resolves inside the vault', () => {
    expect(safeVaultPath('/v', 'questions', 'cloud', 'a.yaml')).toBe('/v/questions/cloud/a.yaml');
    expect(safeVaultPath('/v', 'questions/cloud/../edge/a.yaml')).toBe('/v/questions/edge/a.yaml');
  });
  it.each([[['..', 'x']], [['questions/../../x']], [['/etc/passwd']], [['a\0b']], [['.']], [['']]])('refuses %j', (segs) => {
    expect(() => safeVaultPath('/v', ...segs)).toThrow(UnsafePathError);
  });
});

describe('writeQuestion', () => {
  it('validates, writes questions/<track>/<area>/<id>.yaml atomically and returns the hash of the bytes', async () => {
    const vault = freshVault();
    const r = await writeQuestion(vault, draft());
    expect(r.relPath).toBe('questions/edge/networking/edge-0101.yaml');
    const bytes = readFileSync(r.absPath);
    expect(r.fileHash).toBe(sha256(bytes));
    const loaded = await loadQuestionFile(vault, r.relPath);
    expect(loaded.fileHash).toBe(r.fileHash);
    expect(validateQuestion(loaded.doc, r.relPath)).toEqual([]);
    expect(readdirSync(join(vault, 'questions/edge/networking'))).toEqual(['edge-0101.yaml']);
    // Idempotent: the same document twice gives the same bytes.
    expect((await writeQuestion(vault, draft())).fileHash).toBe(r.fileHash);
  });

  it('refuses an invalid question with CorpusFileError naming the problems, and writes nothing', async () => {
    const vault = freshVault();
    const err = await writeQuestion(vault, draft({ level: 'L6' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorpusFileError);
    expect((err as Error).message).toContain('level: expected one of');
    expect(existsSync(join(vault, 'questions/edge'))).toBe(false);
  });

  it.each([
    ['id', '../../escape'],
    ['id', 'a/b'],
    ['id', 'a\\b'],
    ['id', 'x\0y'],
    ['id', '..'],
    ['track', '..'],
    ['competency_area', '../../../tmp'],
    ['competency_area', 'a/b'],
  ])('refuses %s %j with UnsafePathError before anything else', async (key, value) => {
    const vault = freshVault();
    await expect(writeQuestion(vault, draft({ [key]: value }))).rejects.toBeInstanceOf(UnsafePathError);
    expect(readdirSync(join(vault, 'questions'))).toEqual([]);
  });

  it('refuses to write through a symlinked folder that leaves the vault', async () => {
    const vault = freshVault();
    const outside = join(tmp, `outside-${n++}`);
    mkdirSync(outside);
    symlinkSync(outside, join(vault, 'questions', 'edge'));
    await expect(writeQuestion(vault, draft())).rejects.toBeInstanceOf(UnsafePathError);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('exclusive: refuses to replace different bytes, accepts the same bytes', async () => {
    const vault = freshVault();
    await writeQuestion(vault, draft());
    await expect(writeQuestion(vault, draft(), { exclusive: true })).resolves.toMatchObject({ relPath: 'questions/edge/networking/edge-0101.yaml' });
    await expect(writeQuestion(vault, draft({ title: 'Another title' }), { exclusive: true })).rejects.toBeInstanceOf(CorpusFileError);
  });

  it('a QuestionWriter writes many files, one folder check each', async () => {
    const vault = freshVault();
    const w = new QuestionWriter(vault);
    const ids = Array.from({ length: 20 }, (_, i) => `edge-${String(200 + i).padStart(4, '0')}`);
    await Promise.all(ids.map((id) => w.write(draft({ id }))));
    expect(readdirSync(join(vault, 'questions/edge/networking')).sort()).toEqual(ids.map((id) => `${id}.yaml`));
  });

  it('reports a missing vault folder clearly', async () => {
    await expect(writeQuestion(join(tmp, 'no-such-vault'), draft())).rejects.toThrow(/vault folder does not exist/);
  });
});

describe('moveQuestion', () => {
  it('rewrites the file at its area folder, removes the old one and its emptied folder', async () => {
    const vault = freshVault();
    mkdirSync(join(vault, 'questions/edge/queueing-theory'), { recursive: true });
    const old = 'questions/edge/queueing-theory/edge-0101.yaml';
    writeFileSync(join(vault, old), serializeQuestion(draft({ competency_area: 'edge / queueing-theory' }), { keyOrder: 'preserve' }));
    const before = await loadQuestionFile(vault, old);
    const doc = { ...before.doc!, competency_area: 'networking' };
    const r = await moveQuestion(vault, old, doc, { keyOrder: 'preserve', expectedHash: before.fileHash });
    expect(r).toMatchObject({ from: old, moved: true, relPath: 'questions/edge/networking/edge-0101.yaml' });
    expect(existsSync(join(vault, old))).toBe(false);
    expect(existsSync(join(vault, 'questions/edge/queueing-theory'))).toBe(false);
    const after = await loadQuestionFile(vault, r.relPath);
    expect(Object.keys(after.doc!)).toEqual(Object.keys(before.doc!));
  });

  it('refuses when the file changed since it was read', async () => {
    const vault = freshVault();
    const r = await writeQuestion(vault, draft());
    await expect(moveQuestion(vault, r.relPath, draft({ competency_area: 'latency' }), { expectedHash: 'stale' })).rejects.toBeInstanceOf(CorpusFileError);
    expect(existsSync(r.absPath)).toBe(true);
  });
});
