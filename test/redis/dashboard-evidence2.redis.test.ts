/**
 * The dashboard over real Redis, more lines of issue #7, each with values that a constant or a
 * swapped label would not match:
 *   - /metrics during a run (slow offline calls): calls reserved is the run's non-zero in-flight
 *     count, beside calls used, tokens and cost; after the run, jobs by queue and state equal
 *     BullMQ's own counts, tokens out and the (priced) cost equal the run's, and each verdict label
 *     carries its own count;
 *   - Bull Board at /queues: an operator promotes a delayed job and cleans a queue's completed jobs
 *     through Bull Board's HTTP API; a viewer's promote and clean are refused and change nothing;
 *   - `vault-loop dashboard` (the real CLI): without --host it listens on 127.0.0.1 only, without
 *     --port on 3000, and --port is honoured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions, Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { createQueues, QUEUE_NAMES, type Queues } from '../../src/queues/index.js';
import type { CorpusHost } from '../../src/scheduler/host.js';
import { RunStore, type RunState } from '../../src/scheduler/state.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { freshVault, openHost, readRecords, testConfig } from '../helpers/pipeline.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

const OPERATOR = 'evidence2-operator-token';
const VIEWER = 'evidence2-viewer-token';
/** USD per million tokens of the offline model: the run's cost is a real, non-zero number. */
const PRICES = { 'offline-v1': { input: 3, output: 15 } };
const STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'waiting-children', 'prioritized'] as const;
const VERDICTS = ['PASS', 'NEEDS_FIX', 'DROP'] as const;

let redis: TestRedis;
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await useTestRedis('dashboard-evidence2');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.cleanup();
});

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The samples of a Prometheus text answer (comments skipped; any other line must be a sample). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

/** The one sample of `name` with these labels (and any others). */
function value(all: Sample[], name: string, labels: Record<string, string>): number {
  const hits = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(hits, `${name}${JSON.stringify(labels)}`).toHaveLength(1);
  return hits[0]!.value;
}

