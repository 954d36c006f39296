/**
 * The dashboard in Debian's Chromium, line by line of issue #7:
 *   - the overview at / shows each run's true status, iteration, calls / budget, tokens, cost, stop
 *     reason, start and duration (against loop_summary.json);
 *   - the coverage heatmap has a zone × level grid per track, coloured by the gap priority of the
 *     latest iteration's report.json (darker: a bigger gap);
 *   - Bull Board at /queues: an operator retries a failed judge job with Bull Board's own Retry
 *     button and the run page follows; a viewer's board is read-only and its retry route refuses;
 *   - the run page's pause, resume and stop buttons steer a live run, and the page follows it live.
 * Screenshots go to test-artifacts/dashboard/.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { QUEUE_NAMES } from '../../src/queues/index.js';
import type { CorpusHost } from '../../src/scheduler/host.js';
import type { RunState } from '../../src/scheduler/state.js';
import { readJson, runDir, type LoopSummary } from '../../src/scheduler/records.js';
import type { CoverageReport } from '../../src/analysis/types.js';
import type { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { contextOnlyFor as contextOnlyForBrowser, launchChromium, screenshot } from '../helpers/browser.js';
import { freshVault, openHost, runCli, runToEnd, testConfig } from '../helpers/pipeline.js';
import { failingJudge } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

const OPERATOR = 'evidence-operator-token';
const VIEWER = 'evidence-viewer-token';
/** USD per million tokens: the run's cost is a real, non-zero number. */
const PRICES = { 'offline-v1': { input: 3, output: 15 }, 'judge-model': { input: 1, output: 4 } };

let browser: Browser;
const offHost: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const shot = (page: Page, name: string) => screenshot(page, name);
const contextOnlyFor = (origin: string) => contextOnlyForBrowser(browser, origin, offHost);

/** The overview row of a run, keyed by the column headers. */
async function overviewRow(page: Page, runId: string): Promise<Record<string, string>> {
  const headers = await page.locator('#runs thead th').allInnerTexts();
  const cells = await page.locator(`#runs tr[data-run="${runId}"] td`).allInnerTexts();
  expect(cells).toHaveLength(headers.length);
  return Object.fromEntries(headers.map((h, i) => [h.trim(), cells[i]!.trim()]));
}

/** What the overview must say for a finished run: its loop_summary.json, and its iteration in Redis. */
function expectedRow(s: LoopSummary, state: RunState): Record<string, string> {
  const secs = Math.round(s.wall_ms! / 1000);
  const duration = secs < 60 ? `${secs}s` : `${Math.floor(secs / 60)}m ${secs % 60}s`;
  const started = new Date(s.started_at).toISOString();
  return {
    run: s.run_id,
    status: s.status,
    iteration: String(state.iter),
    'calls used / budget': `${s.calls_used_total} / ${s.max_calls}`,
    'tokens in / out': `${s.tokens.input} / ${s.tokens.output}`,
    cost: `$${s.cost_usd.toFixed(4)}`,
    'stop reason': s.stopped_reason ?? '-',
    'started (UTC)': `${started.slice(0, 10)} ${started.slice(11, 19)}`,
    duration,
  };
}

/** Relative luminance of a CSS rgb() colour: lower is darker. */
function luminance(css: string): number {
  const m = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(css);
  if (!m) throw new Error(`not an rgb() colour: ${css}`);
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(Number(m[1])) + 0.7152 * lin(Number(m[2])) + 0.0722 * lin(Number(m[3]));
}

