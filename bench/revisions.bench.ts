/**
 * This tree against an earlier revision, the same workloads measured on both in one run:
 * `npm run bench -- revisions [--base 0608837] [--rounds 5] [--questions 10000] [--pipeline-runs 3]
 * [--latency 300] [--keep]`.
 *
 * The base revision (default 0608837, the last commit before the core re-cut of #15 began) is
 * checked out in a temporary `git worktree` with its own `npm ci --prefer-offline` (whose
 * `prepare` script builds its dist/). Then, round by round, each workload runs on both trees in
 * alternating order, so load that comes and goes hits both alike:
 *   - startup: `vault-loop --help` and `vault-loop status` (a fresh prefix: no runs), and a bare
 *     `node -e 0` beside them;
 *   - analyze: a synthetic vault (one copy per tree, so neither reads the other's index), cold
 *     (no index) and warm (the index in place, 2 files edited), each in a fresh process;
 *   - pipeline: one iteration as `npm run bench -- pipeline` runs it (each tree's own
 *     bench/pipeline.bench.ts), judged by its wall time over the ideal critical path.
 * Each figure is the median of the per-round ratios new/old. A ratio counts as worse beyond
 * noise when its median is above 1 by more than the noise: half the spread between the lower
 * and upper quartile of its per-round ratios, at least 5 %.
 *
 * Cleans up after itself, also on failure: the worktree (git worktree remove), the vault copies,
 * and the keys of its Redis prefix (the pipeline runs delete theirs themselves).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INDEX_DIR, listVaultQuestionFiles } from '../src/analysis/index.js';
import { benchRedis, benchVault, flag, intFlag, machineLine, median, table, timedProcess, touchFiles } from './support/index.js';
// @ts-expect-error -- a plain ESM script without types: the build the CLI runs from
import { build } from '../bin/build.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The last commit before "Move the corpus host to src/host", the first step of the #15 re-cut. */
const DEFAULT_BASE = '0608837';
/** The smallest margin a ratio must clear to count as worse: rounds on a shared machine differ by a few percent. */
const MIN_NOISE = 0.05;

interface Tree {
  name: 'new' | 'old';
  dir: string;
  cli: string;
  vault: string;
}

/** A command that must succeed; its output is returned (and shown in the error when it fails). */
function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${`${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n')}`);
  return r.stdout;
}

const quartile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** The verdict on one series of per-round new/old ratios. */
function verdict(ratios: number[]): { median: number; noise: number; worse: boolean } {
  const m = median(ratios);
  const noise = Math.max(MIN_NOISE, (quartile(ratios, 0.75) - quartile(ratios, 0.25)) / 2);
  return { median: m, noise, worse: m - 1 > noise };
}

