/**
 * The dashboard over real Redis and a real finished run: the bind check, credentials (operator,
 * viewer, none), the same-origin rule, the JSON API, run controls and /metrics as strict
 * Prometheus text.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardConfigError, type RunningDashboard, startDashboard } from '../../dashboard/index.js';
import { createQueues, QUEUE_NAMES, type Queues } from '../../src/queues/index.js';
import { type RunState, RunStore } from '../../src/state/run-state.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { fileDashboard } from '../helpers/dashboard.js';
import { freshVault, judgedRun, openHost, readRecords, spawnCli, testConfig } from '../helpers/pipeline.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions, Queue } from 'bullmq';
import type { CorpusHost } from '../../src/host/corpus-host.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const file = fileDashboard('dashboard-api');
const { redis, operator: OPERATOR, viewer: VIEWER } = file;
let dash: RunningDashboard;
let runId: string;
let store: RunStore;

beforeAll(async () => {
  // A completed run (judgedRun says so otherwise), its host closed.
  ({ runId, store } = await judgedRun(redis, testConfig(redis, await freshVault(60, 7), { maxIters: 2, maxCalls: 40 })));
  dash = await file.open();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, dash.url), { headers, redirect: 'manual' });
const post = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, dash.url), { method: 'POST', headers, redirect: 'manual' });

/** A strict reader of the Prometheus text format 0.0.4: every line must be a comment, HELP, TYPE or sample. */
function parsePrometheus(text: string): Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }> {
  expect(text.endsWith('\n'), 'ends with a newline').toBe(true);
  const families = new Map<string, { type: string; help: boolean; samples: { labels: Record<string, string>; value: number }[] }>();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const lines = text.slice(0, -1).split('\n');
  for (const [n, line] of lines.entries()) {
    const where = `line ${n + 1}: ${line}`;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
      const f = families.get(m[1]!) ?? { type: '', help: false, samples: [] };
      expect(f.help, `duplicate HELP, ${where}`).toBe(false);
      expect(f.samples, `HELP after samples, ${where}`).toHaveLength(0);
      families.set(m[1]!, { ...f, help: true });
    } else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      const f = families.get(m[1]!) ?? { type: '', help: false, samples: [] };
      expect(f.type, `duplicate TYPE, ${where}`).toBe('');
      expect(f.samples, `TYPE after samples, ${where}`).toHaveLength(0);
      families.set(m[1]!, { ...f, type: m[2]! });
    } else if (line.startsWith('#')) {
      throw new Error(`unknown comment form, ${where}`);
    } else if ((m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`).exec(line))) {
      const f = families.get(m[1]!);
      expect(f?.type, `sample without TYPE, ${where}`).toBeTruthy();
      const labels: Record<string, string> = {};
      const body = m[2] ?? '';
      const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y;
      let at = 0;
      while (at < body.length) {
        LABEL.lastIndex = at;
        const l = LABEL.exec(body);
        if (!l) throw new Error(`bad label set, ${where}`);
        expect(labels[l[1]!], `duplicate label, ${where}`).toBeUndefined();
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        at = LABEL.lastIndex;
      }
      const raw = m[3]!;
      expect(/^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(raw), `bad value, ${where}`).toBe(true);
      f!.samples.push({ labels, value: Number(raw.replace('Inf', 'Infinity')) });
    } else {
      throw new Error(`not Prometheus text, ${where}`);
    }
  }
  return new Map([...families].map(([k, v]) => [k, { type: v.type, samples: v.samples }]));
}

describe('dashboard: start', () => {
  it('refuses to bind 0.0.0.0 without credentials, with a clear message', async () => {
    await expect(startDashboard({ target: { options: redis.options }, prefix: redis.prefix, host: '0.0.0.0', port: 0 })).rejects.toThrow(DashboardConfigError);
    await expect(startDashboard({ target: { options: redis.options }, prefix: redis.prefix, host: '0.0.0.0', port: 0, viewerToken: VIEWER })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0 without an operator token: set DASHBOARD_TOKEN/,
    );
  });

  it('the CLI says so on stderr and exits 1', async () => {
    const child = spawnCli(['dashboard', '--host', '0.0.0.0', '--port', '0', '--redis', redis.url, '--prefix', redis.prefix], { DASHBOARD_TOKEN: '', DASHBOARD_VIEWER_TOKEN: '' });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without an operator token/);
  });

  it('binds 0.0.0.0 when an operator token is configured', async () => {
    const d = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, host: '0.0.0.0', port: 0, token: OPERATOR });
    try {
      const res = await fetch(`http://127.0.0.1:${d.port}/api/runs`);
      expect(res.status).toBe(401);
    } finally {
      await d.close();
    }
  });
});

