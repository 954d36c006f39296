import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fg from 'fast-glob';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { PromoteRow } from '../../src/release/index.js';
import { promoteRun } from '../../src/services/promote.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'release-promote-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const NOW = new Date('2026-04-25T23:59:00Z');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A draft as the loop writes it (generator key order). */
function draftText(id: string, status = 'draft', level = 'L3'): string {
  return stringify({
    schema_version: '1.0',
    id,
    track: 'edge',
    level,
    zone: 'analyze',
    topic: 'tail-latency',
    competency_area: 'latency',
    title: `Synthetic ${id}`,
    scenario: `A synthetic service for ${id} sees p99 of 40 ms at 100 rps; the SLO is 50 ms.`,
    details: { realistic_solution: 'Headroom is 10 ms.', napkin_math: '- 50 - 40 = 10 ms' },
    status,
    provenance: 'llm-draft',
    validated: false,
    math_verified: false,
    tags: ['vault-loop-generated'],
    created_at: '2026-04-24',
  });
}

interface Judged {
  id: string;
  verdict: 'PASS' | 'NEEDS_FIX' | 'DROP';
  path?: string;
  arithmetic?: 'passed' | 'failed' | 'not-run';
  model?: string;
  hash?: string;
}

let vault: string;
const rel = (id: string) => `questions/edge/latency/${id}.yaml`;
function writeDraft(id: string, status = 'draft', level = 'L3'): string {
  const p = join(vault, rel(id));
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, draftText(id, status, level));
  return sha(readFileSync(p));
}
function writeRun(runId: string, startedAt: string, iters: Judged[][]): void {
  const dir = join(vault, '_validation_results', 'coverage_loop', runId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ run_id: runId, vault, started_at: startedAt, status: 'done', judge: { provider: 'offline', model: 'run-judge' } }));
  iters.forEach((items, n) => {
    const it = join(dir, `iter_${String(n).padStart(2, '0')}`);
    mkdirSync(it, { recursive: true });
    const details = items.map((j) => ({
      id: j.id,
      path: j.path ?? rel(j.id),
      file_hash: j.hash ?? sha(readFileSync(join(vault, rel(j.id)))),
      verdict: j.verdict,
      criteria: { math_correct: true, cell_fit: true, scenario_realism: true, uniqueness: true, visual_alignment: true },
      issues: [],
      fix_suggestion: '',
      ...(j.model ? { model: j.model } : {}),
      checks: { arithmetic: j.arithmetic ?? 'not-run', findings: [] },
    }));
    writeFileSync(join(it, 'judge_summary.json'), JSON.stringify({ model: 'summary-judge', n_items: details.length, details, unjudged: [] }));
  });
}
function snapshot(): Map<string, string> {
  const files = fg.sync('**/*', { cwd: vault, onlyFiles: true, dot: true });
  return new Map(files.map((f) => [f, sha(readFileSync(join(vault, f)))]));
}
const doc = (id: string, path = rel(id)) => parse(readFileSync(join(vault, path), 'utf8')) as Record<string, unknown>;
const resultOf = (rows: PromoteRow[]) => Object.fromEntries(rows.map((r) => [r.id, r.result]));

beforeEach(() => {
  vault = mkdtempSync(join(tmp, 'vault-'));
  for (const id of ['edge-0001', 'edge-0002', 'edge-0003', 'edge-0004', 'edge-0005', 'edge-0007', 'edge-0008', 'edge-0009', 'edge-0010', 'edge-0011']) writeDraft(id);
  writeDraft('edge-0006', 'published');
  writeDraft('edge-0012', 'draft', 'L9');
  const outside = sha('x');
  writeRun('20260424_090000', '2026-04-24T09:00:00Z', [[{ id: 'edge-0010', verdict: 'PASS' }]]);
  writeRun('20260425_080000', '2026-04-25T08:00:00Z', [
    [
      { id: 'edge-0001', verdict: 'PASS', arithmetic: 'passed', model: 'judge-model-x' },
      { id: 'edge-0002', verdict: 'PASS' },
      { id: 'edge-0003', verdict: 'NEEDS_FIX' },
      { id: 'edge-0004', verdict: 'DROP' },
      { id: 'edge-0005', verdict: 'PASS' },
      { id: 'edge-0006', verdict: 'PASS' },
      { id: 'edge-0007', verdict: 'PASS' },
      { id: 'edge-0009', verdict: 'PASS' },
      { id: 'edge-0012', verdict: 'PASS' },
      { id: 'edge-0011', verdict: 'PASS', path: '../outside/edge-0011.yaml', hash: outside },
    ],
    [
      { id: 'edge-0007', verdict: 'NEEDS_FIX' },
      { id: 'edge-0008', verdict: 'PASS', arithmetic: 'failed' },
    ],
  ]);
  // After judging: edge-0002 is edited, edge-0005 is deleted, edge-0009 moves to another area folder.
  writeFileSync(join(vault, rel('edge-0002')), draftText('edge-0002').replace('Headroom is 10 ms.', 'Headroom is 10 ms (edited).'));
  rmSync(join(vault, rel('edge-0005')));
  mkdirSync(join(vault, 'questions/edge/reliability'), { recursive: true });
  renameSync(join(vault, rel('edge-0009')), join(vault, 'questions/edge/reliability/edge-0009.yaml'));
  // The older run is touched last: choosing by mtime would pick it.
  const future = new Date(Date.now() + 3600_000);
  utimesSync(join(vault, '_validation_results/coverage_loop/20260424_090000'), future, future);
});