/** One pipeline iteration on a tree, as its own bench/pipeline.bench.ts runs it: wall over ideal. */
function pipelineRatio(tree: Tree, latency: number, questions: number): number {
  const out = run(process.execPath, ['--import', 'tsx', join(tree.dir, 'bench', 'pipeline.bench.ts'), '--runs', '1', '--latency', String(latency), '--questions', String(questions)], tree.dir);
  const m = /^ours vs ideal critical path: median (\d+(?:\.\d+)?)x/m.exec(out);
  if (!m) throw new Error(`the ${tree.name} tree's pipeline benchmark printed no "ours vs ideal critical path" line:\n${out.split('\n').slice(-10).join('\n')}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const base = flag('base', DEFAULT_BASE);
  const rounds = Math.max(1, intFlag('rounds', 5));
  const questions = intFlag('questions', 10000);
  const pipelineRuns = intFlag('pipeline-runs', 3);
  const latency = intFlag('latency', 300);
  const keep = process.argv.includes('--keep');
  const rev = run('git', ['rev-parse', '--short', `${base}^{commit}`], root).trim();
  const head = run('git', ['rev-parse', '--short', 'HEAD'], root).trim();
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no'], root).trim() !== '';
  console.log(machineLine());
  console.log(`new: this tree (${head}${dirty ? ' with uncommitted changes' : ''}); old: ${base} (${rev}); ${rounds} rounds, analyze on ${questions} questions, ${pipelineRuns} pipeline run(s) per tree at ${latency} ms per call`);

  const tmp = mkdtempSync(join(tmpdir(), 'vl-bench-revisions-'));
  const oldDir = join(tmp, 'old');
  const redis = await benchRedis('revisions');
  let worktree = false;
  const cleanup = (): void => {
    if (worktree && !keep) {
      spawnSync('git', ['worktree', 'remove', '--force', oldDir], { cwd: root, stdio: 'ignore' });
      spawnSync('git', ['worktree', 'prune'], { cwd: root, stdio: 'ignore' });
      worktree = false;
    }
    if (!keep) rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let t0 = performance.now();
    run('git', ['worktree', 'add', '--detach', oldDir, rev], root);
    worktree = true;
    run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], oldDir);
    console.log(`old tree: worktree, npm ci and build in ${((performance.now() - t0) / 1000).toFixed(1)} s (${oldDir})`);
    t0 = performance.now();
    const b = (await build({ ifStale: true })) as { built: boolean };
    if (b.built) console.log(`new tree: built dist/cli first (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    const vault = await benchVault('revisions', questions);
    const oldVault = join(tmp, 'vault-old');
    try {
      cpSync(vault.dir, oldVault, { recursive: true });
      const trees: Tree[] = [
        { name: 'new', dir: root, cli: join(root, 'bin', 'vault-loop.js'), vault: vault.dir },
        { name: 'old', dir: oldDir, cli: join(oldDir, 'bin', 'vault-loop.js'), vault: oldVault },
      ];
      const files = listVaultQuestionFiles(vault.dir);

      // Startup and analyze, round by round; within a round the order rotates.
      const series = new Map<string, { new: number[]; old: number[] }>();
      const add = (name: string, tree: Tree, ms: number): void => {
        const s = series.get(name) ?? { new: [], old: [] };
        s[tree.name].push(ms);
        series.set(name, s);
      };
      const nodeMs: number[] = [];
      for (const t of trees) timedProcess([t.cli, 'status', '--prefix', redis.prefix], `${t.name} status`, t.dir); // warm the file cache; not counted
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? trees : [...trees].reverse();
        nodeMs.push(timedProcess(['-e', '0'], 'node -e 0', root));
        for (const t of order) add('--help', t, timedProcess([t.cli, '--help'], `${t.name} --help`, t.dir));
        for (const t of [...order].reverse()) add('status', t, timedProcess([t.cli, 'status', '--prefix', redis.prefix], `${t.name} status`, t.dir));
        for (const t of order) {
          const analyze = [t.cli, 'analyze', '--vault', t.vault, '--out', join(tmp, `report-${t.name}`)];
          rmSync(join(t.vault, INDEX_DIR), { recursive: true, force: true });
          add('analyze cold', t, timedProcess(analyze, `${t.name} analyze (cold)`, t.dir));
          touchFiles(t.vault, files, i, 2);
          add('analyze warm', t, timedProcess(analyze, `${t.name} analyze (warm)`, t.dir));
        }
      }
      // The pipeline iteration: each run synthesizes its own vault and Redis prefix.
      const pipe = { new: [] as number[], old: [] as number[] };
      for (let i = 0; i < pipelineRuns; i++) {
        for (const t of i % 2 === 0 ? trees : [...trees].reverse()) pipe[t.name].push(pipelineRatio(t, latency, 1000));
      }

      const rows: (string | number)[][] = [];
      const verdicts: { name: string; v: ReturnType<typeof verdict> }[] = [];
      const ms = (xs: number[]): string => `${median(xs).toFixed(0)} ms`;
      for (const [name, s] of series) {
        const v = verdict(s.new.map((x, k) => x / s.old[k]!));
        verdicts.push({ name, v });
        rows.push([name, ms(s.old), ms(s.new), `${v.median.toFixed(3)}x`, `±${(v.noise * 100).toFixed(1)}%`, v.worse ? 'WORSE' : 'not worse']);
      }
      // Also the figures the goals are stated in, per tree: each against its own round's `node -e 0`, and warm as a share of cold.
      const share = (t: 'new' | 'old'): number => median(series.get('analyze warm')![t].map((w, k) => w / series.get('analyze cold')![t][k]!));
      const overNode = (name: string, t: 'new' | 'old'): number => median(series.get(name)![t].map((x, k) => x / nodeMs[k]!));
      const sv = verdict(series.get('analyze warm')!.new.map((w, k) => w / series.get('analyze cold')!.new[k]! / (series.get('analyze warm')!.old[k]! / series.get('analyze cold')!.old[k]!)));
      verdicts.push({ name: 'warm/cold share', v: sv });
      rows.push(['warm/cold share', `${(share('old') * 100).toFixed(1)}%`, `${(share('new') * 100).toFixed(1)}%`, `${sv.median.toFixed(3)}x`, `±${(sv.noise * 100).toFixed(1)}%`, sv.worse ? 'WORSE' : 'not worse']);
      if (pipelineRuns > 0) {
        const pv = verdict(pipe.new.map((x, k) => x / pipe.old[k]!));
        verdicts.push({ name: 'pipeline', v: pv });
        rows.push(['pipeline: wall / ideal', `${median(pipe.old).toFixed(2)}x`, `${median(pipe.new).toFixed(2)}x`, `${pv.median.toFixed(3)}x`, `±${(pv.noise * 100).toFixed(1)}%`, pv.worse ? 'WORSE' : 'not worse']);
      }
      console.log('');
      console.log(table(['workload', `old (${rev})`, 'new', 'new/old (median of rounds)', 'noise', 'verdict'], rows));
      console.log(`node -e 0: median ${ms(nodeMs)}; --help / node -e 0: old ${overNode('--help', 'old').toFixed(2)}x, new ${overNode('--help', 'new').toFixed(2)}x; status / node -e 0: old ${overNode('status', 'old').toFixed(2)}x, new ${overNode('status', 'new').toFixed(2)}x`);
      for (const { name, v } of verdicts) console.log(`${name} new/old: ${v.median.toFixed(3)}x (noise ±${(v.noise * 100).toFixed(1)}%) ${v.worse ? 'worse beyond noise' : 'not worse beyond noise'}`);
      const worse = verdicts.filter((x) => x.v.worse).map((x) => x.name);
      console.log(worse.length ? `worse beyond noise: ${worse.join(', ')}` : 'no ratio worse beyond noise');
    } finally {
      vault.remove();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const n = await redis.cleanup();
    cleanup();
    console.log(keep ? `kept ${tmp}` : `cleaned up: the worktree ${oldDir}, the vaults, ${n} Redis key(s) under ${redis.prefix}`);
  }
}

await main();
