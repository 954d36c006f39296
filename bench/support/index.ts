/**
 * What the pipeline benchmarks share: flags, a Redis with a unique prefix (deleted at the end),
 * a synthetic vault in a temp folder, one in-process corpus host run, and the machine line.
 * Not a benchmark itself (bin/bench.js runs only bench/*.bench.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { loadConfig, type Config, type ConfigInput } from '../../src/config/index.js';
import { synthesizeVault } from '../../src/corpus/synth.js';
import { DEFAULT_LOCAL_URL, deleteByPattern, optionsFromUrl, pingRedis } from '../../src/redis/index.js';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { iterDir, readJson, type IterRecord } from '../../src/scheduler/records.js';
import type { RunState } from '../../src/state/run-state.js';
import { silentLogger } from '../../src/util/log.js';

import { table } from '../../src/cli/output.js';

export { table };

export function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

export const intFlag = (name: string, dflt: number): number => {
  const v = Number(flag(name, String(dflt)));
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: expected a non-negative number; got ${flag(name, '')}`);
  return v;
};

export interface BenchRedis {
  url: string;
  options: RedisOptions;
  prefix: string;
  client: Redis;
  /** Deletes the keys matching a pattern (SCAN + UNLINK; never FLUSHALL: the Redis may be shared). */
  deleteKeys(pattern: string): Promise<number>;
  /** Deletes every key of this prefix and disconnects. */
  cleanup(): Promise<number>;
}

/** REDIS_URL, else 127.0.0.1:6379; a prefix no other process uses. */
export async function benchRedis(name: string): Promise<BenchRedis> {
  const url = process.env.REDIS_URL ?? DEFAULT_LOCAL_URL;
  const options = optionsFromUrl(url);
  if (!(await pingRedis(options, 2000))) throw new Error(`no Redis answers at ${url}; start one or set REDIS_URL`);
  const prefix = `vlbench-${name}-${randomBytes(4).toString('hex')}`;
  const client = new Redis({ ...options, maxRetriesPerRequest: 3 });
  const deleteKeys = (pattern: string): Promise<number> => deleteByPattern(client, pattern);
  return {
    url,
    options,
    prefix,
    client,
    deleteKeys,
    async cleanup() {
      const n = await deleteKeys(`*${prefix}*`);
      client.disconnect();
      return n;
    },
  };
}