describe('promote', () => {
  it('publishes exactly the PASS drafts of every run not promoted yet whose files are unchanged', async () => {
    const report = await promoteRun(vault, { now: NOW });
    expect(report.run.runId).toBe('20260425_080000');
    // Both runs, oldest first: the older run's PASS drafts are not silently left behind.
    expect(report.runs.map((r) => r.runId)).toEqual(['20260424_090000', '20260425_080000']);
    expect(report.skippedRuns).toEqual([]);
    expect(resultOf(report.rows)).toEqual({
      'edge-0010': 'promoted',
      'edge-0001': 'promoted',
      'edge-0002': 'skipped: changed since judged',
      'edge-0005': 'missing',
      'edge-0006': 'skipped: not a draft',
      'edge-0008': 'promoted',
      'edge-0009': 'promoted',
      'edge-0011': 'skipped: unsafe path',
      'edge-0012': 'skipped: invalid',
    });
    expect(report.notPass).toEqual({ NEEDS_FIX: 2, DROP: 1 });
    expect(report.rows.find((r) => r.id === 'edge-0009')!.path).toBe('questions/edge/reliability/edge-0009.yaml');

    const d1 = doc('edge-0001');
    expect(d1).toMatchObject({
      status: 'published',
      validated: true,
      validation_status: 'passed',
      validation_model: 'judge-model-x',
      validation_date: '2026-04-25',
      math_verified: true,
      math_status: 'CORRECT',
      math_model: 'vault-loop arithmetic check',
    });
    // Existing keys stay where they were; new keys come after the last original key.
    const keys = Object.keys(d1);
    expect(keys.slice(0, 16)).toEqual(Object.keys(parse(draftText('edge-0001'))));
    expect(keys.slice(16)).toEqual(['validation_status', 'validation_model', 'validation_date', 'math_status', 'math_model', 'math_date']);
    const text1 = readFileSync(join(vault, rel('edge-0001')), 'utf8');
    expect(text1.startsWith('schema_version: \'1.0\'\nid: edge-0001\n')).toBe(true);
    expect(text1).toContain("validation_date: '2026-04-25'");

    // Arithmetic failed: published, but math stays unverified; model from the summary.
    expect(doc('edge-0008')).toMatchObject({ status: 'published', math_verified: false, validation_model: 'summary-judge' });
    expect(doc('edge-0008')).not.toHaveProperty('math_status');
    // Untouched: edited, NEEDS_FIX (latest verdict), DROP, invalid.
    for (const id of ['edge-0002', 'edge-0003', 'edge-0004', 'edge-0007', 'edge-0012']) expect(doc(id).status, id).toBe('draft');
    expect(doc('edge-0010').status).toBe('published');
    expect(readFileSync(join(vault, rel('edge-0002')), 'utf8')).toContain('(edited)');
  });

  it('changes nothing when run a second time: promoted runs are skipped, and say so', async () => {
    await promoteRun(vault, { now: NOW });
    const before = snapshot();
    const again = await promoteRun(vault, { now: new Date('2026-05-01T00:00:00Z') });
    expect(again.runs).toEqual([]);
    expect(again.rows).toEqual([]);
    expect(again.skippedRuns.map((r) => r.runId)).toEqual(['20260424_090000', '20260425_080000']);
    expect(again.skippedRuns[0]!.reason).toMatch(/^already promoted \(2026-04-25T.*\); promote it again with --run 20260424_090000$/);
    // With --run it is read again: every PASS draft is published already.
    const one = await promoteRun(vault, { runId: '20260425_080000', now: new Date('2026-05-01T00:00:00Z') });
    expect(one.rows.filter((r) => r.result === 'promoted')).toEqual([]);
    expect(resultOf(one.rows)['edge-0001']).toBe('skipped: not a draft');
    expect(snapshot()).toEqual(before);
  });

  it('writes nothing with dryRun, and --run picks an older run', async () => {
    const before = snapshot();
    const dry = await promoteRun(vault, { dryRun: true, now: NOW });
    expect(dry.rows.filter((r) => r.result === 'promoted').map((r) => r.id)).toEqual(['edge-0001', 'edge-0008', 'edge-0009', 'edge-0010']);
    expect(snapshot()).toEqual(before);

    const old = await promoteRun(vault, { runId: '20260424_090000', now: NOW });
    expect(resultOf(old.rows)).toEqual({ 'edge-0010': 'promoted' });
    expect(doc('edge-0010')).toMatchObject({ status: 'published', validation_model: 'summary-judge', math_verified: false });
    expect(doc('edge-0001').status).toBe('draft');
  });

  it('fails in one line on a broken record or an unknown run', async () => {
    const bad = join(vault, '_validation_results/coverage_loop/20260425_080000/iter_01/judge_summary.json');
    writeFileSync(bad, JSON.stringify({ details: [{ id: 'edge-0001', path: rel('edge-0001'), file_hash: 'nothex', verdict: 'PASS' }] }));
    await expect(promoteRun(vault, { now: NOW })).rejects.toThrow(/iter_01\/judge_summary\.json: at details\.0\.file_hash: expected a sha256 hex digest/);
    await expect(promoteRun(vault, { runId: '20990101_000000' })).rejects.toThrow(/run\.json.*no such run/);
  });

  it('prints a table from the CLI', () => {
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), 'promote', '--vault', vault, '--dry-run'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('run 20260425_080000');
    expect(r.stdout).toMatch(/edge-0002\s+skipped: changed since judged/);
    expect(r.stdout).toMatch(/edge-0001\s+promoted\s+verified/);
    expect(r.stdout).toContain('run 20260424_090000');
    expect(r.stdout).toContain('would promote 4 of 9 PASS drafts; not promoted by verdict: 2 NEEDS_FIX, 1 DROP; skipped 5 (see the result column)');
    expect(doc('edge-0001').status).toBe('draft');
    const bad = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), 'promote', '--vault', vault, '--run', '../x'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('vault-loop: --run ../x: expected a run folder name such as 20260425_101500');
  });
});
