/**
 * The end-of-run proof shared by the heavy tests: from the vault's files, the run's records and
 * the run's Redis state, everything the loop promised after crashes and restarts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { validateVault } from '../../src/corpus/validate.js';
import { iterDir, readJson, runDir, type JudgeSummary, type LoopSummary } from '../../src/scheduler/records.js';
import { RunStore, TERMINAL_STATUSES } from '../../src/state/run-state.js';
import { STOP } from '../../src/scheduler/steps.js';
import type { RedisClient } from '../../src/redis/index.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { type CliChild, collected } from '../helpers/pipeline.js';
import { RedisProcesses } from '../helpers/redis-servers.js';

/** Vault-relative paths of every question file (drafts included). */
export function questionFiles(vault: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(join(dir, e.name), r);
      else if (e.name.endsWith('.yaml')) out.push(r);
    }
  };
  walk(join(vault, 'questions'), 'questions');
  return out.sort();
}

/** Temp files of atomic writes (`<file>.<pid>.<hex>.tmp`) anywhere under the vault. */
export function tempFiles(vault: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== '.vault-loop') walk(join(dir, e.name));
      } else if (e.name.endsWith('.tmp')) out.push(join(dir, e.name));
    }
  };
  walk(vault);
  return out;
}

/** Where a whole run goes and what it may spend: the Redis prefix and the limits that proveRun checks. */
export interface RunBounds {
  prefix: string;
  maxCalls: number;
  maxIters: number;
}

/** The `vault-loop run` flags for `bounds`. */
export const boundsArgs = (b: RunBounds): string[] => ['--prefix', b.prefix, '--max-iters', String(b.maxIters), '--max-calls', String(b.maxCalls)];

export interface ProofInput extends RunBounds {
  vault: string;
  runId: string;
  redis: RedisClient;
  /** Question files before the run. */
  before: string[];
}

