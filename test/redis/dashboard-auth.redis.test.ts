/**
 * The dashboard's own basic-auth credentials (DASHBOARD_BASIC_AUTH, DASHBOARD_VIEWER_BASIC_AUTH:
 * `user:password`, not the token sent as a password) over real Redis and real HTTP: binding beyond
 * loopback with only them, operator and viewer roles, the same-origin rule; and error answers that
 * never carry a stack trace, whatever makes a route fail.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBindSecurity, DashboardConfigError, startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { QUEUE_NAMES } from '../../src/queues/index.js';
import { storedConfig } from '../../src/host/corpus-host.js';
import { runDir } from '../../src/scheduler/records.js';
import { RunStore } from '../../src/state/run-state.js';
import { runCli, startCli } from '../helpers/pipeline.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

const OPERATOR_BASIC = 'admin:operator-pass-123';
const VIEWER_BASIC = 'watcher:viewer-pass-456';
const TOKEN = 'bearer-token-789';

let redis: TestRedis;
let store: RunStore;
let vault: string;
const children: ChildProcess[] = [];

const basic = (pair: string) => ({ authorization: `Basic ${Buffer.from(pair).toString('base64')}` });
/** A run in Redis that has not ended (nothing executes it: pause, resume and stop only change its state). */
async function liveRun(runId: string): Promise<string> {
  await store.create({ runId, vault, maxCalls: 10, config: {}, generator: { provider: 'offline', model: 'offline-v1' }, judge: { provider: 'offline', model: 'offline-v1' } });
  return runId;
}

/** No stack frame, no source path, and nothing but `{"error": "<one line>"}`. */
function expectNoStack(status: number, text: string, where: string): void {
  expect(text, where).not.toMatch(/\bat .*:\d+(:\d+)?\)?$/m);
  expect(text, where).not.toMatch(/\.(ts|js):\d+/);
  expect(text, where).not.toMatch(/node_modules|node:internal|\/work\//);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body), where).toEqual(['error']);
  expect(typeof body.error, where).toBe('string');
  expect(status, where).toBeGreaterThanOrEqual(400);
}

beforeAll(async () => {
  redis = await useTestRedis('dashboard-auth');
  store = new RunStore(redis.client, redis.prefix);
  vault = join(mkdtempSync(join(tmpdir(), 'vl-dash-auth-')), 'vault');
  mkdirSync(vault, { recursive: true });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis.cleanup();
});

describe('bind addresses', () => {
  it('any address but loopback needs an operator credential: IPv6 any, a LAN address, a host name', () => {
    for (const host of ['0.0.0.0', '::', '[::]', '192.168.1.10', '10.0.0.5', 'localhost.example', 'dashboard.internal']) {
      expect(() => checkBindSecurity(host, {}), host).toThrow(DashboardConfigError);
      expect(() => checkBindSecurity(host, { viewerToken: 'viewer-only-token' }), host).toThrow(/refusing to listen on/);
      expect(() => checkBindSecurity(host, { token: 'operator-token' }), host).not.toThrow();
      expect(() => checkBindSecurity(host, { basicAuth: 'ops:long-enough-password' }), host).not.toThrow();
    }
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) expect(() => checkBindSecurity(host, {}), host).not.toThrow();
  });
});