describe('/metrics and Bull Board actions on a real run', () => {
  let host: CorpusHost;
  let dash: RunningDashboard;
  let runId: string;
  let vault: string;
  let queues: ReturnType<typeof createQueues>;
  let store: RunStore;
  let finished: Promise<RunState> | undefined;

  beforeAll(async () => {
    vault = await freshVault(300, 23);
    // Slow provider calls: calls stay reserved (in flight) for a while. Defects give all three verdicts.
    const cfg = testConfig(redis, vault, {
      maxIters: 2,
      maxCalls: 60,
      offlineLatencyMs: 1200,
      offlineDefectRate: 0.6,
      offlineDefectKinds: ['form', 'form', 'wrong-arithmetic'],
      maxDropRate: 1,
      gapThreshold: 0,
      prices: PRICES,
    });
    host = await openHost(redis, cfg);
    runId = await host.startRun(cfg);
    queues = createQueues({ connection: redis.options as ConnectionOptions, prefix: redis.prefix });
    store = new RunStore(redis.client, redis.prefix);
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: OPERATOR, viewerToken: VIEWER });
  }, 60_000);

  afterAll(async () => {
    await dash?.close();
    if (host) await runEnded().catch(() => {});
    await queues?.close();
  });

  /** The run's end, once; the host (and its workers) then closes, so job counts hold still. */
  const runEnded = (): Promise<RunState> =>
    (finished ??= (async () => {
      const s = await host.waitForRun(runId);
      await host.close();
      return s;
    })());

  const metrics = async (token = VIEWER): Promise<Sample[]> => {
    const res = await fetch(new URL('/metrics', dash.url), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return samples(await res.text());
  };
  const put = (path: string, token: string) => fetch(new URL(path, dash.url), { method: 'PUT', headers: { authorization: `Bearer ${token}` } });

  it('read during the run, /metrics gives the calls reserved (in flight, non-zero) and the calls used, tokens in and out and cost of the run state', async () => {
    const run = { run: runId };
    const pick = (s: RunState) => ({ status: s.status, iter: s.iter, callsUsed: s.callsUsed, callsReserved: s.callsReserved, tokensIn: s.tokensIn, tokensOut: s.tokensOut, costUsd: s.costUsd });
    const deadline = Date.now() + 40_000;
    let checked = 0;
    // A reading counts when the run state is the same just before and just after it (and some call is in flight).
    while (checked < 2) {
      if (Date.now() > deadline) throw new Error(`no steady reading with calls in flight (${checked} so far); run ${JSON.stringify(pick((await store.get(runId))!))}`);
      const before = pick((await store.get(runId))!);
      if (before.status !== 'running' || before.callsReserved === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const m = await metrics();
      const after = pick((await store.get(runId))!);
      if (JSON.stringify(after) !== JSON.stringify(before)) continue;
      expect(value(m, 'vault_loop_run_calls_reserved', run)).toBe(before.callsReserved);
      expect(value(m, 'vault_loop_run_calls_used', run)).toBe(before.callsUsed);
      expect(value(m, 'vault_loop_run_tokens', { ...run, direction: 'in' })).toBe(before.tokensIn);
      expect(value(m, 'vault_loop_run_tokens', { ...run, direction: 'out' })).toBe(before.tokensOut);
      expect(value(m, 'vault_loop_run_cost_usd', run)).toBeCloseTo(before.costUsd, 9);
      expect(value(m, 'vault_loop_run_iteration', run)).toBe(before.iter);
      expect(value(m, 'vault_loop_run_status', { ...run, status: 'running' })).toBe(1);
      checked++;
      // The next reading at another moment of the run.
      await new Promise((r) => setTimeout(r, 700));
    }
  });

  it('after the run, /metrics gives jobs by queue and state equal to BullMQ\'s counts, tokens out, the priced cost and each verdict label\'s own count', async () => {
    const state = await runEnded();
    expect(state.status).toBe('completed');
    // A job in a state other than completed: a delayed one nobody consumes.
    await (queues.render as Queue).add('evidence-delayed', {}, { jobId: 'evidence2-delayed-metrics', delay: 3_600_000 });
    const m = await metrics();

    let nonZero = 0;
    for (const q of QUEUE_NAMES) {
      const counts = await (queues[q as keyof Queues] as Queue).getJobCounts(...STATES);
      const mine = m.filter((s) => s.name === 'vault_loop_jobs' && s.labels.queue === q);
      expect(mine.map((s) => s.labels.state).sort(), q).toEqual([...STATES].sort());
      for (const st of STATES) {
        expect(value(m, 'vault_loop_jobs', { queue: q, state: st }), `${q} ${st}`).toBe(counts[st] ?? 0);
        if ((counts[st] ?? 0) > 0) nonZero++;
      }
    }
    // Several queues and states with jobs, so the comparison covers more than zeros.
    expect(nonZero).toBeGreaterThanOrEqual(4);
    expect(value(m, 'vault_loop_jobs', { queue: 'render', state: 'delayed' })).toBe(1);
    expect(value(m, 'vault_loop_jobs', { queue: 'judge', state: 'completed' })).toBeGreaterThan(0);

    const run = { run: runId };
    expect(state.tokensOut).toBeGreaterThan(0);
    expect(state.tokensOut).not.toBe(state.tokensIn);
    expect(value(m, 'vault_loop_run_tokens', { ...run, direction: 'out' })).toBe(state.tokensOut);
    expect(value(m, 'vault_loop_run_tokens', { ...run, direction: 'in' })).toBe(state.tokensIn);
    expect(value(m, 'vault_loop_run_calls_reserved', run)).toBe(0);
    expect(value(m, 'vault_loop_run_calls_used', run)).toBe(state.callsUsed);
    // The cost of the priced tokens: what the run state and loop_summary.json say.
    const { summary, iters } = readRecords(vault, runId);
    expect(state.costUsd).toBeGreaterThan(0.001);
    expect(value(m, 'vault_loop_run_cost_usd', run)).toBeCloseTo(state.costUsd, 9);
    expect(value(m, 'vault_loop_run_cost_usd', run)).toBeCloseTo(summary.cost_usd, 6);

    // Each verdict label against a tally of the applied verdicts and of the judge summaries.
    const tally = { PASS: 0, NEEDS_FIX: 0, DROP: 0 };
    for (const v of (await store.verdicts(runId)).values()) tally[v.verdict]++;
    const fromRecords = Object.fromEntries(VERDICTS.map((k) => [k, iters.reduce((a, i) => a + (i.judge?.verdicts[k] ?? 0), 0)]));
    expect(fromRecords).toEqual(tally);
    // Three different non-zero counts: a swapped label shows.
    expect(new Set(Object.values(tally)).size).toBe(3);
    expect(Object.values(tally).every((n) => n > 0)).toBe(true);
    for (const k of VERDICTS) expect(value(m, 'vault_loop_run_verdicts', { ...run, verdict: k }), k).toBe(tally[k]);
    expect(value(m, 'vault_loop_run_unjudged', run)).toBe((await store.unjudged(runId)).size);
  });

  it('Bull Board: an operator promotes a delayed job (it waits) and cleans a queue\'s completed jobs; a viewer\'s promote and clean get 403 and change nothing', async () => {
    await runEnded();
    const job = await (queues.control as Queue).add('evidence-delayed', {}, { jobId: 'evidence2-delayed-promote', delay: 3_600_000 });
    expect(await job.getState()).toBe('delayed');
    const promote = `/queues/api/queues/control/${encodeURIComponent(job.id!)}/promote`;
    const clean = '/queues/api/queues/judge/clean/completed';
    const completed = async () => Object.fromEntries(await Promise.all(QUEUE_NAMES.map(async (q) => [q, (await (queues[q as keyof Queues] as Queue).getJobCounts('completed')).completed ?? 0] as const)));

    // Bull Board cleans only jobs finished more than 5 s ago (its grace time): wait past that.
    const judged = await queues.judge.getCompleted(0, -1);
    expect(judged.length).toBeGreaterThan(0);
    const lastFinished = Math.max(...judged.map((j) => j.finishedOn ?? Date.now()));
    await new Promise((r) => setTimeout(r, Math.max(0, lastFinished + 6_000 - Date.now())));
    const before = await completed();
    expect(before.judge).toBeGreaterThan(0);
    expect(before.generate).toBeGreaterThan(0);

    // The viewer: refused, nothing changes.
    const vPromote = await put(promote, VIEWER);
    expect(vPromote.status).toBe(403);
    expect(await vPromote.json()).toEqual({ error: 'viewers cannot change anything' });
    expect((await put(clean, VIEWER)).status).toBe(403);
    expect(await (await queues.control.getJob(job.id!))!.getState()).toBe('delayed');
    expect(await completed()).toEqual(before);

    // The operator: the job is promoted (waiting: no worker takes it now), and judge's completed jobs go.
    const oPromote = await put(promote, OPERATOR);
    expect(oPromote.status).toBe(204);
    expect(await (await queues.control.getJob(job.id!))!.getState()).toBe('waiting');
    const oClean = await put(clean, OPERATOR);
    expect(oClean.status).toBe(200);
    expect(await completed()).toEqual({ ...before, judge: 0 });
    // Bull Board's own listing agrees.
    const listing = (await (await fetch(new URL('/queues/api/queues?activeQueue=judge&status=completed&page=1', dash.url), { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as {
      queues: { name: string; counts: Record<string, number> }[];
    };
    expect(listing.queues.find((q) => q.name === 'judge')!.counts.completed).toBe(0);
    expect(listing.queues.find((q) => q.name === 'control')!.counts.waiting).toBeGreaterThanOrEqual(1);
  });
});

describe('vault-loop dashboard (the CLI) defaults', () => {
  /** The CLI in a folder of its own (no config file) with no dashboard setting in its environment. */
  function dashboardCli(extra: string[]): { child: ChildProcess; out: () => string; exit: Promise<number> } {
    const env: NodeJS.ProcessEnv = { ...process.env, VAULT_LOOP_LOG_LEVEL: 'warn' };
    for (const k of Object.keys(env)) if (/^(VAULT_LOOP_DASHBOARD_|DASHBOARD_)/.test(k)) delete env[k];
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), 'dashboard', '--redis', redis.url, '--prefix', redis.prefix, ...extra], {
      cwd: mkdtempSync(join(tmpdir(), 'vl-dash-cli-')),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number>((res) => child.once('exit', (code, sig) => res(code ?? (sig ? 128 : -1))));
    return { child, out: () => out, exit };
  }

  /** Local addresses (ip:port) of the TCP sockets listening on `port`, from /proc (IPv4 and IPv6). */
  function listeners(port: number): string[] {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const found: string[] = [];
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 4 || f[3] !== '0A') continue;
        const [ip, p] = f[1]!.split(':');
        if (p !== hexPort) continue;
        found.push(ip!.length === 8 ? `${ip!.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join('.')}:${port}` : `[${ip}]:${port}`);
      }
    }
    return found;
  }

  /** A port nothing listens on right now. */
  async function freePort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
    return port;
  }

  const waitFor = async (cond: () => boolean, what: string, out: () => string) => {
    await expect.poll(cond, { timeout: 50_000, message: `${what}; output so far:\n${out()}` }).toBe(true);
  };

  it('--port is honoured, and without --host it listens on 127.0.0.1 only (the URL it prints, and the socket itself)', async () => {
    const port = await freePort();
    const cli = dashboardCli(['--port', String(port)]);
    await waitFor(() => /dashboard at http:\/\/\S+\//.test(cli.out()) || cli.child.exitCode !== null, 'the dashboard URL', cli.out);
    expect(cli.out()).toContain(`vault-loop: dashboard at http://127.0.0.1:${port}/ (Bull Board at http://127.0.0.1:${port}/queues)`);
    // This process answers there (its Redis prefix is on the page)…
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`Redis prefix <code>${redis.prefix}</code>`);
    // …and its socket is bound to the loopback address alone: no 0.0.0.0, no ::.
    expect(listeners(port)).toEqual([`127.0.0.1:${port}`]);
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
  });

  it('without --port it uses port 3000 (it listens there when 3000 is free, or says that 127.0.0.1:3000 is taken)', async () => {
    const cli = dashboardCli([]);
    const served = /vault-loop: dashboard at (http:\/\/\S+\/) /;
    const taken = 'dashboard: port 3000 on 127.0.0.1 is already in use (choose another with --port)';
    await waitFor(() => served.test(cli.out()) || cli.out().includes(taken) || cli.child.exitCode !== null, 'the dashboard URL or the port-in-use message', cli.out);
    if (served.test(cli.out())) {
      expect(served.exec(cli.out())![1]).toBe('http://127.0.0.1:3000/');
      const page = await fetch('http://127.0.0.1:3000/');
      expect(await page.text()).toContain(`Redis prefix <code>${redis.prefix}</code>`);
      expect(listeners(3000)).toEqual(['127.0.0.1:3000']);
      cli.child.kill('SIGTERM');
      expect(await cli.exit).toBe(0);
    } else {
      // Another program holds 3000: the default was tried, on 127.0.0.1, and the CLI says so.
      expect(cli.out()).toContain(taken);
      expect(await cli.exit).toBe(1);
    }
  });
});