/** Asserts every promise of the loop; returns a short description for the test log. */
export async function proveRun(p: ProofInput): Promise<string> {
  const store = new RunStore(p.redis, p.prefix);
  const state = (await store.get(p.runId))!;
  expect(state, 'run state in Redis').toBeTruthy();
  expect(TERMINAL_STATUSES).toContain(state.status);
  const [drafts, verdicts, unjudged] = await Promise.all([store.drafts(p.runId), store.verdicts(p.runId), store.unjudged(p.runId)]);

  // loop_summary.json is complete: one history entry per closed iteration, totals from the state.
  const summary = readJson<LoopSummary>(join(runDir(p.vault, p.runId), 'loop_summary.json'))!;
  expect(summary, 'loop_summary.json').toBeTruthy();
  expect(summary.run_id).toBe(p.runId);
  expect(summary.status).toBe(state.status);
  expect(summary.stopped_reason).toBe(state.stopReason);
  expect(summary.calls_used_total).toBe(state.callsUsed);
  expect(summary.max_calls).toBe(p.maxCalls);
  expect(summary.finished_at).toBeTruthy();
  const iterDirs = readdirSync(runDir(p.vault, p.runId)).filter((d) => d.startsWith('iter_'));
  const closed = iterDirs.filter((d) => existsSync(join(runDir(p.vault, p.runId), d, 'iter_record.json')));
  expect(summary.iterations).toBe(closed.length);
  expect(summary.history.map((h) => h.iter)).toEqual(closed.map((_, i) => i));

  // Budget: never more calls than allowed, by the state and by the records.
  expect(state.callsUsed).toBeLessThanOrEqual(p.maxCalls);
  expect(summary.calls_used_total).toBeLessThanOrEqual(p.maxCalls);
  for (const h of summary.history) expect(h.calls_used_total).toBeLessThanOrEqual(p.maxCalls);

  // The stop reason is true.
  const reason = state.stopReason;
  if (reason === STOP.maxIters) expect(summary.iterations).toBe(p.maxIters);
  else if (reason === STOP.budget) {
    // Fewer than two calls left (leaked reservations of killed workers count as spent), or an
    // iteration sized to nothing.
    const left = p.maxCalls - state.callsUsed - state.callsReserved;
    const sizedZero = (await store.iterGet(p.runId, summary.iterations)).planSize === '0';
    expect(left < 2 || sizedZero, `budget exhausted with ${left} calls left`).toBe(true);
  } else if (reason === STOP.converged) {
    const last = summary.history.at(-1)!;
    const stopIter = await store.iterGet(p.runId, summary.iterations);
    expect(JSON.parse(stopIter.topCell!)).toEqual(last.top_cell);
    expect(Number(stopIter.topPriority)).toBe(last.top_priority);
  } else {
    throw new Error(`unexpected stop reason for this run: ${reason}`);
  }

  // Every plan cell was generated at most once; every missing one is recorded as failed.
  for (const h of summary.history) {
    const plan = readJson<unknown[]>(join(iterDir(p.vault, p.runId, h.iter), 'plan.json'))!;
    expect(plan.length).toBe(h.plan_size);
    const ofIter = [...drafts.values()].filter((d) => d.iter === h.iter);
    const perCell = new Map<number, number>();
    for (const d of ofIter) perCell.set(d.cellIndex, (perCell.get(d.cellIndex) ?? 0) + 1);
    for (const [cell, n] of perCell) expect(n, `iter ${h.iter} cell ${cell} generated ${n} times`).toBe(1);
    const failed = new Set(h.cells_failed.map((f) => f.cell));
    for (let c = 0; c < plan.length; c++) expect(perCell.has(c) || failed.has(c), `iter ${h.iter} cell ${c}: neither generated nor recorded as failed`).toBe(true);
    for (const c of failed) expect(perCell.has(c), `iter ${h.iter} cell ${c}: both generated and recorded failed`).toBe(false);
    expect(h.generated).toBe(ofIter.length);
    // The judge summary lists each of the iteration's drafts exactly once (a verdict or unjudged).
    const js = readJson<JudgeSummary>(join(iterDir(p.vault, p.runId, h.iter), 'judge_summary.json'));
    if (ofIter.length > 0) {
      const listed = [...js!.details.map((d) => d.id), ...js!.unjudged.map((u) => u.id)].sort();
      expect(listed).toEqual(ofIter.map((d) => d.id).sort());
    }
  }

  // Every draft has one verdict or is recorded unjudged; DROP files are gone, the others stay.
  const ids = [...drafts.keys()];
  expect(new Set(ids).size).toBe(ids.length);
  let dropped = 0;
  let kept = 0;
  for (const d of drafts.values()) {
    const v = verdicts.get(d.id);
    const u = unjudged.get(d.id);
    expect(Boolean(v) !== Boolean(u), `draft ${d.id}: verdict ${v?.verdict ?? '-'}, unjudged ${u ? 'yes' : 'no'}`).toBe(true);
    const present = existsSync(join(p.vault, d.path));
    if (v?.verdict === 'DROP') {
      expect(present, `DROP draft ${d.id} still on disk at ${d.path}`).toBe(false);
      for (const f of d.visualFiles) expect(existsSync(join(p.vault, f)), `visual ${f} of dropped draft ${d.id}`).toBe(false);
      dropped++;
    } else {
      expect(present, `${v ? v.verdict : 'unjudged'} draft ${d.id} was deleted (${d.path})`).toBe(true);
      kept++;
    }
  }

  // Files: the old ones are all there; each new one is a recorded draft with a fresh id.
  const after = questionFiles(p.vault);
  const beforeSet = new Set(p.before);
  for (const f of p.before) expect(after, `original file ${f} lost`).toContain(f);
  const draftPaths = new Map([...drafts.values()].map((d) => [d.path, d.id]));
  const seenIds = new Map<string, string>();
  for (const f of after) {
    const doc = parseYaml(readFileSync(join(p.vault, f), 'utf8')) as { id?: string; status?: string };
    if (doc.id) {
      expect(seenIds.has(doc.id), `id ${doc.id} used by ${seenIds.get(doc.id)} and ${f}`).toBe(false);
      seenIds.set(doc.id, f);
    }
    if (beforeSet.has(f)) continue;
    expect(draftPaths.get(f), `new file ${f} is no recorded draft`).toBe(doc.id);
    expect(doc.status).toBe('draft');
  }
  // No temp files left behind by an interrupted write.
  expect(tempFiles(p.vault)).toEqual([]);

  // The vault still validates.
  const v = await validateVault(p.vault);
  expect(v.problems.filter((x) => x.severity === 'error')).toEqual([]);
  return `${state.stopReason}; ${summary.iterations} iterations, ${drafts.size} drafts (${kept} kept, ${dropped} dropped), ${state.callsUsed}/${p.maxCalls} calls`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const exited = (c: ChildProcess): Promise<number> =>
  new Promise((res) => (c.exitCode !== null || c.signalCode !== null ? res(c.exitCode ?? -1) : c.once('exit', (code) => res(code ?? -1))));

/** Collects a child's stdout and stderr. */
export function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err };
}

