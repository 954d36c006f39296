#!/usr/bin/env node
/**
 * `npm run test:slowest [-- vitest args]`: runs a suite with vitest's JSON reporter and prints its ten
 * slowest test files (wall time from the first test's start to the last test's end), then the total.
 * Extra arguments go to vitest: `npm run test:slowest -- --config vitest.heavy.config.ts`.
 * Exits with vitest's exit code.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test-artifacts', 'vitest-times.json');
mkdirSync(dirname(out), { recursive: true });
const started = Date.now();
const run = spawnSync(join(root, 'node_modules', '.bin', 'vitest'), ['run', '--reporter=json', `--outputFile=${out}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const wall = (Date.now() - started) / 1000;
let report;
try {
  report = JSON.parse(readFileSync(out, 'utf8'));
} catch {
  process.stderr.write(`test:slowest: vitest wrote no report to ${out} (exit ${run.status})\n`);
  process.exit(run.status || 1);
}
const files = report.testResults.map((f) => ({
  file: relative(root, f.name),
  seconds: (f.endTime - f.startTime) / 1000,
  tests: f.assertionResults.length,
  failed: f.assertionResults.filter((a) => a.status === 'failed').length,
}));
files.sort((a, b) => b.seconds - a.seconds);
const pad = (s, n) => String(s).padStart(n);
process.stdout.write('ten slowest test files (seconds, tests):\n');
for (const f of files.slice(0, 10)) process.stdout.write(`${pad(f.seconds.toFixed(1), 7)}  ${pad(f.tests, 3)}  ${f.file}${f.failed ? `  (${f.failed} failed)` : ''}\n`);
process.stdout.write(`${files.length} files, ${report.numTotalTests} tests, ${report.numFailedTests} failed; ${wall.toFixed(0)} s wall\n`);
process.exit(run.status ?? 1);
