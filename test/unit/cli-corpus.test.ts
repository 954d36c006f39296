/** validate, fix-areas and synth, run as the user runs them: the CLI in a child process. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AREA_REMAP } from '../../src/corpus/areas.js';
import { loadQuestionFile } from '../../src/corpus/loader.js';
import { serializeQuestion } from '../../src/corpus/writer.js';
import { FIXTURE_BAD_FILES, fixtureVaultDir, PROJECT_ROOT, synthetic1kDir } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-cli-corpus-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], { cwd: PROJECT_ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('vault-loop validate', () => {
  it('loads the fixture vault: errors in its three bad files only, warnings listed, exit 1', async () => {
    const r = await cli('validate', '--vault', fixtureVaultDir());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/validated 35 files: \d+ errors in 3 files, 1 warning\n$/);
    const errorFiles = new Set(r.stdout.split('\n').filter((l) => l.includes(': error: ')).map((l) => l.split(':')[0]));
    expect([...errorFiles].sort()).toEqual([...FIXTURE_BAD_FILES]);
    // Warnings (off-affinity pairs such as mobile-0305 L4/mastery) are listed, in path:line: form.
    expect(r.stdout).toMatch(/^questions\/mobile\/power\/mobile-0305\.yaml:4: warning: level L4 is outside zone mastery/m);
  });

  it('reports exactly the three bad files of synthetic-1k and exits 1', async () => {
    const r = await cli('validate', '--vault', synthetic1kDir());
    expect(r.code).toBe(1);
    const errorLines = r.stdout.split('\n').filter((l) => l.includes(': error: '));
    expect([...new Set(errorLines.map((l) => l.split(':')[0]))]).toEqual([
      'questions/cloud/cross-cutting/cloud-9000.yaml',
      'questions/cloud/cross-cutting/cloud-9001.yaml',
      'questions/cloud/cross-cutting/cloud-9002.yaml',
    ]);
    expect(errorLines).toContain("questions/cloud/cross-cutting/cloud-9000.yaml:1: error: Missing closing 'quote (the quote opened here is never closed)");
    expect(errorLines).toContain('questions/cloud/cross-cutting/cloud-9001.yaml: error: file is empty');
    const bad = errorLines.filter((l) => l.includes('cloud-9002'));
    expect(bad.some((l) => /cloud-9002\.yaml:4: error: level: expected one of L1, L2, L3, L4, L5, L6\+; found "L6"/.test(l))).toBe(true);
    expect(bad.some((l) => /cloud-9002\.yaml:5: error: zone: .* found "napkin"/.test(l))).toBe(true);
    expect(bad.some((l) => /cloud-9002\.yaml:7: error: competency_area: .* found "cloud \/ queueing-theory" \(normalizable to "latency"/.test(l))).toBe(true);
    expect(r.stdout).toMatch(/validated 1003 files: \d+ errors in 3 files, \d+ warnings\n$/);
  });

  it('--json --errors-only gives the same verdict as data', async () => {
    const r = await cli('validate', '--vault', synthetic1kDir(), '--json', '--errors-only');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { files: number; errorFiles: string[]; problems: { severity: string; line?: number; path: string }[] };
    expect(j.files).toBe(1003);
    expect(j.errorFiles).toHaveLength(3);
    expect(j.problems.every((p) => p.severity === 'error')).toBe(true);
  });

  it('refuses a folder that is not a vault, in one line', async () => {
    const r = await cli('validate', '--vault', join(tmp, 'nope'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('does not exist');
  });
});

describe('vault-loop synth', () => {
  it('writes the same bytes for the same seed, and the result validates', async () => {
    const [a, b] = [join(tmp, 'synth-a'), join(tmp, 'synth-b')];
    const [ra, rb] = await Promise.all([cli('synth', '--out', a, '--questions', '500', '--seed', 'abc'), cli('synth', '--out', b, '--questions', '500', '--seed', 'abc')]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code).toBe(0);
    expect(ra.stdout).toMatch(/^wrote 500 questions/);
    expect(treeDigest(a)).toEqual(treeDigest(b));
    const v = await cli('validate', '--vault', a);
    expect(v.code, v.stdout.slice(-2000)).toBe(0);
    expect(v.stdout).toMatch(/validated 500 files: 0 errors in 0 files/);
  });

  it('rejects bad input in one line', async () => {
    const r = await cli('synth', '--out', join(tmp, 'synth-bad'), '--questions', 'ten');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--questions expects a whole number');
    expect(existsSync(join(tmp, 'synth-bad'))).toBe(false);
  });
});

describe('vault-loop fix-areas', () => {
  /** Every malformed value of SEED-SPEC §8 (the unit test holds AREA_REMAP equal to it), plus general-rule forms. */
  const CASES: [string, string][] = [
    ...Object.entries(AREA_REMAP),
    ['cloud / Tail Latency', 'latency'],
    ['global/kv-cache-management', 'architecture'],
    ['Edge Memory', 'memory'],
    ['mastery', 'cross-cutting'],
    ['Speculative Decoding', 'optimization'],
  ];
  const UNMAPPABLE = 'serving stuff';
  let vault: string;
  const files: { rel: string; id: string; expected: string; keys: string[] }[] = [];

  function doc(id: string, area: string): Record<string, unknown> {
    return {
      schema_version: '1.0',
      id,
      track: 'cloud',
      level: 'L5',
      zone: 'design',
      topic: 'tail-latency',
      competency_area: area,
      title: 'A synthetic title',
      scenario: 'A synthetic scenario that is long enough to pass the schema.',
      details: { realistic_solution: 'r', napkin_math: '- 2 × 3 = 6.\n' },
      status: 'published',
      provenance: 'imported',
      // A key outside the generator's order, placed early: its place must survive the rewrite.
    validation_status: 'OK',
      human_reviewed: { status: 'not-reviewed', by: null, date: null, notes: null },
    };
  }

  beforeAll(() => {
    vault = join(tmp, 'fix');
    CASES.forEach(([value, expected], i) => {
      const id = `cloud-${String(i + 1).padStart(4, '0')}`;
      // Half in the old flat layout, half in the folder the generator's area put them in.
      const rel = i % 2 === 0 ? `questions/cloud/${id}.yaml` : `questions/cloud/cross-cutting/${id}.yaml`;
      const d = doc(id, value);
      mkdirSync(join(vault, rel, '..'), { recursive: true });
      writeFileSync(join(vault, rel), serializeQuestion(d, { keyOrder: 'preserve' }));
      files.push({ rel, id, expected, keys: Object.keys(d) });
    });
    writeFileSync(join(vault, 'questions/cloud/cloud-0999.yaml'), serializeQuestion(doc('cloud-0999', UNMAPPABLE), { keyOrder: 'preserve' }));
    // Mappable, but its file name disagrees with its id: blocked, never silently renamed.
    writeFileSync(join(vault, 'questions/cloud/cloud-0998.yaml'), serializeQuestion(doc('cloud-0997', 'Duty cycling'), { keyOrder: 'preserve' }));
  });

  it('--dry-run lists every change and the unmappable value, changes nothing, exits 1', async () => {
    const before = treeDigest(vault);
    const r = await cli('fix-areas', '--vault', vault, '--dry-run');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^path\s+old\s+new\s+rule\s+result/);
    for (const f of files) expect(r.stdout).toContain(f.rel);
    expect(r.stdout).toMatch(/cloud-0999\.yaml\s+serving stuff\s+-\s+-\s+unmappable/);
    expect(r.stdout).toMatch(/cloud-0998\.yaml\s+Duty cycling\s+power\s+remap\s+blocked: other errors \(id-mismatch\)/);
    expect(r.stdout).toContain(`would fix ${CASES.length} files; 1 unmappable, 1 blocked`);
    expect(treeDigest(vault)).toEqual(before);
  });

  it('rewrites each value, moves each file to its area folder keeping key order, and the vault then validates', async () => {
    const r = await cli('fix-areas', '--vault', vault);
    expect(r.code).toBe(1); // the unmappable one remains
    expect(r.stdout).toContain(`fixed ${CASES.length} files; 1 unmappable, 1 blocked`);
    expect(existsSync(join(vault, 'questions/cloud/cloud-0998.yaml'))).toBe(true);
    for (const f of files) {
      const dest = `questions/cloud/${f.expected}/${f.id}.yaml`;
      expect(existsSync(join(vault, f.rel)), f.rel).toBe(f.rel === dest);
      const loaded = await loadQuestionFile(vault, dest);
      expect(loaded.doc?.competency_area, dest).toBe(f.expected);
      expect(Object.keys(loaded.doc!)).toEqual(f.keys);
    }
    rmSync(join(vault, 'questions/cloud/cloud-0999.yaml'));
    rmSync(join(vault, 'questions/cloud/cloud-0998.yaml'));
    const v = await cli('validate', '--vault', vault, '--errors-only');
    expect(v.code, v.stdout).toBe(0);
    // Idempotent: nothing left to do.
    const again = await cli('fix-areas', '--vault', vault);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('fixed 0 files; 0 unmappable, 0 blocked\n');
  });
});
