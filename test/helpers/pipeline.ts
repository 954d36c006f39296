/** Runs whole loops in-process against a real Redis, on small synthetic vaults in temp folders. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config, type ConfigInput } from '../../src/config/index.js';
import { synthesizeVault } from '../../src/corpus/synth.js';
import type { ConnectionOptions } from 'bullmq';
import { createQueues, type QueueName } from '../../src/queues/index.js';
import { createRedis } from '../../src/redis/index.js';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { readJson, runDir, type IterRecord, type JudgeSummary, type LoopSummary } from '../../src/scheduler/records.js';
import { RunStore, type AppliedVerdict, type DraftRecord, type RunState } from '../../src/state/run-state.js';
import { silentLogger } from '../../src/util/log.js';
import { createRuntimeContext } from '../../src/host/runtime-context.js';
import type { WorkerTimings } from '../../src/workers/runtime.js';
import { startWorkers } from '../../src/host/start-workers.js';
import { closeAfter, type Closable } from './closing.js';
import { PROJECT_ROOT } from './fixtures.js';
import type { TestRedis } from './redis.js';

const vaultCache = new Map<string, string>();

/** A synthetic vault (cached per size and seed, copied fresh for each test). */
export async function freshVault(questions: number, seed = 1): Promise<string> {
  const key = `${questions}-${seed}`;
  let template = vaultCache.get(key);
  if (!template) {
    template = join(mkdtempSync(join(tmpdir(), 'vl-tpl-')), 'vault');
    await synthesizeVault({ outDir: template, questions, seed });
    vaultCache.set(key, template);
  }
  const dir = join(mkdtempSync(join(tmpdir(), 'vl-vault-')), 'vault');
  cpSync(template, dir, { recursive: true });
  return dir;
}

const saltCounters = new Map<string, number>();

/**
 * A test run's configuration. Its `variantSalt` is fixed per test file and call order (unless the
 * test sets one), so the offline provider's defects, and with them each test's verdict mix, are
 * the same on every run of the suite instead of depending on the wall-clock run id.
 */
export function testConfig(redis: TestRedis, vault: string, flags: ConfigInput = {}): Config {
  const n = (saltCounters.get(redis.name) ?? 0) + 1;
  saltCounters.set(redis.name, n);
  return loadConfig({
    env: {},
    flags: { vault, redisUrl: redis.url, prefix: redis.prefix, logLevel: 'silent', batchWindowMs: 50, genBatchSize: 5, genCallsPerIter: 2, judgeChunkSize: 5, maxIters: 3, maxCalls: 40, variantSalt: `vltest-${redis.name}-${n}`, ...flags },
  });
}

export async function openHost(redis: TestRedis, cfg: Config, inProcessWorkers = true): Promise<CorpusHost> {
  return await CorpusHost.open({
    cfg,
    vault: cfg.vault!,
    target: { options: redis.options, describe: redis.url },
    log: silentLogger,
    inProcessWorkers,
    timings: { lockDuration: 10_000, stalledInterval: 2_000 },
  });
}

/** Starts a run and waits for its end. */
export async function runToEnd(redis: TestRedis, cfg: Config): Promise<{ runId: string; state: RunState; host: CorpusHost }> {
  const host = await openHost(redis, cfg);
  const runId = await host.startRun(cfg);
  let last = '';
  const timer = setTimeout(() => void host.jobCounts().then((c) => console.error(`run ${runId} still going: ${last}\n${JSON.stringify(c)}`)), 45_000);
  const state = await host.waitForRun(runId, (s) => void (last = JSON.stringify({ ...s, config: undefined })), undefined, 100).finally(() => clearTimeout(timer));
  return { runId, state, host };
}

/**
 * Runs `cfg` to its end and hands the run to `check`. Afterwards the run's host is closed, then each
 * of `closing` (the fake servers the run talked to), whether `check` passed or threw, or the run
 * never ended.
 */
export async function afterRun<T>(redis: TestRedis, cfg: Config, closing: Closable[], check: (run: { runId: string; state: RunState; host: CorpusHost }) => Promise<T>): Promise<T> {
  return await closeAfter(closing, async () => {
    const run = await runToEnd(redis, cfg);
    return await closeAfter([run.host], () => check(run));
  });
}

/** Runs `cfg` to its end: its state, drafts and verdicts, read before the host closed. */
export async function endedRun(redis: TestRedis, cfg: Config): Promise<{ runId: string; state: RunState; drafts: DraftRecord[]; verdicts: Map<string, AppliedVerdict> }> {
  return await afterRun(redis, cfg, [], async ({ runId, state, host }) => {
    return { runId, state, drafts: [...(await host.store.drafts(runId)).values()], verdicts: await host.store.verdicts(runId) };
  });
}

