/**
 * Analyzer speed on a synthetic vault: `npm run bench -- analyze [--questions 10000] [--runs 3] [--keep]`.
 *
 * (a) baseline: the original's loading loop (PyYAML safe_load over questions/**\/*.yaml), timed
 *     inside python3 so interpreter start-up is not counted against it;
 * (b) cold: analyzeVault with no index, in a fresh Node process (what a CLI call pays, minus
 *     module loading), including writing the index;
 * (c) warm, fresh process (the CLI case): after touching a few files, with the index in place;
 * (d) warm, same process (the corpus host case): one process keeps its VaultAnalyzer between
 *     analyses (touching a few files before each): (d1) with the stat pass over every file,
 *     (d2) with directory watchers (analyzeVault's default), so only the folder stats and the
 *     files named by events are paid.
 * Goals: baseline/cold ≥ 10×, warm/cold < 5%. Both sides must agree on n_records.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fg from 'fast-glob';
import { analyzeVault, INDEX_DIR, listVaultQuestionFiles, VaultAnalyzer } from '../src/analysis/index.js';
import { median, touchFiles } from './support/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

/** Child mode: one timed analysis, printed as JSON. */
async function child(vault: string): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const { report, stats } = await analyzeVault(vault, { strategy: 'reference', total: 36 });
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, cpuMs: cpuMs(c0), n: report.n_records, read: stats.read, fast: stats.fastPath, fromIndex: stats.fromIndex, index: stats.index }));
}

/** User + system CPU ms since `c0`: on a shared, loaded machine wall time swings 2-3x, CPU time far less. */
const cpuMs = (c0: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};

/**
 * Host mode: one process, one VaultAnalyzer, `runs` warm analyses with `touch` files edited before
 * each (the first call loads the index file and is not counted).
 */
async function host(vault: string, runs: number, touch: number, watch: boolean): Promise<void> {
  const a = new VaultAnalyzer(vault, { watch });
  await a.analyze({ strategy: 'reference', total: 36 });
  await a.analyze({ strategy: 'reference', total: 36 }); // a new watcher trusts its events from the next call on
  const files = listVaultQuestionFiles(vault);
  const out: HostRun[] = [];
  for (let i = 0; i < runs; i++) {
    touchFiles(vault, files, 100 + i, touch);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const { report, stats } = await a.analyze({ strategy: 'reference', total: 36 });
    out.push({ ms: performance.now() - t0, cpuMs: cpuMs(c0), n: report.n_records, read: stats.read, fromIndex: stats.fromIndex, index: stats.index, watch: stats.watch });
  }
  a.close();
  process.stdout.write(JSON.stringify(out));
}

interface HostRun {
  ms: number;
  cpuMs: number;
  n: number;
  read: number;
  fromIndex: number;
  index: string;
  watch: string;
}

/** Copies synthetic-1k round-robin when src/corpus's synthesizeVault is not available. */
function ownGenerator(out: string, n: number): void {
  const src = join(root, 'test', 'fixtures', 'synthetic-1k');
  const files = fg.sync('questions/**/*-[0-8]???.yaml', { cwd: src }).sort();
  for (let i = 0; i < n; i++) {
    const rel = files[i % files.length]!;
    const dest = join(out, rel.replace(/\.yaml$/, `-${String(i).padStart(5, '0')}.yaml`));
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(join(src, rel), dest);
  }
}

async function makeVault(n: number): Promise<{ dir: string; generator: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vl-bench-analyze-'));
  let generator = 'synthesizeVault (src/corpus)';
  try {
    const corpus = (await import('../src/corpus/index.js')) as { synthesizeVault?: (o: { outDir: string; questions: number; seed: number }) => Promise<unknown> };
    if (!corpus.synthesizeVault) throw new Error('synthesizeVault not exported');
    await corpus.synthesizeVault({ outDir: dir, questions: n, seed: 1 });
  } catch (e) {
    generator = `bench copy of synthetic-1k (synthesizeVault unavailable: ${(e as Error).message.split('\n')[0]})`;
    rmSync(join(dir, 'questions'), { recursive: true, force: true });
    ownGenerator(dir, n);
  }
  // The three files a loader must survive, so both sides are checked on what they skip.
  const special = join(root, 'test', 'fixtures', 'synthetic-1k', 'questions', 'cloud', 'cross-cutting');
  mkdirSync(join(dir, 'questions', 'cloud', 'cross-cutting'), { recursive: true });
  for (const f of ['cloud-9000.yaml', 'cloud-9001.yaml', 'cloud-9002.yaml']) copyFileSync(join(special, f), join(dir, 'questions', 'cloud', 'cross-cutting', `bench-${f}`));
  return { dir, generator };
}

const PY_BASELINE = `
import sys, time, yaml
from pathlib import Path
q = Path(sys.argv[1]) / "questions"
t0 = time.perf_counter()
out = []
for path in q.glob("**/*.yaml"):
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:
        continue
    if not d:
        continue
    out.append(d)
print(time.perf_counter() - t0, len(out))
`;