export async function usedMemory(client: Redis): Promise<number> {
  const info = await client.info('memory');
  const m = /^used_memory:(\d+)/m.exec(info);
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/** A synthetic vault in a fresh temp folder; `remove()` deletes it. */
export async function benchVault(name: string, questions: number, seed = 1): Promise<{ dir: string; remove(): void }> {
  const root = mkdtempSync(join(tmpdir(), `vl-bench-${name}-`));
  const dir = join(root, 'vault');
  await synthesizeVault({ outDir: dir, questions, seed });
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export function benchConfig(redis: BenchRedis, vault: string, flags: ConfigInput): Config {
  return loadConfig({ env: {}, flags: { vault, redisUrl: redis.url, prefix: redis.prefix, logLevel: 'silent', ...flags } });
}

export async function openBenchHost(redis: BenchRedis, cfg: Config, inProcessWorkers: boolean): Promise<CorpusHost> {
  return await CorpusHost.open({ cfg, vault: cfg.vault!, target: { options: redis.options, describe: redis.url }, log: silentLogger, inProcessWorkers });
}

export interface RunOutcome {
  runId: string;
  state: RunState;
  /** From startRun to the terminal state, as the bench process saw it. */
  runMs: number;
  iters: IterRecord[];
}

/** Starts a run on an open host and waits for its end; a run that does not end in `timeoutMs` fails the bench. */
export async function runOnce(host: CorpusHost, cfg: Config, timeoutMs = 15 * 60_000): Promise<RunOutcome> {
  const t0 = performance.now();
  const runId = await host.startRun(cfg);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const state = await host.waitForRun(runId, undefined, abort.signal, 20).finally(() => clearTimeout(timer));
  const runMs = performance.now() - t0;
  if (abort.signal.aborted) throw new Error(`run ${runId} did not end within ${timeoutMs / 1000} s (status ${state.status}, phase ${state.phase})`);
  if (state.status === 'failed') throw new Error(`run ${runId} failed: ${state.stopReason}`);
  const dir = join(cfg.vault!, '_validation_results', 'coverage_loop', runId);
  const iters = readdirSync(dir)
    .filter((d) => d.startsWith('iter_'))
    .sort()
    .map((d) => readJson<IterRecord>(join(iterDir(cfg.vault!, runId, Number(d.slice(5))), 'iter_record.json')))
    .filter((r): r is IterRecord => r !== null && r.plan_size > 0);
  return { runId, state, runMs, iters };
}

/** The line a benchmark table needs to be read later: cores, memory, node, load. */
export function machineLine(): string {
  const gb = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${gb(totalmem())} RAM (${gb(freemem())} free), node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

export const secs = (ms: number): string => (ms / 1000).toFixed(3);
export const ratio = (x: number): string => `${x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}x`;
export const goal = (ok: boolean, text: string): string => (ok ? `goal met (${text})` : `goal missed (${text})`);

export interface JobTime {
  queue: string;
  id: string;
  queued: number;
  started: number;
  finished: number;
}

/** Every finished job of the run (BullMQ's own timestamps), for the phase breakdown and `--trace`. */
export async function jobTimes(queues: Queue[]): Promise<JobTime[]> {
  const jobs: JobTime[] = [];
  for (const q of queues) {
    for (const j of await q.getJobs(['completed', 'failed'], 0, -1)) {
      jobs.push({ queue: q.name, id: String(j.id).replace(/^\d+_\d+(-\d+)?-/, ''), queued: j.timestamp, started: j.processedOn ?? 0, finished: j.finishedOn ?? 0 });
    }
  }
  return jobs.sort((a, b) => a.started - b.started);
}

/** Where one iteration's time went: the span of each phase, from its first start to its last finish. */
export interface Phase {
  name: string;
  from: number;
  to: number;
  ms: number;
}

export function phases(jobs: JobTime[]): Phase[] {
  const span = (pick: (j: JobTime) => boolean): [number, number] | null => {
    const js = jobs.filter(pick);
    return js.length ? [Math.min(...js.map((j) => j.started)), Math.max(...js.map((j) => j.finished))] : null;
  };
  // The generate flow is added with its dispatch parent: that job's queue time is the start (the
  // earliest generate jobs may already be removed by KEEP_COMPLETED on a large run).
  const dispatch = jobs.find((j) => j.id.endsWith('i0-dispatch'));
  const lastGen = Math.max(...jobs.filter((j) => j.queue === 'generate').map((j) => j.finished));
  const t0 = dispatch?.queued ?? 0;
  const rows: [string, [number, number] | null][] = [
    ['generate (flow added → last cell done)', dispatch && Number.isFinite(lastGen) ? [t0, lastGen] : null],
    ['dispatch (write drafts, near-dup index)', span((j) => j.id.endsWith('i0-dispatch'))],
    ['render + judge + apply', span((j) => ['render', 'judge', 'apply'].includes(j.queue))],
    ['checkpoint (records)', span((j) => j.id.endsWith('i0-checkpoint'))],
  ];
  return rows.filter((r) => r[1]).map(([name, s]) => ({ name, from: s![0] - t0, to: s![1] - t0, ms: s![1] - s![0] }));
}

export function phaseTable(ps: Phase[]): string {
  return table(['phase', 'from ms', 'to ms', 'ms'], ps.map((p) => [p.name, p.from, p.to, p.ms]));
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One process from spawn to exit, in ms; its standard output is pushed onto `out` when given. A failing command fails the benchmark. */
export function timedProcess(args: string[], label: string, cwd: string, out?: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, VAULT_LOOP_LOG_LEVEL: 'silent' } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${label} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  out?.push(r.stdout);
  return ms;
}

/** Edits `n` files of a vault for round `round`: the first gets new content, the others a new mtime (as a save in an editor). */
export function touchFiles(vault: string, files: string[], round: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const f = join(vault, files[(round * 997 + k * 131) % files.length]!);
    if (k === 0) writeFileSync(f, readFileSync(f, 'utf8').replace(/^status: .*$/m, round % 2 ? 'status: draft' : 'status: published'));
    else utimesSync(f, new Date(), new Date());
  }
}