/** A finished run whose host is closed, with its applied verdicts sorted by id and split by verdict. */
export async function judgedRun(
  redis: TestRedis,
  cfg: Config,
): Promise<{ runId: string; store: RunStore; all: AppliedVerdict[]; needsFix: AppliedVerdict[]; pass: AppliedVerdict[] }> {
  const done = await runToEnd(redis, cfg);
  if (done.state.status !== 'completed') throw new Error(`run ${done.runId} ended ${done.state.status}, expected completed`);
  await done.host.close();
  const store = new RunStore(redis.client, redis.prefix);
  const all = [...(await store.verdicts(done.runId)).values()].sort((a, b) => a.id.localeCompare(b.id));
  return { runId: done.runId, store, all, needsFix: all.filter((v) => v.verdict === 'NEEDS_FIX'), pass: all.filter((v) => v.verdict === 'PASS') };
}

export interface RunRecords {
  summary: LoopSummary;
  iters: { record: IterRecord | null; judge: JudgeSummary | null; plan: unknown[] | null; dir: string }[];
}

export function readRecords(vault: string, runId: string): RunRecords {
  const dir = runDir(vault, runId);
  const summary = readJson<LoopSummary>(join(dir, 'loop_summary.json'))!;
  const iters = readdirSync(dir)
    .filter((d) => d.startsWith('iter_'))
    .sort()
    .map((d) => ({
      dir: join(dir, d),
      record: readJson<IterRecord>(join(dir, d, 'iter_record.json')),
      judge: readJson<JudgeSummary>(join(dir, d, 'judge_summary.json')),
      plan: readJson<unknown[]>(join(dir, d, 'plan.json')),
    }));
  return { summary, iters };
}

export const fileText = (vault: string, rel: string): string | null => (existsSync(join(vault, rel)) ? readFileSync(join(vault, rel), 'utf8') : null);

/** The offline provider as the "model" behind a fake HTTP server: answers any pipeline prompt. */
export async function offlineAnswerer(seed = 0, defectRate = 0): Promise<(req: { prompt: string | undefined }) => Promise<string>> {
  const { createOfflineProvider } = await import('../../src/llm/offline/index.js');
  const offline = createOfflineProvider({ seed, defectRate });
  return async (req) => {
    const prompt = req.prompt ?? '';
    const purpose = /^<repair>\s*$/m.test(prompt) ? 'repair' : /^<drafts>\s*$/m.test(prompt) ? 'judge' : /^<revisions>\s*$/m.test(prompt) ? 'revise' : 'generate';
    return (await offline.complete({ purpose, prompt })).text;
  };
}

/**
 * A vault-loop CLI child process (from the TypeScript sources). `group`: the child leads its own
 * process group, so `process.kill(-child.pid, sig)` reaches it and everything it started.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { group?: boolean } = {}): ChildProcess {
  return spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], {
    env: { ...process.env, VAULT_LOOP_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
}

export interface CliChild {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  out(): string;
  /** The exit code (128 when killed by a signal). */
  exit: Promise<number>;
}

/** spawnCli, collecting its output; `track` (the test's list of children to kill at the end) gets the child. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, track?: ChildProcess[]): CliChild {
  return collected(spawnCli(args, env), track);
}

/** A CLI child with its output collected and its exit awaited; `track` gets the child. */
export function collected(child: ChildProcess, track?: ChildProcess[]): CliChild {
  track?.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number>((res) => child.once('exit', (code, sig) => res(code ?? (sig ? 128 : -1))));
  return { child, out: () => out, exit };
}

/** Runs a CLI command to its end: its exit code and its output. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, track?: ChildProcess[]): Promise<{ code: number; out: string }> {
  const p = startCli(args, env, track);
  const code = await p.exit;
  return { code, out: p.out() };
}

/**
 * CLI output with its commands read back as one line each: a command continued over lines
 * (" \" at a line's end) joined, and `label:` followed by a command on the next line joined to it.
 */
export const joinedCommands = (out: string): string => out.replace(/ \\\n\s+/g, ' ').replace(/^(continue with):\n\s+/gm, '$1: ');

/** Hash of every file under the vault (records and drafts), for before/after comparisons. */
export function vaultSnapshot(vault: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name === '.vault-loop') continue;
      const p = join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else h.update(`${r}\0${createHash('sha256').update(readFileSync(p)).digest('hex')}\n`);
    }
  };
  walk(vault, '');
  return h.digest('hex');
}

/**
 * Stateless workers of the given queues in this process, with their own connections (as
 * `vault-loop worker --queues …` runs them elsewhere); returns the function that stops them.
 */
export function inProcessWorkers(redis: TestRedis, cfg: Config, names: Exclude<QueueName, 'control' | 'apply'>[], timings?: WorkerTimings): () => Promise<void> {
  const target = { options: redis.options, describe: redis.url };
  const client = createRedis(target, 'client');
  const queues = createQueues({ connection: redis.options as ConnectionOptions, prefix: cfg.prefix });
  const running = startWorkers(createRuntimeContext({ cfg, target, redis: client, store: new RunStore(client, cfg.prefix), queues, log: silentLogger, ...(timings ? { timings } : {}) }), names);
  return async () => {
    await running.close();
    await queues.close();
    client.disconnect();
  };
}