function runChild(vault: string): { ms: number; cpuMs: number; n: number; read: number; fast: number; fromIndex: number; index: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', vault], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ReturnType<typeof runChild>;
}

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--child');
  if (ci >= 0) return child(process.argv[ci + 1]!);
  const hi = process.argv.indexOf('--host');
  if (hi >= 0) return host(process.argv[hi + 1]!, Number(flag('runs', '3')), Number(flag('touch', '5')), flag('watch', '0') === '1');

  const n = Number(flag('questions', '10000'));
  const runs = Number(flag('runs', '3'));
  const touch = Number(flag('touch', '5'));
  const { dir, generator } = await makeVault(n);
  console.log(`vault: ${dir} (${n} questions + 3 odd files; ${generator})`);
  try {
    const py = spawnSync('python3', ['-c', PY_BASELINE, dir], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`python3 baseline failed (needs PyYAML): ${py.stderr}`);
    const [pySeconds, pyRecords] = py.stdout.trim().split(/\s+/).map(Number) as [number, number];

    const cold: number[] = [];
    const coldCpu: number[] = [];
    let coldInfo: ReturnType<typeof runChild> | undefined;
    for (let i = 0; i < runs; i++) {
      rmSync(join(dir, INDEX_DIR), { recursive: true, force: true });
      coldInfo = runChild(dir);
      cold.push(coldInfo.ms);
      coldCpu.push(coldInfo.cpuMs);
    }
    const files = listVaultQuestionFiles(dir);
    const warm: number[] = [];
    const warmInfo: ReturnType<typeof runChild>[] = [];
    for (let i = 0; i < runs; i++) {
      touchFiles(dir, files, i, touch);
      warmInfo.push(runChild(dir));
      warm.push(warmInfo.at(-1)!.ms);
    }
    const runHost = (watch: boolean): HostRun[] => {
      const h = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--host', dir, '--runs', String(Math.max(runs, 5)), '--touch', String(touch), '--watch', watch ? '1' : '0'], {
        cwd: root,
        encoding: 'utf8',
      });
      if (h.status !== 0) throw new Error(`host child failed: ${h.stderr}`);
      return JSON.parse(h.stdout) as HostRun[];
    };
    const hostRuns = runHost(false);
    const watchRuns = runHost(true);
    const same = hostRuns.map((r) => r.ms);
    const sameW = watchRuns.map((r) => r.ms);
    if (coldInfo!.n !== pyRecords) throw new Error(`n_records differ: python ${pyRecords}, ours ${coldInfo!.n}`);
    for (const r of [...warmInfo, ...hostRuns, ...watchRuns]) if (r.n !== pyRecords) throw new Error(`warm n_records ${r.n} != ${pyRecords}`);

    const c = median(cold) / 1000;
    const w = median(warm) / 1000;
    const sp = median(same) / 1000;
    const sw = median(sameW) / 1000;
    const list = (xs: number[]): string => xs.map((x) => (x / 1000).toFixed(3)).join(', ');
    console.log(`records: ${coldInfo!.n} (python agrees: ${pyRecords}); cold fast-path files: ${coldInfo!.fast}/${coldInfo!.read}`);
    console.log(`warm fresh-process re-read [${warmInfo.map((r) => r.read).join(', ')}] files (index ${warmInfo[0]!.index}); same-process re-read [${hostRuns.map((r) => r.read).join(', ')}] (${hostRuns[0]!.index})`);
    console.log(`same-process with watchers re-read [${watchRuns.map((r) => r.read).join(', ')}] (passes: ${watchRuns.map((r) => r.watch).join(', ')})`);
    console.log(`baseline (python yaml.safe_load loop):        ${pySeconds.toFixed(3)} s`);
    console.log(`cold (no index, median of ${runs}):             ${c.toFixed(3)} s   [${list(cold)}]`);
    console.log(`warm, fresh process (${touch} touched, median):  ${w.toFixed(3)} s   [${list(warm)}]`);
    console.log(`warm, same process, stat pass (${touch} touched, median): ${sp.toFixed(3)} s   [${list(same)}]`);
    console.log(`warm, same process, watchers  (${touch} touched, median): ${sw.toFixed(3)} s   [${list(sameW)}]`);
    console.log(`baseline/cold:            ${(pySeconds / c).toFixed(1)}x (goal >= 10x)`);
    console.log(`warm/cold, fresh process: ${((w / c) * 100).toFixed(1)}% (goal < 5%)`);
    console.log(`warm/cold, same process, stat pass: ${((sp / c) * 100).toFixed(1)}% (goal < 5%)`);
    console.log(`warm/cold, same process, watchers:  ${((sw / c) * 100).toFixed(1)}% (goal < 5%)`);
    const cc = median(coldCpu);
    const wc = median(warmInfo.map((r) => r.cpuMs));
    const sc = median(hostRuns.map((r) => r.cpuMs));
    const swc = median(watchRuns.map((r) => r.cpuMs));
    console.log(
      `CPU time (user+sys, medians): cold ${cc.toFixed(0)} ms, warm fresh ${wc.toFixed(0)} ms (${((wc / cc) * 100).toFixed(1)}%), ` +
        `warm same-process ${sc.toFixed(0)} ms (${((sc / cc) * 100).toFixed(1)}%), with watchers ${swc.toFixed(0)} ms (${((swc / cc) * 100).toFixed(1)}%)`,
    );
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

await main();