describe('a finished run whose judge chunks failed', () => {
  let redis: TestRedis;
  let server: FakeLlmServer;
  let host: CorpusHost;
  let dash: RunningDashboard;
  let ctx: BrowserContext;
  let page: Page;
  let runId: string;
  let vault: string;

  beforeAll(async () => {
    redis = await useTestRedis('e2e-dashboard-evidence');
    vault = await freshVault(300, 8);
    // Every judge call fails until the script is cleared: the run ends with failed judge chunks.
    const failing = await failingJudge(8);
    server = failing.server;
    const cfg = testConfig(redis, vault, { maxIters: 2, maxCalls: 60, ...failing.judge, prices: PRICES });
    const done = await runToEnd(redis, cfg);
    expect(done.state.status).toBe('completed');
    runId = done.runId;
    // The corpus host stays up: it consumes the apply queue that a retried chunk's late apply needs.
    host = done.host;
    server.clearScript();
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: OPERATOR, viewerToken: VIEWER, liveIntervalMs: 300 });
    ctx = await contextOnlyFor(new URL(dash.url).origin);
    page = await ctx.newPage();
    await page.goto(`${dash.url}?token=${OPERATOR}`);
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    await dash?.close();
    await host?.close();
    await server?.close();
    await redis?.cleanup();
  });

  it('the overview at / shows the run\'s true status, iteration, calls used / budget, tokens, cost, stop reason, start and duration', async () => {
    await page.goto(dash.url);
    await page.locator(`#runs tr[data-run="${runId}"]`).waitFor();
    const summary = readJson<LoopSummary>(join(runDir(vault, runId), 'loop_summary.json'))!;
    // Real numbers, so that agreeing with them means something.
    expect(summary.status).toBe('completed');
    expect(summary.iterations).toBe(2);
    expect(summary.calls_used_total).toBeGreaterThan(0);
    expect(summary.tokens.input).toBeGreaterThan(0);
    expect(summary.tokens.output).toBeGreaterThan(0);
    expect(summary.cost_usd).toBeGreaterThan(0.0001);
    expect(summary.stopped_reason).toBe('max iterations reached');
    expect(summary.wall_ms).toBeGreaterThan(0);
    const state = (await host.store.get(runId))!;
    expect(state.iter).toBe(2);
    expect(await overviewRow(page, runId)).toEqual(expectedRow(summary, state));
    // The same numbers as the run state the JSON API reports.
    const api = (await (await fetch(new URL(`/api/runs/${runId}`, dash.url), { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as {
      run: { status: string; iter: number; callsUsed: number; maxCalls: number; tokensIn: number; tokensOut: number; costUsd: number; stopReason: string; durationMs: number };
    };
    expect(api.run).toMatchObject({ status: summary.status, iter: summary.iterations, callsUsed: summary.calls_used_total, maxCalls: summary.max_calls, tokensIn: summary.tokens.input, tokensOut: summary.tokens.output, stopReason: summary.stopped_reason, durationMs: summary.wall_ms });
    expect(api.run.costUsd).toBeCloseTo(summary.cost_usd, 6);
    await shot(page, 'evidence-overview');
  });

  it('the heatmap has a zone × level grid for each track, coloured by the gap priority of the latest report (a bigger gap is darker)', async () => {
    await page.goto(`${dash.url}runs/${runId}`);
    await page.locator('svg.heatmap').first().waitFor();
    const dir = runDir(vault, runId);
    const latest = readJson<CoverageReport>(join(dir, 'iter_01', 'report.json'))!;
    const first = readJson<CoverageReport>(join(dir, 'iter_00', 'report.json'))!;
    const prio = (r: CoverageReport) => new Map(r.track_zone_level_gaps.map((g) => [`${g.track} ${g.zone} ${g.level}`, g.priority]));
    const latestP = prio(latest);
    const firstP = prio(first);
    expect(await page.locator('h2', { hasText: 'Coverage gaps' }).innerText()).toContain('report of iteration 1');

    const tracks = [...new Set(latest.track_zone_level_gaps.map((g) => g.track))];
    expect(tracks.length).toBeGreaterThan(1);
    // Every cell as the browser paints it: its track, zone and level (from its label) and its fill.
    const cells = await page.evaluate<{ svg: string; label: string; fill: string }[]>(`
      [...document.querySelectorAll('svg.heatmap')].flatMap((svg) =>
        [...svg.querySelectorAll('rect')].map((r) => ({ svg: svg.id, label: (r.querySelector('title')?.textContent ?? '').split(':')[0], fill: getComputedStyle(r).fill })))`);
    const zones = new Set(cells.map((c) => c.label.split(' ')[1]));
    const levels = new Set(cells.map((c) => c.label.split(' ')[2]));
    expect(zones.size).toBe(11);
    expect(levels.size).toBe(6);
    expect(new Set(cells.map((c) => c.svg))).toEqual(new Set(tracks.map((t) => `heatmap-${t}`)));
    for (const t of tracks) {
      const mine = cells.filter((c) => c.svg === `heatmap-${t}`);
      expect(mine, t).toHaveLength(zones.size * levels.size);
      expect(new Set(mine.map((c) => c.label)).size, t).toBe(zones.size * levels.size);
      expect(mine.every((c) => c.label.startsWith(`${t} `)), t).toBe(true);
    }

    // Colour is a function of the latest report's priority, darker for a bigger gap.
    const painted = cells.map((c) => ({ ...c, p: latestP.get(c.label) ?? 0, lum: luminance(c.fill) }));
    const max = Math.max(...painted.map((c) => c.p));
    expect(max).toBeGreaterThan(0);
    expect(new Set(painted.map((c) => c.fill)).size).toBeGreaterThan(5);
    for (const a of painted) {
      for (const b of painted) {
        if (a.p === b.p) expect(a.fill, `${a.label} and ${b.label} have the same priority ${a.p}`).toBe(b.fill);
        else if (a.p > b.p) {
          expect(a.lum, `${a.label} (${a.p}) is not darker than ${b.label} (${b.p})`).toBeLessThanOrEqual(b.lum);
          if (a.p - b.p >= 0.05 * max) expect(a.lum, `${a.label} (${a.p}) vs ${b.label} (${b.p})`).toBeLessThan(b.lum);
        }
      }
    }
    const darkest = painted.reduce((x, y) => (y.lum < x.lum ? y : x));
    expect(darkest.p).toBe(max);
    expect(painted.filter((c) => c.p === 0).every((c) => c.fill === 'rgb(255, 255, 255)')).toBe(true);

    // The latest report, not the first: some pair of cells is ordered one way in iter_00 and the
    // other way in iter_01, and the page follows iter_01.
    const flipped = painted.flatMap((a) => painted.filter((b) => a.p - b.p >= 0.05 * max && (firstP.get(a.label) ?? 0) < (firstP.get(b.label) ?? 0)).map((b) => [a, b] as const));
    expect(flipped.length).toBeGreaterThan(0);
    for (const [a, b] of flipped) expect(a.lum).toBeLessThan(b.lum);
    await shot(page, 'evidence-heatmap');
  });

  it('Bull Board lists every queue of the catalog; a viewer\'s board is read-only (no retry buttons, queue info says read-only) and its retry route answers 403 (401 without credentials)', async () => {
    await page.goto(`${dash.url}queues`);
    for (const name of QUEUE_NAMES) await page.locator('nav, aside').getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });

    const viewerCtx = await contextOnlyFor(new URL(dash.url).origin);
    const viewer = await viewerCtx.newPage();
    try {
      await viewer.goto(`${dash.url}?token=${VIEWER}`);
      expect(await viewer.locator('header .muted').innerText()).toBe('viewer');
      await viewer.goto(`${dash.url}queues`);
      for (const name of QUEUE_NAMES) await viewer.locator('nav, aside').getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
      await viewer.goto(`${dash.url}queues/queue/judge?status=failed`);
      const jobId = `${runId}-i0-k0-judge`;
      await viewer.getByText(jobId, { exact: true }).first().waitFor({ timeout: 15_000 });
      expect(await viewer.getByText('vault-loop queues (read-only)').count()).toBeGreaterThan(0);
      // No job action buttons (retry, duplicate, edit, remove) and no queue actions.
      expect(await viewer.locator('button:has(svg.lucide-refresh-cw)').count()).toBe(0);
      expect(await viewer.getByRole('button', { name: /retry all|clean all/i }).count()).toBe(0);
      await viewer.getByRole('button', { name: 'Queue info' }).click();
      const info = viewer.getByRole('dialog');
      await info.waitFor();
      expect(await info.innerText()).toMatch(/Read-only\s*Yes/);
      expect(await info.innerText()).toMatch(/Retries allowed\s*No/);
      await shot(viewer, 'evidence-queues-viewer');
      // The browser's own PUT to Bull Board's retry route, with the viewer's cookie.
      const status = await viewer.evaluate<number>(`fetch('/queues/api/queues/judge/${encodeURIComponent(jobId)}/retry/failed', { method: 'PUT' }).then((r) => r.status)`);
      expect(status).toBe(403);
      const anon = await fetch(new URL(`/queues/api/queues/judge/${encodeURIComponent(jobId)}/retry/failed`, dash.url), { method: 'PUT' });
      expect(anon.status).toBe(401);
      expect(await (await host.queues.judge.getJob(jobId))!.getState()).toBe('failed');
    } finally {
      await viewerCtx.close();
    }
  });

  it('an operator retries a failed judge job with Bull Board\'s own Retry button: it completes, and the open run page\'s numbers change', async () => {
    // The run page stays open in a second tab and follows the run live.
    const runPage = await ctx.newPage();
    await runPage.goto(`${dash.url}runs/${runId}`);
    const jobId = `${runId}-i1-k0-judge`;
    await runPage.locator(`#failed tr[data-job="${jobId}"]`).waitFor();
    const unjudgedBefore = Number(await runPage.locator('#card-unjudged b').innerText());
    const callsBefore = await runPage.locator('#card-calls b').innerText();
    const verdictsBefore = await runPage.locator('#card-verdicts b').innerText();
    expect(unjudgedBefore).toBeGreaterThan(0);
    expect(verdictsBefore).toBe('0 / 0 / 0');

    await page.goto(`${dash.url}queues/queue/judge?status=failed`);
    const card = page.locator('div[class^="card-"]', { has: page.getByText(jobId, { exact: true }) });
    await card.waitFor({ timeout: 15_000 });
    await card.locator('button:has(svg.lucide-refresh-cw)').click();
    // Bull Board asks first (its "confirm job actions" setting is on by default).
    const confirm = page.getByRole('alertdialog').or(page.getByRole('dialog')).filter({ hasText: 'Are you sure that you want to retry this job?' });
    await confirm.waitFor();
    const put = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes(`/queues/api/queues/judge/${encodeURIComponent(jobId)}/retry`));
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    expect((await put).ok()).toBe(true);

    // Bull Board shows it among the completed judge jobs.
    await expect.poll(async () => (await host.queues.judge.getJob(jobId))?.getState(), { timeout: 30_000 }).toBe('completed');
    await page.goto(`${dash.url}queues/queue/judge?status=completed`);
    await page.getByText(jobId, { exact: true }).first().waitFor({ timeout: 15_000 });
    await shot(page, 'evidence-queues-judge-completed');

    // The run page, never reloaded, now shows the judged chunk.
    await runPage.waitForFunction(`Number(document.querySelector('#card-unjudged b')?.textContent ?? 'NaN') < ${unjudgedBefore}`, undefined, { timeout: 30_000 });
    await runPage.waitForFunction(`!document.querySelector('#failed tr[data-job=${JSON.stringify(jobId)}]')`, undefined, { timeout: 15_000 });
    expect(await runPage.locator('#card-calls b').innerText()).not.toBe(callsBefore);
    expect(await runPage.locator('#card-verdicts b').innerText()).not.toBe(verdictsBefore);
    expect(Number(await runPage.evaluate<string>(`document.body.dataset.updates ?? '0'`))).toBeGreaterThan(0);
    await shot(runPage, 'evidence-run-after-board-retry');
    await runPage.close();
  });

  it('no request left for another host', () => {
    expect(offHost).toEqual([]);
  });
});