describe('dashboard: basic-auth credentials of its own', () => {
  let dash: RunningDashboard;
  let url: string;

  beforeAll(async () => {
    // Only basic-auth credentials, and a bind address beyond loopback.
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, host: '0.0.0.0', port: 0, basicAuth: OPERATOR_BASIC, viewerBasicAuth: VIEWER_BASIC });
    url = `http://127.0.0.1:${dash.port}`;
  });
  afterAll(async () => {
    await dash?.close();
  });

  it('binds 0.0.0.0 with only basic-auth credentials configured; without them a request gets 401 and a Basic challenge', async () => {
    expect(dash.host).toBe('0.0.0.0');
    const anon = await fetch(`${url}/api/runs`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await fetch(`${url}/api/runs`, { headers: basic(OPERATOR_BASIC) })).status).toBe(200);
  });

  it('the right operator user and password can POST an action from the same origin; a wrong password, a wrong user or a token-style password get 401', async () => {
    const runId = await liveRun('basic-live-1');
    const origin = { origin: url };
    for (const wrong of ['admin:operator-pass-124', 'root:operator-pass-123', 'admin:', 'anyone:bearer-token-789', 'operator-pass-123']) {
      const res = await fetch(`${url}/api/runs/${runId}/pause`, { method: 'POST', headers: { ...basic(wrong), ...origin } });
      expect(res.status, wrong).toBe(401);
    }
    expect((await store.get(runId))!.status).toBe('running');
    const res = await fetch(`${url}/api/runs/${runId}/pause`, { method: 'POST', headers: { ...basic(OPERATOR_BASIC), ...origin, 'sec-fetch-site': 'same-origin' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ runId, status: 'paused' });
    expect((await store.get(runId))!.status).toBe('paused');
    // The same credentials from another origin are refused, and nothing changes.
    const cross = await fetch(`${url}/api/runs/${runId}/resume`, { method: 'POST', headers: { ...basic(OPERATOR_BASIC), origin: 'http://evil.example' } });
    expect(cross.status).toBe(403);
    expect((await store.get(runId))!.status).toBe('paused');
  });

  it('a viewer basic credential reads everything but gets 403 on every action and a read-only Bull Board', async () => {
    const runId = await liveRun('basic-live-2');
    const runs = (await (await fetch(`${url}/api/runs`, { headers: basic(VIEWER_BASIC) })).json()) as { runs: { runId: string }[] };
    expect(runs.runs.map((r) => r.runId)).toContain(runId);
    const page = await fetch(`${url}/runs/${runId}`, { headers: { ...basic(VIEWER_BASIC), accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('id="chart-priority"');
    expect(html).not.toContain('id="btn-pause"');
    for (const action of ['pause', 'stop', 'retry-failed']) {
      const res = await fetch(`${url}/api/runs/${runId}/${action}`, { method: 'POST', headers: { ...basic(VIEWER_BASIC), origin: url } });
      expect(res.status, action).toBe(403);
      expect(await res.json()).toEqual({ error: 'viewers cannot change anything' });
    }
    expect((await store.get(runId))!.status).toBe('running');
    const board = (await (await fetch(`${url}/queues/api/queues`, { headers: basic(VIEWER_BASIC) })).json()) as { queues: { name: string; readOnlyMode: boolean; allowRetries: boolean }[] };
    expect(board.queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
    expect(board.queues.every((q) => q.readOnlyMode && !q.allowRetries)).toBe(true);
    const opBoard = (await (await fetch(`${url}/queues/api/queues`, { headers: basic(OPERATOR_BASIC) })).json()) as { queues: { readOnlyMode: boolean }[] };
    expect(opBoard.queues.every((q) => !q.readOnlyMode)).toBe(true);
    const put = await fetch(`${url}/queues/api/queues/judge/retry/failed`, { method: 'PUT', headers: { ...basic(VIEWER_BASIC), origin: url } });
    expect(put.status).toBe(403);
  });

  it('the bearer token still works beside basic credentials when both are configured', async () => {
    const d = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, host: '0.0.0.0', port: 0, token: TOKEN, basicAuth: OPERATOR_BASIC });
    try {
      const u = `http://127.0.0.1:${d.port}`;
      expect((await fetch(`${u}/api/runs`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
      expect((await fetch(`${u}/api/runs`, { headers: basic(OPERATOR_BASIC) })).status).toBe(200);
      expect((await fetch(`${u}/api/runs`, { headers: basic('admin:bearer-token-000') })).status).toBe(401);
    } finally {
      await d.close();
    }
  });

  it('refuses viewer credentials equal to the operator\'s, and a viewer credential alone beyond loopback', async () => {
    await expect(startDashboard({ target: { options: redis.options }, prefix: redis.prefix, host: '0.0.0.0', port: 0, basicAuth: OPERATOR_BASIC, viewerBasicAuth: OPERATOR_BASIC })).rejects.toThrow(DashboardConfigError);
    await expect(startDashboard({ target: { options: redis.options }, prefix: redis.prefix, host: '0.0.0.0', port: 0, viewerBasicAuth: VIEWER_BASIC })).rejects.toThrow(
      /refusing to listen on 0\.0\.0\.0 without an operator .*DASHBOARD_TOKEN.*DASHBOARD_BASIC_AUTH/,
    );
  });

  it('the config reads them from DASHBOARD_BASIC_AUTH and DASHBOARD_VIEWER_BASIC_AUTH, rejects a value that is not user:password, and never stores them with a run', () => {
    const cfg = loadConfig({ env: { DASHBOARD_BASIC_AUTH: OPERATOR_BASIC, DASHBOARD_VIEWER_BASIC_AUTH: VIEWER_BASIC } });
    expect(cfg.dashboardBasicAuth).toBe(OPERATOR_BASIC);
    expect(cfg.dashboardViewerBasicAuth).toBe(VIEWER_BASIC);
    expect(() => loadConfig({ env: { DASHBOARD_BASIC_AUTH: 'no-colon-here' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { DASHBOARD_BASIC_AUTH: 'admin:short' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { DASHBOARD_BASIC_AUTH: ':nouser-password' } })).toThrow(ConfigError);
    // Secrets: never stored with a run (run.json, the run's config in Redis).
    const stored = JSON.stringify(storedConfig(cfg));
    expect(stored).not.toContain('operator-pass-123');
    expect(stored).not.toContain('viewer-pass-456');
  });
});

describe('dashboard CLI: binding 0.0.0.0', () => {
  it('starts with only DASHBOARD_BASIC_AUTH set, and answers those credentials', async () => {
    const cli = startCli(['dashboard', '--host', '0.0.0.0', '--port', '0', '--redis', redis.url, '--prefix', redis.prefix], { DASHBOARD_TOKEN: '', DASHBOARD_VIEWER_TOKEN: '', DASHBOARD_BASIC_AUTH: OPERATOR_BASIC }, children);
    await expect.poll(() => cli.out(), { timeout: 30_000 }).toMatch(/dashboard at http:\/\/0\.0\.0\.0:\d+\//);
    const port = /dashboard at http:\/\/0\.0\.0\.0:(\d+)\//.exec(cli.out())![1];
    expect((await fetch(`http://127.0.0.1:${port}/api/runs`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/api/runs`, { headers: basic(OPERATOR_BASIC) })).status).toBe(200);
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
  });

  it('without any credential it exits 1 and names both ways to configure one', async () => {
    const res = await runCli(['dashboard', '--host', '0.0.0.0', '--port', '0', '--redis', redis.url, '--prefix', redis.prefix], { DASHBOARD_TOKEN: '', DASHBOARD_VIEWER_TOKEN: '', DASHBOARD_BASIC_AUTH: '', DASHBOARD_VIEWER_BASIC_AUTH: '' }, children);
    expect(res.code).toBe(1);
    expect(res.out).toMatch(/refusing to listen on 0\.0\.0\.0/);
    expect(res.out).toContain('DASHBOARD_TOKEN');
    expect(res.out).toContain('DASHBOARD_BASIC_AUTH');
    expect(res.out).not.toMatch(/\bat .*:\d+:\d+\)?$/m);
  });
});

describe('dashboard: no stack traces in responses', () => {
  let dash: RunningDashboard;
  let url: string;
  const logged: string[] = [];
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    const log = pino({ level: 'error' }, { write: (s: string) => void logged.push(s) });
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: TOKEN, log });
    url = dash.url.slice(0, -1);
  });
  afterAll(async () => {
    await dash?.close();
  });

  it('a run id with odd characters, a malformed URL escape or a malformed cookie get a JSON error without a stack trace (a bad cookie is a 401, not a crash)', async () => {
    const cases: [string, Record<string, string>, number][] = [
      ['/api/runs/%E0%A4%A', auth, 400],
      ['/runs/%E0%A4%A', { ...auth, accept: 'text/html' }, 400],
      ['/api/runs/..%2F..%2Fetc%2Fpasswd', auth, 404],
      ['/api/runs/%00%3Cscript%3E%22', auth, 404],
      ['/api/runs/%E0%A4%A/coverage', auth, 400],
      ['/runs/x/visuals/cloud/%E0%A4%A.svg', auth, 400],
      ['/queues/api/queues/judge/%E0%A4%A', auth, 400],
      // A cookie that is not valid percent-encoding is no credential (401), not a crash.
      ['/api/runs', { cookie: 'vault_loop_dashboard=%E0%A4%A' }, 401],
    ];
    for (const [path, headers, status] of cases) {
      const res = await fetch(`${url}${path}`, { headers });
      const text = await res.text();
      expect(res.status, path).toBe(status);
      expectNoStack(res.status, text, path);
    }
  });

  it('a malformed or oversized JSON body to an action gets 400 / 413 without a stack trace', async () => {
    const runId = await liveRun('nostack-live');
    const post = (path: string, body: string) => fetch(`${url}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    const bad = await post(`/api/runs/${runId}/drafts/cloud-0001/accept`, '{"note": ');
    expect(bad.status).toBe(400);
    expectNoStack(bad.status, await bad.text(), 'malformed JSON');
    const huge = await post(`/api/runs/${runId}/drafts/cloud-0001/reject`, JSON.stringify({ note: 'x'.repeat(40_000) }));
    expect(huge.status).toBe(413);
    expectNoStack(huge.status, await huge.text(), 'oversized JSON');
    const board = await fetch(`${url}/queues/api/queues/judge/add`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{not json' });
    expect(board.status).toBe(400);
    expectNoStack(board.status, await board.text(), 'Bull Board, malformed JSON');
  });

  it('a route that throws (a corrupt report.json) answers 500 "internal error"; the stack is logged, not sent', async () => {
    const runId = await liveRun('nostack-corrupt');
    const iter = join(runDir(vault, runId), 'iter_00');
    mkdirSync(iter, { recursive: true });
    writeFileSync(join(iter, 'report.json'), '{"track_zone_level_gaps": [');
    logged.length = 0;
    for (const [path, headers] of [
      [`/api/runs/${runId}/coverage`, auth],
      [`/runs/${runId}`, { ...auth, accept: 'text/html' }],
    ] as const) {
      const res = await fetch(`${url}${path}`, { headers });
      const text = await res.text();
      expect(res.status, path).toBe(500);
      expect(text, path).toBe('{"error":"internal error"}');
      expectNoStack(res.status, text, path);
    }
    // The operator still finds out what happened: in the log, with the stack.
    expect(logged.length).toBeGreaterThanOrEqual(2);
    const entry = JSON.parse(logged[0]!) as { msg: string; err: { stack: string } };
    expect(entry.msg).toBe('dashboard: request failed');
    expect(entry.err.stack).toMatch(/SyntaxError/);
  });
});
