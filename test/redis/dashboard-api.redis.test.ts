/**
 * The dashboard over real Redis and a real finished run: the bind check, credentials (operator,
 * viewer, none), the same-origin rule, the JSON API, run controls and /metrics as strict
 * Prometheus text.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardConfigError, startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { QUEUE_NAMES } from '../../src/queues/index.js';
import { RunStore } from '../../src/scheduler/state.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, runToEnd, spawnCli, testConfig } from '../helpers/pipeline.js';

const OPERATOR = 'operator-token-123';
const VIEWER = 'viewer-token-456';

let redis: TestRedis;
let dash: RunningDashboard;
let runId: string;
let store: RunStore;

beforeAll(async () => {
  redis = await useTestRedis('dashboard-api');
  const vault = await freshVault(300, 7);
  const cfg = testConfig(redis, vault, { maxIters: 2, maxCalls: 40 });
  const done = await runToEnd(redis, cfg);
  runId = done.runId;
  expect(done.state.status).toBe('completed');
  await done.host.close();
  store = new RunStore(redis.client, redis.prefix);
  dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: OPERATOR, viewerToken: VIEWER });
});
afterAll(async () => {
  await dash?.close();
  await redis.cleanup();
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
