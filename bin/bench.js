#!/usr/bin/env node
// `npm run bench -- <name> [flags]` runs bench/<name>.bench.ts; with no name, every benchmark in turn.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const all = readdirSync(benchDir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
// `--smoke`: every benchmark at a tiny size, to show in CI that each one still runs end to end
// and prints its ratios (the figures themselves mean nothing at that size).
// Each lists the ratio lines it must print, each with a measured number.
const N = String.raw`\d+(?:\.\d+)?`;
const SMOKE = {
  analyze: {
    args: ['--questions', '400', '--runs', '1', '--touch', '2'],
    ratios: [`baseline/cold: +${N}x`, `warm/cold, fresh process: ${N}%`, `warm/cold, same process, stat pass: ${N}%`, `warm/cold, same process, watchers: +${N}%`],
  },
  overhead: {
    args: ['--cells', '200', '--questions', '500'],
    ratios: [`generate stage / raw BullMQ throughput: ${N}x`, `whole iteration / raw BullMQ throughput: ${N}x`],
  },
  pipeline: {
    args: ['--latency', '50', '--gen-calls', '2', '--questions', '300'],
    ratios: [`ours vs ideal critical path: median ${N}x`, `original sequential schedule vs ours: median ${N}x faster`],
  },
  batch: {
    args: ['--cells', '40'],
    ratios: [`batch / live cost: ${N}x`, `batch \\+ caching / live cost: ${N}x`, `batch \\+ caching / live cost per accepted question: ${N}x`],
  },
  startup: {
    args: ['--runs', '2', '--questions', '300'],
    ratios: [`--help / node -e 0: ${N}x`, `status / node -e 0: ${N}x`, `warm/cold analyze, fresh process: ${N}%`],
  },
  scaling: { args: ['--latency', '50', '--cells', '8', '--questions', '300'], ratios: [`two workers vs one: ${N}x`] },
  prejudge: { args: ['--questions', '1000'], ratios: [`pre-judge / judge prompt build: ${N}x`, `LSH query vs full scan: ${N}x faster`] },
  // The base is this commit: the smoke shows the worktree, its npm ci and build, every workload and the cleanup run.
  revisions: {
    args: ['--base', 'HEAD', '--rounds', '1', '--questions', '300', '--pipeline-runs', '1', '--latency', '50'],
    ratios: [`--help new/old: ${N}x`, `status new/old: ${N}x`, `analyze warm new/old: ${N}x`, `pipeline new/old: ${N}x`],
  },
};
const [name, ...rest] = process.argv.slice(2);
if (name === '--help' || name === '-h') {
  console.log(`usage: npm run bench -- [${all.join('|')}] [flags]\nWith no name, runs every benchmark with its defaults.\nnpm run bench -- --smoke: every benchmark at a tiny size (CI checks they run; the figures mean nothing).`);
  process.exit(0);
}
if (name === '--smoke') {
  let bad = 0;
  for (const n of all) {
    const smoke = SMOKE[n];
    if (!smoke) {
      console.error(`bench: no smoke settings for "${n}" in bin/bench.js`);
      bad++;
      continue;
    }
    console.log(`\n=== bench ${n} (smoke: ${smoke.args.join(' ')}) ===`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, `${n}.bench.ts`), ...smoke.args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root, encoding: 'utf8' });
    process.stdout.write(r.stdout ?? '');
    // Each benchmark must end and print every one of its ratios with a number.
    const missing = smoke.ratios.filter((re) => !new RegExp(`^${re}`, 'm').test(r.stdout ?? ''));
    if (r.status !== 0 || missing.length > 0) {
      console.error(`bench: ${n} failed its smoke run (exit ${r.status})${missing.length ? `; no line matching: ${missing.join(' | ')}` : ''}`);
      bad++;
    }
  }
  process.exit(bad ? 1 : 0);
}
const names = name && !name.startsWith('-') ? [name] : all;
const args = name && !name.startsWith('-') ? rest : process.argv.slice(2);
let failed = 0;
for (const n of names) {
  if (!all.includes(n)) {
    console.error(`bench: no benchmark named "${n}"; known: ${all.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== bench ${n} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, `${n}.bench.ts`), ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