/** Waits until `pred` holds, polling; throws after `ms`. */
export async function until<T>(what: string, ms: number, pred: () => Promise<T | null | undefined | false> | T | null | undefined | false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** SIGKILLs the children still running and waits until every one has exited. */
export async function endChildren(children: ChildProcess[]): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
}

/** `server` listening on 127.0.0.1:`port`; its close() drops the connections it still holds first. */
export async function listening(server: Server, port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Fails (never skips) with a clear message when this machine cannot make a network namespace. */
export function requireUnshare(): void {
  const r = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `this test needs \`unshare -n\` (a new network namespace; root or CAP_SYS_ADMIN) to take the network away from the CLI, ` +
        `and it failed here: ${r.error ? r.error.message : `exit ${r.status}: ${r.stderr.trim()}`}`,
    );
  }
}

/**
 * `vault-loop <args>` under `unshare -n` (a fresh network namespace, not even loopback up), in the
 * vault's parent folder, with none of the test runner's Redis URL or vault-loop settings; tracked in
 * `children`, its output collected.
 */
export function cliWithoutNetwork(args: string[], vault: string, children: ChildProcess[]): CliChild {
  requireUnshare();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'REDIS_URL' && !k.startsWith('VAULT_LOOP_') && !k.startsWith('DASHBOARD_')) env[k] = v;
  const child = spawn('unshare', ['-n', process.execPath, join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], {
    cwd: dirname(vault),
    env: { ...env, VAULT_LOOP_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collected(child, children);
}

/**
 * Pids of running redis-server processes whose command line names `folder` (redis-server rewrites
 * its title to `redis-server unixsocket:<path>`, so the socket path in the folder is what shows).
 */
export function redisServersFor(folder: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (argv.some((a) => a.includes('redis-server')) && argv.some((a) => a.includes(folder))) out.push(Number(name));
  }
  return out;
}

/** The pids of embedded redis-servers a test saw: SIGKILLed after the file (or block) if a failure left them running. */
export function embeddedServersKilledAfterAll(): Set<number> {
  const seen = new Set<number>();
  afterAll(() => {
    for (const pid of seen) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return seen;
}

/** A TCP server on 127.0.0.1:`port` that accepts connections and never answers. */
export const neverAnswering = (port: number): Promise<{ close(): Promise<void> }> => listening(createServer((s) => s.on('data', () => {})), port);

/**
 * The redis-server processes a heavy test file starts, the CLI children it spawns, the Redis
 * clients it opens and the servers of its own it listens with, all ended after the file: children
 * SIGKILLed, servers closed, clients disconnected, then the redis-servers stopped.
 */
export function fileRedisProcesses(): { procs: RedisProcesses; children: ChildProcess[]; clients: { disconnect(): void }[]; servers: { close(): Promise<void> }[] } {
  const procs = new RedisProcesses();
  const children: ChildProcess[] = [];
  const clients: { disconnect(): void }[] = [];
  const servers: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    await endChildren(children);
    for (const s of servers) await s.close();
    for (const c of clients) c.disconnect();
    await procs.stopAll();
  });
  return { procs, children, clients, servers };
}
