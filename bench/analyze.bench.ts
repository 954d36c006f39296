/**
 * Analyzer speed on a synthetic vault: `npm run bench -- analyze [--questions 10000] [--runs 3] [--keep]`.
 *
 * (a) baseline: the original's loading loop (PyYAML safe_load over questions/**\/*.yaml), timed
 *     inside python3 so interpreter start-up is not counted against it;
 * (b) cold: analyzeVault with no index, in a fresh Node process (what a CLI call pays, minus
 *     module loading), including writing the index;
 * (c) warm: a fresh process again, after touching a few files, with the index in place.
 * Goals: baseline/cold ≥ 10×, warm/cold < 5%. Both sides must agree on n_records.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fg from 'fast-glob';
import { analyzeVault, INDEX_DIR, listVaultQuestionFiles } from '../src/analysis/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

/** Child mode: one timed analysis, printed as JSON. */
async function child(vault: string): Promise<void> {
  const t0 = performance.now();
  const { report, stats } = await analyzeVault(vault, { strategy: 'reference', total: 36 });
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, n: report.n_records, read: stats.read, fast: stats.fastPath, fromIndex: stats.fromIndex, index: stats.index }));
}

/** Copies synthetic-1k round-robin when src/corpus's synthesizeVault is not available. */
function ownGenerator(out: string, n: number): void {
  const src = join(root, '..', 'shared', 'fixtures', 'synthetic-1k');
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
  const special = join(root, '..', 'shared', 'fixtures', 'synthetic-1k', 'questions', 'cloud', 'cross-cutting');
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

function runChild(vault: string): { ms: number; n: number; read: number; fast: number; fromIndex: number; index: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', vault], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ReturnType<typeof runChild>;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const ci = process.argv.indexOf('--child');
  if (ci >= 0) return child(process.argv[ci + 1]!);

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
    let coldInfo: ReturnType<typeof runChild> | undefined;
    for (let i = 0; i < runs; i++) {
      rmSync(join(dir, INDEX_DIR), { recursive: true, force: true });
      coldInfo = runChild(dir);
      cold.push(coldInfo.ms);
    }
    const files = listVaultQuestionFiles(dir);
    const warm: number[] = [];
    let warmInfo: ReturnType<typeof runChild> | undefined;
    for (let i = 0; i < runs; i++) {
      // Touch a few files (new mtime; one also gets new content), then re-analyze.
      for (let k = 0; k < touch; k++) {
        const f = join(dir, files[(i * 997 + k * 131) % files.length]!);
        if (k === 0) writeFileSync(f, readFileSync(f, 'utf8').replace(/^status: .*$/m, 'status: draft'));
        const t = new Date(Date.now() + (i + 1) * 2000);
        utimesSync(f, t, t);
      }
      warmInfo = runChild(dir);
      warm.push(warmInfo.ms);
    }
    if (coldInfo!.n !== pyRecords) throw new Error(`n_records differ: python ${pyRecords}, ours ${coldInfo!.n}`);

    const c = median(cold) / 1000;
    const w = median(warm) / 1000;
    console.log(`records: ${coldInfo!.n} (python agrees: ${pyRecords}); cold fast-path files: ${coldInfo!.fast}/${coldInfo!.read}`);
    console.log(`warm re-read ${warmInfo!.read} files, ${warmInfo!.fromIndex} from index`);
    console.log(`baseline (python yaml.safe_load loop): ${pySeconds.toFixed(3)} s`);
    console.log(`cold (no index, median of ${runs}):     ${c.toFixed(3)} s   [${cold.map((x) => (x / 1000).toFixed(3)).join(', ')}]`);
    console.log(`warm (index, ${touch} touched, median):   ${w.toFixed(3)} s   [${warm.map((x) => (x / 1000).toFixed(3)).join(', ')}]`);
    console.log(`baseline/cold: ${(pySeconds / c).toFixed(1)}x (goal >= 10x)`);
    console.log(`warm/cold:     ${((w / c) * 100).toFixed(1)}% (goal < 5%)`);
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

await main();
