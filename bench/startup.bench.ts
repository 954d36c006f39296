/**
 * CLI start-up against a bare Node, all measured in one run:
 * `npm run bench -- startup [--runs 15] [--questions 10000] [--keep]`.
 *
 * (a) `vault-loop --help` and (b) `vault-loop status` (the local Redis or REDIS_URL, a prefix of
 *     its own, so no runs: the list of runs is the path measured) against `node -e 0`. Each round
 *     runs the three in a rotated order, so load that comes and goes hits each side alike.
 *     Goals: --help ≤ 2×, status ≤ 3× (medians).
 * (c) `vault-loop analyze` of a synthetic vault in a fresh process: warm (the analysis index in
 *     place, 2 files edited since) against cold (no index). Goal: warm ≤ 25 % of cold (medians).
 *     Every cold run comes after the vault has been left alone for the racy window (RACY_MS), as a
 *     vault is on any day but the one it was copied: a file written within that window of a scan
 *     is not trusted by it and would be read again by the next warm run (the files written by the
 *     synthesizer, or edited by the round before). So each warm run reads exactly the 2 edited files.
 *     9 pairs by default (an odd count: the median is one pair's ratio).
 *
 * Wall time of whole processes (what a user waits for), from spawn to exit. The figure judged is
 * the median of the per-round ratios (each command against the `node -e 0` of its own round, run
 * next to it): on a shared machine the load drifts between rounds, and a ratio taken within one
 * round cancels most of that drift. Medians and minimums of the plain times are printed as well.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INDEX_DIR, listVaultQuestionFiles, RACY_MS } from '../src/analysis/index.js';
import { hasNativeStat } from '../src/analysis/stat-many.js';
import { benchVault, goal, intFlag, machineLine, median, timedProcess, touchFiles } from './support/index.js';
// @ts-expect-error -- a plain ESM script without types: the build the CLI runs from
import { build } from '../bin/build.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(root, 'bin', 'vault-loop.js');

const timed = (args: string[], label: string, out?: string[]): number => timedProcess(args, label, root, out);
const ms = (x: number): string => `${x.toFixed(0)} ms`;
const list = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');

async function main(): Promise<void> {
  const runs = Math.max(1, intFlag('runs', 15));
  const questions = intFlag('questions', 10000);
  const b = (await build({ ifStale: true })) as { built: boolean; ms: number };
  console.log(machineLine());
  console.log(b.built ? `built dist/cli first (${ms(b.ms)}): the sources had changed` : 'dist/cli is up to date with the sources');

  // (a) and (b): one round = the three commands, in an order that rotates between rounds.
  const prefix = `vlbench-startup-${randomBytes(4).toString('hex')}`;
  const cases: [string, string[]][] = [
    ['node -e 0', ['-e', '0']],
    ['vault-loop --help', [CLI, '--help']],
    ['vault-loop status', [CLI, 'status', '--prefix', prefix]],
  ];
  const times = cases.map(() => [] as number[]);
  for (const [name, args] of cases) timed(args, name); // warm the file cache; not counted
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < cases.length; k++) {
      const j = (i + k) % cases.length;
      times[j]!.push(timed(cases[j]![1], cases[j]![0]));
    }
  }
  const [base, help, status] = times as [number[], number[], number[]];
  for (const [k, [name]] of cases.entries()) console.log(`${name.padEnd(18)} median ${ms(median(times[k]!)).padStart(7)}, min ${ms(Math.min(...times[k]!)).padStart(7)}   [${list(times[k]!)}]`);
  const paired = (xs: number[]): number => median(xs.map((x, i) => x / base[i]!));
  const helpRatio = paired(help);
  const statusRatio = paired(status);
  const other = (xs: number[]): string => `median/median ${(median(xs) / median(base)).toFixed(2)}x, min/min ${(Math.min(...xs) / Math.min(...base)).toFixed(2)}x`;
  console.log(`--help / node -e 0: ${helpRatio.toFixed(2)}x (median of ${runs} rounds; ${other(help)}) ${goal(helpRatio <= 2, '≤ 2x')}`);
  console.log(`status / node -e 0: ${statusRatio.toFixed(2)}x (median of ${runs} rounds; ${other(status)}) ${goal(statusRatio <= 3, '≤ 3x')}`);

  // (c) analyze, cold and warm, each in a fresh CLI process.
  const vault = await benchVault('startup', questions);
  try {
    const out = join(vault.dir, '..', 'report');
    const analyze = [CLI, 'analyze', '--vault', vault.dir, '--out', out];
    const files = listVaultQuestionFiles(vault.dir);
    const cold: number[] = [];
    const warm: number[] = [];
    const warmOut: string[] = [];
    const aRuns = Math.max(1, Math.ceil(runs / 2)) | 1; // odd: the median is one pair, not the upper of two
    for (let i = 0; i < aRuns; i++) {
      await new Promise((r) => setTimeout(r, RACY_MS + 200));
      rmSync(join(vault.dir, INDEX_DIR), { recursive: true, force: true });
      cold.push(timed(analyze, 'vault-loop analyze (cold)'));
      touchFiles(vault.dir, files, i, 2);
      warm.push(timed(analyze, 'vault-loop analyze (warm)', warmOut));
    }
    console.log(`files stat'ed by ${hasNativeStat() ? 'the native addon (dist/native/stat-many.node)' : 'statSync, one by one (the native addon is not built here)'}`);
    console.log(`analyze, ${questions} questions: cold median ${ms(median(cold))} [${list(cold)}]; warm (2 files edited) median ${ms(median(warm))} [${list(warm)}]`);
    // What each warm run read again (the CLI's "N read" count): 2 when the index did its job.
    console.log(`warm runs re-read [${warmOut.map((o) => /, (\d+) read,/.exec(o)?.[1] ?? '?').join(', ')}] files`);
    // Each warm run follows its cold one: the same pairing as above.
    const warmShare = median(warm.map((w, i) => w / cold[i]!));
    console.log(`warm/cold analyze, fresh process: ${(warmShare * 100).toFixed(1)}% ${goal(warmShare <= 0.25, '≤ 25%')}`);
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept ${vault.dir}`);
    else vault.remove();
  }
}

await main();
