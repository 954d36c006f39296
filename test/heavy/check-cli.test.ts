import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const files = join(root, 'test', 'fixtures', 'prejudge', 'files');
const cli = (args: string[], cwd = root) => spawnSync(process.execPath, [join(root, 'bin', 'vault-loop.js'), 'check', ...args], { cwd, encoding: 'utf8', timeout: 120_000 });

const tmp = mkdtempSync(join(tmpdir(), 'vault-check-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('vault-loop check', () => {
  it('prints one line per finding with path, line, severity and level, and exits 1 on an error', () => {
    const r = cli([join(files, 'good.yaml'), join(files, 'wrong-arithmetic.yaml'), join(files, 'unit-slip.yaml'), join(files, 'injection.yaml')]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/wrong-arithmetic\.yaml:\d+: error \[arithmetic, certain\]: arithmetic \(details\.napkin_math\): "4 ms \+ 12 ms \+ 3 ms = 21 ms"/);
    expect(r.stdout).toMatch(/unit-slip\.yaml:\d+: warning \[units, evidence\]/);
    expect(r.stdout).toMatch(/injection\.yaml:\d+: warning \[injection, evidence\]: prompt-injection attempt in scenario/);
    expect(r.stdout).not.toMatch(/good\.yaml/);
    expect(r.stdout).toMatch(/checked 4 files: 1 errors, 2 warnings, 0 notes/);
  });

  it('--fail-on: warnings pass at error and fail at warning; a clean file passes both', () => {
    expect(cli([join(files, 'unit-slip.yaml')]).status).toBe(0);
    expect(cli([join(files, 'unit-slip.yaml'), '--fail-on', 'warning']).status).toBe(1);
    expect(cli([join(files, 'good.yaml'), '--fail-on', 'warning']).status).toBe(0);
  });

  it('--json and --sarif (2.1.0 shape)', () => {
    const j = cli([join(files, 'wrong-arithmetic.yaml'), '--json']);
    const json = JSON.parse(j.stdout) as { checked: number; errors: number; findings: { severity: string; level: string; check: string; field: string }[] };
    expect(json).toMatchObject({ checked: 1, errors: 1 });
    expect(json.findings[0]).toMatchObject({ severity: 'error', level: 'certain', check: 'arithmetic', field: 'details.napkin_math' });
    const s = cli([join(files, 'injection.yaml'), join(files, 'wrong-arithmetic.yaml'), '--sarif']);
    const sarif = JSON.parse(s.stdout) as { version: string; $schema: string; runs: { tool: { driver: { name: string; rules: { id: string }[] } }; results: { ruleId: string; ruleIndex: number; level: string; message: { text: string }; locations: { physicalLocation: { artifactLocation: { uri: string }; region?: { startLine: number } } }[] }[] }[] };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.$schema).toMatch(/sarif-2\.1\.0/);
    const run = sarif.runs[0]!;
    expect(run.tool.driver.name).toBe('vault-loop check');
    expect(run.results.map((r) => [r.ruleId, r.level])).toEqual([
      ['injection', 'warning'],
      ['arithmetic', 'error'],
    ]);
    for (const res of run.results) {
      expect(run.tool.driver.rules[res.ruleIndex]!.id).toBe(res.ruleId);
      expect(res.message.text.length).toBeGreaterThan(0);
      expect(res.locations[0]!.physicalLocation.region!.startLine).toBeGreaterThan(0);
    }
    expect(s.status).toBe(1);
  });

  it('checks every question of a vault with --vault and no FILES; rejects --json with --sarif and no input', () => {
    const vault = join(tmp, 'vault');
    cpSync(files, join(vault, 'questions', 'cloud', 'memory'), { recursive: true });
    const r = cli(['--vault', vault, '--json']);
    const json = JSON.parse(r.stdout) as { checked: number; findings: { path: string; check: string }[] };
    expect(json.checked).toBe(4);
    expect(json.findings.some((f) => f.check === 'arithmetic' && f.path.endsWith('wrong-arithmetic.yaml'))).toBe(true);
    expect(cli(['--json', '--sarif', join(files, 'good.yaml')]).stderr).toMatch(/exclude each other/);
    expect(cli([]).stderr).toMatch(/give question FILES, or --vault DIR/);
  });
});
