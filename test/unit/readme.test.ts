/** The README stays true: its configuration table is the schema's, its commands exist. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configTableMarkdown } from '../../src/config/docs.js';
import { buildProgram } from '../../src/cli/program.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('has the configuration table generated from the schema (run the generator after changing src/config)', () => {
    const between = readme.slice(readme.indexOf('<!-- config-table -->') + '<!-- config-table -->\n'.length, readme.indexOf('<!-- /config-table -->')).trimEnd();
    expect(between).toBe(configTableMarkdown());
  });

  it('gives exactly the two commands on its first screen', () => {
    const firstScreen = readme.split('\n').slice(0, 15).join('\n');
    expect(firstScreen).toContain('npm ci && npm run demo');
    expect(firstScreen).toContain('npm test');
  });

  it('has a benchmark table row, with a measured ratio and the machine, for every benchmark under bench/', () => {
    const section = readme.slice(readme.indexOf('## Benchmarks'), readme.indexOf('\n## ', readme.indexOf('## Benchmarks') + 1));
    expect(section).toMatch(/Figures from this \d-core machine \([^)]+\)/);
    const benches = readdirSync(join(PROJECT_ROOT, 'bench')).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, ''));
    expect(benches.length).toBeGreaterThanOrEqual(4);
    for (const b of benches) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${b}`));
      expect(row, `README has no benchmark row for bench/${b}.bench.ts`).toBeDefined();
      expect(row, b).toMatch(/\*\*[\d.,]+ ?(×|%)\*\*/);
    }
  });

  it('names only commands the CLI has', () => {
    const known = new Set(buildProgram().commands.map((c) => c.name()));
    for (const c of ['run', 'worker', 'status', 'stop', 'pause', 'resume', 'retry', 'analyze', 'validate', 'fix-areas', 'synth', 'render', 'promote', 'manifest', 'export', 'dashboard', 'demo']) {
      expect(known.has(c), c).toBe(true);
    }
  });
});
