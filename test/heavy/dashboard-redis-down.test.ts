/**
 * The dashboard with Redis down: a real redis-server the test kills (refused), stops with SIGSTOP
 * (no answer) and brings back, and a server that accepts connections and never answers. Every
 * route that needs Redis (the pages, the JSON API, /metrics, Bull Board's UI and API, the run
 * controls) answers 503 with the CLI's one line for the fault, never hangs, and answers normally
 * again by itself once Redis does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { createRedis, resolveRedis, type RedisClient } from '../../src/redis/index.js';
import { RunStore } from '../../src/state/run-state.js';
import { freshVault } from '../helpers/pipeline.js';
import { fileRedisProcesses, neverAnswering, until } from './checks.js';

const PORT = 17060;
const SILENT_PORT = 17061;
const URL_ = `redis://127.0.0.1:${PORT}`;
const PREFIX = 'vl-heavy-dash-down';
const RUN = '20240101_000000';
const TIMEOUT_MS = 2000;

const { procs, clients, servers } = fileRedisProcesses();
let dash: RunningDashboard | undefined;
let silentDash: RunningDashboard | undefined;
let client: RedisClient | undefined;
let vault: string;

beforeAll(async () => {
  await procs.startPlain(PORT);
  vault = await freshVault(30, 61);
  const target = await resolveRedis({ url: URL_, timeoutMs: TIMEOUT_MS });
  client = createRedis(target, 'client');
  clients.push(client);
  await addRun();
  dash = await startDashboard({ target, prefix: PREFIX, port: 0 });
});
afterAll(async () => {
  procs.signal(PORT, 'SIGCONT');
  await dash?.close();
  await silentDash?.close();
});

/** A running run in Redis, so the run pages and the controls have something to show. */
async function addRun(): Promise<void> {
  const store = new RunStore(client!, PREFIX);
  await store.create({ runId: RUN, vault, maxCalls: 10, config: {}, generator: { provider: 'offline', model: 'offline' }, judge: { provider: 'offline', model: 'offline' } });
}

const HTML = { accept: 'text/html' };
// prettier-ignore
const ROUTES: { method: 'GET' | 'POST'; path: string; headers?: Record<string, string> }[] = [
  { method: 'GET', path: '/', headers: HTML },
  { method: 'GET', path: `/runs/${RUN}`, headers: HTML },
  { method: 'GET', path: `/runs/${RUN}/review`, headers: HTML },
  { method: 'GET', path: '/api/runs' },
  { method: 'GET', path: `/api/runs/${RUN}` },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/queues/', headers: HTML },
  { method: 'GET', path: '/queues/api/queues' },
  { method: 'POST', path: `/api/runs/${RUN}/pause` },
  { method: 'POST', path: `/api/runs/${RUN}/stop` },
  { method: 'POST', path: `/api/runs/${RUN}/retry-failed` },
];

/** One request, failing the test (not waiting forever) if the dashboard hangs. */
async function ask(d: RunningDashboard, r: (typeof ROUTES)[number]): Promise<{ status: number; body: string }> {
  const res = await fetch(new URL(r.path, d.url), { method: r.method, headers: r.headers ?? {}, redirect: 'manual', signal: AbortSignal.timeout(60_000) });
  return { status: res.status, body: await res.text() };
}

/** Every route answers 503 naming the fault. */
async function expectAllDown(d: RunningDashboard, message: string): Promise<void> {
  for (const r of ROUTES) {
    const got = await ask(d, r);
    expect({ route: `${r.method} ${r.path}`, status: got.status }).toEqual({ route: `${r.method} ${r.path}`, status: 503 });
    expect(got.body, `${r.method} ${r.path}`).toContain(message);
  }
}

/** The read-only routes answer 200 again (polling: the connections reconnect on their own). */
async function expectRecovered(d: RunningDashboard): Promise<void> {
  for (const r of ROUTES.filter((x) => x.method === 'GET')) {
    await until(`${r.path} answers again`, 60_000, async () => (await ask(d, r)).status === 200);
  }
}

describe('dashboard with Redis down', () => {
  it('answers every route while Redis is up', async () => {
    for (const r of ROUTES.filter((x) => x.method === 'GET')) expect((await ask(dash!, r)).status, r.path).toBe(200);
  });

  it('Redis killed: 503 "refused the connection" on every route; back by itself when Redis restarts', async () => {
    await procs.kill(PORT);
    await expectAllDown(dash!, `Redis at ${URL_} refused the connection (nothing listens there)`);
    // A browser gets a page saying so.
    const page = await ask(dash!, ROUTES[0]!);
    expect(page.body).toMatch(/<h1>Redis is unavailable<\/h1>/);
    await procs.startPlain(PORT);
    await addRun();
    await expectRecovered(dash!);
  }, 240_000);

  it('Redis stops answering (SIGSTOP): 503 "did not answer within 2 s"; back after SIGCONT', async () => {
    procs.signal(PORT, 'SIGSTOP');
    await expectAllDown(dash!, `Redis at ${URL_} did not answer within 2 s`);
    procs.signal(PORT, 'SIGCONT');
    await expectRecovered(dash!);
  }, 240_000);

  it('a server that accepts connections and never answers: 503 "did not answer within 2 s"', async () => {
    servers.push(await neverAnswering(SILENT_PORT));
    const url = `redis://127.0.0.1:${SILENT_PORT}`;
    silentDash = await startDashboard({ target: { options: { host: '127.0.0.1', port: SILENT_PORT }, describe: url, timeoutMs: TIMEOUT_MS }, prefix: PREFIX, port: 0 });
    await expectAllDown(silentDash, `Redis at ${url} did not answer within 2 s`);
  }, 240_000);
});