describe('dashboard: credentials', () => {
  it('a request without the token gets 401; a POST without the token too, and nothing changes', async () => {
    expect((await get('/api/runs')).status).toBe(401);
    const page = await get('/', { accept: 'text/html' });
    expect(page.status).toBe(401);
    expect(page.headers.get('www-authenticate')).toMatch(/^Basic /);
    const before = await store.get(runId);
    const res = await post(`/api/runs/${runId}/retry-failed`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'authentication required' });
    expect((await post(`/api/runs/${runId}/stop`, bearer('wrong-token-000'))).status).toBe(401);
    expect(await store.get(runId)).toEqual(before);
  });

  it('a viewer reads everything but cannot retry, stop or use Bull Board actions', async () => {
    const runs = (await (await get('/api/runs', bearer(VIEWER))).json()) as { runs: { runId: string }[] };
    expect(runs.runs.map((r) => r.runId)).toContain(runId);
    for (const path of [`/api/runs/${runId}/retry-failed`, `/api/runs/${runId}/judge/any-job/retry`, `/api/runs/${runId}/stop`]) {
      const res = await post(path, bearer(VIEWER));
      expect(res.status, path).toBe(403);
      expect(await res.json()).toEqual({ error: 'viewers cannot change anything' });
    }
    // Bull Board: the viewer's board is read-only, the operator's is not; the viewer's PUTs are refused.
    const board = (await (await get('/queues/api/queues', bearer(VIEWER))).json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(board.queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    expect(board.queues.every((q) => q.readOnlyMode)).toBe(true);
    const opBoard = (await (await get('/queues/api/queues', bearer(OPERATOR))).json()) as { queues: { readOnlyMode: boolean }[] };
    expect(opBoard.queues.every((q) => !q.readOnlyMode)).toBe(true);
    const put = await fetch(new URL('/queues/api/queues/judge/retry/failed', dash.url), { method: 'PUT', headers: bearer(VIEWER) });
    expect(put.status).toBe(403);
    // The run page of a viewer has no action buttons.
    const html = await (await get(`/runs/${runId}`, bearer(VIEWER))).text();
    expect(html).toContain('id="chart-priority"');
    expect(html).not.toContain('id="btn-stop"');
  });

  it('basic auth with the token as password works; ?token= sets an HttpOnly SameSite=Strict cookie and drops the token from the URL', async () => {
    const basic = { authorization: `Basic ${Buffer.from(`anyone:${OPERATOR}`).toString('base64')}` };
    expect((await get('/api/runs', basic)).status).toBe(200);
    const res = await get(`/runs/${runId}?token=${OPERATOR}`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/runs/${runId}`);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await get(`/runs/${runId}`, { cookie: cookie.split(';')[0]! });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="btn-stop"');
    expect((await get('/?token=not-the-token')).status).toBe(401);
  });

  it('an operator POST from another origin is refused', async () => {
    const s = await store.get(runId);
    await store.create({ runId: `${runId}-live`, vault: s!.vault, maxCalls: 5, config: {}, generator: s!.generator, judge: s!.judge });
    const evil = await post(`/api/runs/${runId}-live/pause`, { ...bearer(OPERATOR), origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    const sameSite = await post(`/api/runs/${runId}-live/pause`, { ...bearer(OPERATOR), 'sec-fetch-site': 'cross-site' });
    expect(sameSite.status).toBe(403);
    expect((await store.get(`${runId}-live`))!.status).toBe('running');
  });

  it('with no credentials, the local user is an operator on a loopback Host only', async () => {
    const d = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0 });
    try {
      expect((await fetch(`${d.url}api/runs`)).status).toBe(200);
      // A DNS-rebinding page reaches 127.0.0.1 under its own host name (fetch cannot set Host).
      const rebinding = await new Promise<number>((resolve, reject) =>
        request({ host: '127.0.0.1', port: d.port, path: '/api/runs', headers: { host: `attacker.example:${d.port}` } }, (r) => {
          r.resume();
          resolve(r.statusCode!);
        })
          .on('error', reject)
          .end(),
      );
      expect(rebinding).toBe(403);
      const res = await fetch(`${d.url}api/runs/${runId}-live/pause`, { method: 'POST', headers: { origin: d.url.slice(0, -1) } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ runId: `${runId}-live`, status: 'paused' });
    } finally {
      await d.close();
    }
  });
});

describe('dashboard: API', () => {
  it('GET /api/runs/:id agrees with Redis; coverage has a zone × level grid per track', async () => {
    const d = (await (await get(`/api/runs/${runId}`, bearer(OPERATOR))).json()) as {
      run: { callsUsed: number; status: string; config?: unknown };
      iterations: { iter: number; topPriority: number | null; callsUsedTotal: number; verdicts: Record<string, number> }[];
      verdicts: { PASS: number; NEEDS_FIX: number; DROP: number };
    };
    const state = (await store.get(runId))!;
    expect(d.run.status).toBe('completed');
    expect(d.run.callsUsed).toBe(state.callsUsed);
    expect(d.run.config).toBeUndefined();
    expect(d.iterations.length).toBeGreaterThan(0);
    expect(d.iterations.at(-1)!.callsUsedTotal).toBe(state.callsUsed);
    const verdicts = [...(await store.verdicts(runId)).values()];
    expect(d.verdicts.PASS + d.verdicts.NEEDS_FIX + d.verdicts.DROP).toBe(verdicts.length);
    const cov = (await (await get(`/api/runs/${runId}/coverage`, bearer(OPERATOR))).json()) as {
      iter: number;
      zones: string[];
      levels: string[];
      tracks: { track: string; cells: { priority: number }[] }[];
    };
    expect(cov.iter).toBe(d.iterations.at(-1)!.iter);
    expect(cov.tracks.length).toBeGreaterThan(0);
    for (const t of cov.tracks) expect(t.cells).toHaveLength(cov.zones.length * cov.levels.length);
    expect(cov.tracks.some((t) => t.cells.some((c) => c.priority > 0))).toBe(true);
  });

  it('pause, resume and stop a live run; an ended run answers 409; an unknown one 404 without a stack trace', async () => {
    const live = `${runId}-live`;
    const call = async (action: string) => {
      const res = await post(`/api/runs/${live}/${action}`, bearer(OPERATOR));
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await call('resume')).toEqual({ status: 200, body: { runId: live, status: 'running' } });
    expect(await call('resume')).toEqual({ status: 409, body: { error: `run ${live} is running, not paused` } });
    expect(await call('pause')).toEqual({ status: 200, body: { runId: live, status: 'paused' } });
    expect(await call('stop')).toEqual({ status: 200, body: { runId: live, status: 'stopping' } });
    expect((await store.get(live))!.stopRequested).toBe(true);
    const ended = await post(`/api/runs/${runId}/stop`, bearer(OPERATOR));
    expect(ended.status).toBe(409);
    const missing = await post('/api/runs/no-such-run/stop', bearer(OPERATOR));
    expect(missing.status).toBe(404);
    const text = await missing.text();
    expect(text).toBe('{"error":"run no-such-run not found"}');
    const badJob = await post(`/api/runs/${runId}/judge/no-such-job/retry`, bearer(OPERATOR));
    expect(badJob.status).toBe(404);
    expect(await badJob.text()).not.toMatch(/at .*\.ts:\d+/);
    // A malformed body to Bull Board is a 400 without a stack, even where its own handler would add one.
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'development';
    try {
      const bad = await fetch(new URL('/queues/api/queues/judge/add', dash.url), { method: 'POST', headers: { ...bearer(OPERATOR), 'content-type': 'application/json' }, body: '{not json' });
      expect(bad.status).toBe(400);
      const text = await bad.text();
      expect(text).not.toMatch(/\bat .*:\d+/);
      expect(Object.keys(JSON.parse(text) as object)).toEqual(['error']);
    } finally {
      process.env.NODE_ENV = env;
    }
  });

  it('the live view: /api/runs/:id/events sends a new fingerprint when the run changes', async () => {
    const live = `${runId}-sse`;
    const s = (await store.get(runId))!;
    await store.create({ runId: live, vault: s.vault, maxCalls: 5, config: {}, generator: s.generator, judge: s.judge });
    const ac = new AbortController();
    const res = await fetch(new URL(`/api/runs/${live}/events`, dash.url), { headers: bearer(VIEWER), signal: ac.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    let buf = '';
    const nextEvent = async (): Promise<string> => {
      for (;;) {
        const m = /data: (.*)\n\n/.exec(buf);
        if (m) {
          buf = buf.slice(m.index + m[0].length);
          return m[1]!;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += new TextDecoder().decode(value);
      }
    };
    const first = await nextEvent();
    expect(first.startsWith('running|')).toBe(true);
    await store.pause(live);
    const second = await nextEvent();
    expect(second.startsWith('paused|')).toBe(true);
    ac.abort();
  });

  it('/metrics is strict Prometheus text with jobs by queue and state and the run numbers', async () => {
    const res = await get('/metrics', bearer(VIEWER));
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parsePrometheus(await res.text());
    const state = (await store.get(runId))!;
    const one = (name: string, labels: Record<string, string>) => m.get(name)!.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    expect(new Set(m.get('vault_loop_jobs')!.samples.map((s) => s.labels.queue))).toEqual(new Set(QUEUE_NAMES));
    expect(one('vault_loop_jobs', { queue: 'judge', state: 'completed' })[0]!.value).toBeGreaterThan(0);
    expect(one('vault_loop_run_calls_used', { run: runId })[0]!.value).toBe(state.callsUsed);
    expect(one('vault_loop_run_calls_reserved', { run: runId })[0]!.value).toBe(state.callsReserved);
    expect(one('vault_loop_run_tokens', { run: runId, direction: 'in' })[0]!.value).toBe(state.tokensIn);
    expect(one('vault_loop_run_cost_usd', { run: runId })[0]!.value).toBeCloseTo(state.costUsd, 9);
    expect(one('vault_loop_run_status', { run: runId, status: 'completed' })[0]!.value).toBe(1);
    expect(one('vault_loop_run_status', { run: runId, status: 'running' })[0]!.value).toBe(0);
    const verdicts = [...(await store.verdicts(runId)).values()];
    const sum = one('vault_loop_run_verdicts', { run: runId }).reduce((a, s) => a + s.value, 0);
    expect(sum).toBe(verdicts.length);
    expect(() => parsePrometheus('vault_loop_jobs{queue="x"} 1\n')).toThrow();
    expect(() => parsePrometheus('# TYPE a gauge\na{b="c} 1\n')).toThrow();
  });
});

describe('/metrics against the run, Bull Board promote and clean, the dashboard command binding', () => {
  /**
   * The dashboard over real Redis, each line with values that a constant or a
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
  const OPERATOR = 'metrics-operator-token';
  const VIEWER = 'metrics-viewer-token';
  /** USD per million tokens of the offline model: the run's cost is a real, non-zero number. */
  const PRICES = { 'offline-v1': { input: 3, output: 15 } };
  const STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'waiting-children', 'prioritized'] as const;
  const VERDICTS = ['PASS', 'NEEDS_FIX', 'DROP'] as const;

  let redis: TestRedis;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    redis = await useTestRedis('dashboard-metrics');
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
      vault = await freshVault(60, 23);
      // Slow provider calls: calls stay reserved (in flight) for a while. Defects give all three
      // verdicts, in shares far enough apart (about 10 PASS, 7 NEEDS_FIX, 3 DROP of 20) that no two
      // counts meet by chance.
      const cfg = testConfig(redis, vault, {
        maxIters: 2,
        maxCalls: 60,
        offlineLatencyMs: 1200,
        offlineDefectRate: 0.5,
        offlineDefectKinds: ['form', 'form', 'form', 'wrong-arithmetic'],
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
      await (queues.render as Queue).add('delayed', {}, { jobId: 'delayed-metrics', delay: 3_600_000 });
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
      const job = await (queues.control as Queue).add('delayed', {}, { jobId: 'delayed-promote', delay: 3_600_000 });
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
});