describe('a live run steered from the run page', () => {
  let redis: TestRedis;
  let host: CorpusHost;
  let dash: RunningDashboard;
  let ctx: BrowserContext;
  let page: Page;
  let runId: string;
  let vault: string;

  beforeAll(async () => {
    redis = await useTestRedis('e2e-dashboard-evidence-live');
    vault = await freshVault(300, 9);
    // Slow provider calls and many iterations: the run is still going while the test clicks.
    const cfg = testConfig(redis, vault, { maxIters: 20, maxCalls: 400, offlineLatencyMs: 1500, gapThreshold: 0, maxDropRate: 1, prices: PRICES });
    host = await openHost(redis, cfg);
    runId = await host.startRun(cfg);
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: OPERATOR, liveIntervalMs: 300 });
    ctx = await contextOnlyFor(new URL(dash.url).origin);
    page = await ctx.newPage();
    await page.goto(`${dash.url}?token=${OPERATOR}`);
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    await dash?.close();
    if (host) {
      const s = await host.store.get(runId);
      if (s && !['completed', 'stopped', 'failed'].includes(s.status)) await host.store.requestStop(runId);
      await host.waitForRun(runId).catch(() => {});
      await host.close();
    }
    await redis?.cleanup();
  });

  const apiStatus = async (): Promise<{ status: string; stopReason: string | null }> => {
    const res = await fetch(new URL(`/api/runs/${runId}`, dash.url), { headers: { authorization: `Bearer ${OPERATOR}` } });
    return ((await res.json()) as { run: { status: string; stopReason: string | null } }).run;
  };
  const pageStatus = () => page.locator('#run-body h1 .status').innerText();
  /** Clicks a run-control button: the form posts, and the answer is a 303 back to the run page. */
  const clickControl = async (action: 'pause' | 'resume' | 'stop') => {
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/runs/${runId}/${action}`));
    await page.locator(`#btn-${action}`).click();
    expect((await posted).status()).toBe(303);
    await page.waitForURL(`${dash.url}runs/${runId}`);
    await page.waitForLoadState('load');
  };
  /** A mark that a reload would wipe: the page changed live when it is still there. */
  const mark = () => page.evaluate(`window.__notReloaded = true`);
  const stillMarked = async () => (await page.evaluate<boolean | undefined>(`window.__notReloaded`)) === true;

  it('pause, resume and stop buttons steer the running run (GET /api/runs/:id agrees) and the page follows the run live', async () => {
    await page.goto(`${dash.url}runs/${runId}`);
    expect(await pageStatus()).toBe('running');
    expect(await page.locator('#btn-pause').isEnabled()).toBe(true);
    expect(await page.locator('#btn-resume').isEnabled()).toBe(false);

    // Live while running: the calls card moves on without a reload.
    await mark();
    const calls0 = await page.locator('#card-calls b').innerText();
    await page.waitForFunction(`document.querySelector('#card-calls b')?.textContent !== ${JSON.stringify(calls0)}`, undefined, { timeout: 20_000 });
    expect(await stillMarked()).toBe(true);

    await clickControl('pause');
    expect(await pageStatus()).toBe('paused');
    expect((await apiStatus()).status).toBe('paused');
    expect(await page.locator('#btn-pause').isEnabled()).toBe(false);
    expect(await page.locator('#btn-resume').isEnabled()).toBe(true);
    await shot(page, 'evidence-run-paused');

    // A change made elsewhere (the CLI, another process) shows up live on the open page.
    await mark();
    const resumed = await runCli(['resume', runId, '--redis', redis.url, '--prefix', redis.prefix]);
    expect(resumed.out).toContain(`run ${runId}: running`);
    expect(resumed.code).toBe(0);
    await page.waitForFunction(`document.querySelector('#run-body h1 .status')?.textContent === 'running'`, undefined, { timeout: 15_000 });
    expect(await stillMarked()).toBe(true);

    await clickControl('pause');
    expect((await apiStatus()).status).toBe('paused');
    await clickControl('resume');
    expect(await pageStatus()).toBe('running');
    expect((await apiStatus()).status).toBe('running');

    await clickControl('stop');
    expect(['stopping', 'stopped']).toContain((await apiStatus()).status);
    // The run ends by itself; the page shows it without being reloaded.
    await mark();
    await page.waitForFunction(`document.querySelector('#run-body h1 .status')?.textContent === 'stopped'`, undefined, { timeout: 30_000 });
    expect(await stillMarked()).toBe(true);
    expect(await page.locator('#card-stop b').innerText()).toBe('stopped by user');
    expect(await apiStatus()).toMatchObject({ status: 'stopped', stopReason: 'stopped by user' });
    expect((await host.waitForRun(runId)).stopReason).toBe('stopped by user');
    expect(await page.locator('#btn-stop').isEnabled()).toBe(false);
    await shot(page, 'evidence-run-stopped');
  });

  it('the overview shows the stopped run as loop_summary.json records it', async () => {
    await page.goto(dash.url);
    await page.locator(`#runs tr[data-run="${runId}"]`).waitFor();
    const summary = readJson<LoopSummary>(join(runDir(vault, runId), 'loop_summary.json'))!;
    expect(summary.status).toBe('stopped');
    expect(summary.stopped_reason).toBe('stopped by user');
    expect(summary.calls_used_total).toBeGreaterThan(0);
    expect(await overviewRow(page, runId)).toEqual(expectedRow(summary, (await host.store.get(runId))!));
  });

  it('no request left for another host', () => {
    expect(offHost).toEqual([]);
  });
});

