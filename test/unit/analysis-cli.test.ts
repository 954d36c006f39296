import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claimReportDir } from '../../src/analysis/index.js';
import { PROJECT_ROOT, synthetic1kDir } from '../helpers/fixtures.js';
import { readReference } from '../helpers/reference-reports.js';

// A one-command program over the real `analyze` command module, run as a child process. (The full
// CLI registers every command; this keeps the test about this one.)
const ENTRY = `
import { Command } from 'commander';
import { register } from './src/cli/commands/analyze.ts';
import { reportFatal } from './src/cli/output.ts';
const program = new Command().exitOverride();
register(program);
try {
  await program.parseAsync(process.argv.slice(1), { from: 'user' });
} catch (e) {
  process.exitCode = typeof e?.code === 'string' && e.code.startsWith('commander.') ? e.exitCode || 2 : reportFatal(e);
}
`;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ENTRY, '--', ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vault-loop analyze (child process)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vl-analyze-cli-'));
  const vault = join(tmp, 'vault');
  cpSync(synthetic1kDir(), vault, { recursive: true });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes report.json + report.md into a new timestamped folder per run and prints the top 5s', () => {
    const a = cli('analyze', '--vault', vault, '--strategy', 'reference', '--total', '36');
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    for (const heading of ['Top 5 (track × area) gaps', 'Top 5 (track × zone × level) gaps', 'Visual archetype coverage', 'Recommended cells to fill: 36']) {
      expect(a.stdout).toContain(heading);
    }
    // Five rows under each top-5 heading: the report's first five, in order.
    const want5 = readReference('synthetic-1k', 'default.json') as unknown as {
      track_area_gaps: { track: string; area: string }[];
      track_zone_level_gaps: { track: string; zone: string; level: string }[];
    };
    const section = (heading: string) => a.stdout.slice(a.stdout.indexOf(heading)).split('\n\n')[0]!.split('\n').slice(3);
    const areaRows = section('Top 5 (track × area) gaps');
    expect(areaRows).toHaveLength(5);
    want5.track_area_gaps.slice(0, 5).forEach((r, i) => expect(areaRows[i]).toMatch(new RegExp(`^\\s*${r.track}\\s+${r.area}\\s`)));
    const zlRows = section('Top 5 (track × zone × level) gaps');
    expect(zlRows).toHaveLength(5);
    want5.track_zone_level_gaps.slice(0, 5).forEach((r, i) => expect(zlRows[i]).toMatch(new RegExp(`^\\s*${r.track}\\s+${r.zone}\\s+${r.level.replace('+', '\\+')}\\s`)));
    const b = cli('analyze', '--vault', vault, '--strategy', 'reference', '--total', '36');
    expect(b.code).toBe(0);
    const runs = readdirSync(join(vault, '_validation_results', 'coverage_gaps')).sort();
    expect(runs.length).toBe(2); // same second or not, never the same folder
    for (const run of runs) {
      expect(run).toMatch(/^\d{8}_\d{6}(_\d+)?$/);
      const report = JSON.parse(readFileSync(join(vault, '_validation_results', 'coverage_gaps', run, 'report.json'), 'utf8'));
      const want = readReference('synthetic-1k', 'default.json');
      expect(report.track_zone_level_gaps).toStrictEqual(want.track_zone_level_gaps);
      expect(report.recommended_plan).toStrictEqual(want.recommended_plan);
      const md = readFileSync(join(vault, '_validation_results', 'coverage_gaps', run, 'report.md'), 'utf8');
      expect(md.startsWith('# Coverage Gap Report\n\n*Generated: ')).toBe(true);
      expect(md).toContain('**Corpus state**: 1001 questions (875 published, 81 draft). **Visual**: 0 total, 0 published.');
      expect(md).toContain('| global | realization | L6+ | 0 | 0.5 | 3.15 | 3.15 |');
      expect(md).toContain('## Recommended generation plan (36 cells)');
      // The original's sections, in its order.
      const order = ['# Coverage Gap Report', '## Track distribution', '## Top 20 weakest (track × competency area) cells', '## Top 20 weakest (track × zone × level) cells', '## Visual archetype coverage', '## Recommended generation plan'].map((h) => md.indexOf(h));
      expect(order.every((i) => i >= 0)).toBe(true);
      expect([...order].sort((x, y) => x - y)).toEqual(order);
    }
    expect(existsSync(join(vault, '.vault-loop', 'analysis-index.bin'))).toBe(true);
  });

  it('--out writes exactly DIR/report.json and DIR/report.md (balanced by default)', () => {
    const out = join(tmp, 'out');
    const r = cli('analyze', '--vault', vault, '--out', out, '--total', '12', '--visual', '--include-areas', 'power, networking');
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['report.json', 'report.md']);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.strategy).toBe('balanced');
    expect(report.recommended_plan.length).toBe(12);
    expect(Object.keys(report)).toEqual(['generated_at', 'n_records', 'include_drafts', 'track_area_gaps', 'track_zone_level_gaps', 'visual_topic_counts', 'recommended_plan', 'strategy']);
  });

  it.each([
    [['--include-areas', 'parallelism,gpus'], /--include-areas: unknown area "gpus"; expected a comma-separated list of: compute, memory/],
    [['--total', 'many'], /--total: expected a non-negative whole number/],
    [['--off-affinity', '3'], /--off-affinity: expected "skip" or a factor/],
  ])('rejects bad input %j with one clear line', (extra, message) => {
    const r = cli('analyze', '--vault', vault, ...extra);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n').length).toBe(1);
  });

  it('rejects a folder without questions/', () => {
    const r = cli('analyze', '--vault', tmp + '/nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--vault: .*nope is not a folder/);
  });
});

describe('claimReportDir', () => {
  it('adds a suffix instead of reusing a folder from the same second', () => {
    const vault = mkdtempSync(join(tmpdir(), 'vl-claim-'));
    try {
      const at = new Date(Date.UTC(2026, 3, 25, 12, 34, 56));
      const dirs = [claimReportDir(vault, at), claimReportDir(vault, at), claimReportDir(vault, at)].map((d) => basename(d));
      expect(dirs).toEqual(['20260425_123456', '20260425_123456_2', '20260425_123456_3']);
    } finally {
      rmSync(vault, { recursive: true, force: true });
    }
  });
});
