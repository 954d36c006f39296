/**
 * The dashboard's pages in Debian's Chromium, each against the records: the overview's columns, the
 * coverage heatmap, Bull Board for an operator and a read-only viewer, pause / resume / stop on a
 * live run, the verdict, priority and budget charts, and the "retry all" button. Screenshots go to
 * test-artifacts/dashboard/. (The one browser check `npm test` keeps: test/e2e/dashboard.test.ts.)
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CorpusHost } from '../../src/host/corpus-host.js';
import { QUEUE_NAMES } from '../../src/queues/index.js';
import { type FailedJudgeRun, runWithFailedJudgeChunks } from '../helpers/failing-proxy.js';
import { FAILURE } from '../../src/core/outcome.js';
import { STOP } from '../../src/scheduler/steps.js';
import { ARTIFACTS, chromiumForBlock, contextOnlyFor as contextOnlyForBrowser, type DashboardTab, dashboardTab, retryInBullBoard, screenshot } from '../helpers/browser.js';
import { endedRun, freshVault, openHost, readRecords, runCli, testConfig } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';
import type { RunState } from '../../src/state/run-state.js';
import { type LoopSummary, readJson, runDir } from '../../src/scheduler/records.js';
import type { CoverageReport } from '../../src/analysis/types.js';
import { NOT_PLANNED_FILL, VERDICT_COLORS } from '../../dashboard/charts.js';
import type { IterRecord, JudgeSummary } from '../../src/scheduler/records.js';

describe('overview, heatmap, Bull Board retry and live run controls in Chromium', () => {
  /**
   * The dashboard in Debian's Chromium, line by line:
   *   - the overview at / shows each run's true status, iteration, calls / budget, tokens, cost, stop
   *     reason, start and duration (against loop_summary.json);
   *   - the coverage heatmap has a zone × level grid per track, coloured by the gap priority of the
   *     latest iteration's report.json (darker: a bigger gap);
   *   - Bull Board at /queues: an operator retries a failed judge job with Bull Board's own Retry
   *     button and the run page follows; a viewer's board is read-only and its retry route refuses;
   *   - the run page's pause, resume and stop buttons steer a live run, and the page follows it live.
   * Screenshots go to test-artifacts/dashboard/.
   */
  const OPERATOR = 'controls-operator-token';
  const VIEWER = 'controls-viewer-token';
  /** USD per million tokens: the run's cost is a real, non-zero number. */
  const PRICES = { 'offline-v1': { input: 3, output: 15 }, 'judge-model': { input: 1, output: 4 } };

  const chromium = chromiumForBlock();
  const { offHost } = chromium;

  const shot = (page: Page, name: string) => screenshot(page, name);
  const contextOnlyFor = (origin: string) => contextOnlyForBrowser(chromium.browser, origin, offHost);

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
    const redis = fileRedis('e2e-dashboard-controls');
    let run: FailedJudgeRun;
    let tab: DashboardTab;

    beforeAll(async () => {
      run = await runWithFailedJudgeChunks(redis, 8, { prices: PRICES });
      tab = await dashboardTab(chromium.browser, redis, { token: OPERATOR, viewerToken: VIEWER }, offHost);
    }, 120_000);

    afterAll(async () => {
      await tab?.close();
      await run?.close();
    });

    it('the overview at / shows the run\'s true status, iteration, calls used / budget, tokens, cost, stop reason, start and duration', async () => {
      await tab.page.goto(tab.dash.url);
      await tab.page.locator(`#runs tr[data-run="${run.runId}"]`).waitFor();
      const summary = readJson<LoopSummary>(join(runDir(run.vault, run.runId), 'loop_summary.json'))!;
      // Real numbers, so that agreeing with them means something.
      // Its judge chunks are still failed: the run is failed until their retries land.
      expect(summary.status).toBe('failed');
      expect(summary.iterations).toBe(2);
      expect(summary.calls_used_total).toBeGreaterThan(0);
      expect(summary.tokens.input).toBeGreaterThan(0);
      expect(summary.tokens.output).toBeGreaterThan(0);
      expect(summary.cost_usd).toBeGreaterThan(0.0001);
      expect(summary.stopped_reason).toBe(`${FAILURE.judgeFailed(summary.failed_judge_chunks.length)}; ${STOP.maxIters}`);
      expect(summary.wall_ms).toBeGreaterThan(0);
      const state = (await run.host.store.get(run.runId))!;
      expect(state.iter).toBe(2);
      expect(await overviewRow(tab.page, run.runId)).toEqual(expectedRow(summary, state));
      // The same numbers as the run state the JSON API reports.
      const api = (await (await fetch(new URL(`/api/runs/${run.runId}`, tab.dash.url), { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as {
        run: { status: string; iter: number; callsUsed: number; maxCalls: number; tokensIn: number; tokensOut: number; costUsd: number; stopReason: string; durationMs: number };
      };
      expect(api.run).toMatchObject({ status: summary.status, iter: summary.iterations, callsUsed: summary.calls_used_total, maxCalls: summary.max_calls, tokensIn: summary.tokens.input, tokensOut: summary.tokens.output, stopReason: summary.stopped_reason, durationMs: summary.wall_ms });
      expect(api.run.costUsd).toBeCloseTo(summary.cost_usd, 6);
      await shot(tab.page, 'dashboard-overview');
    });

    it('the heatmap has a zone × level grid for each track, coloured by the gap priority of the latest report (a bigger gap is darker)', async () => {
      await tab.page.goto(`${tab.dash.url}runs/${run.runId}`);
      await tab.page.locator('svg.heatmap').first().waitFor();
      const dir = runDir(run.vault, run.runId);
      const latest = readJson<CoverageReport>(join(dir, 'iter_01', 'report.json'))!;
      const first = readJson<CoverageReport>(join(dir, 'iter_00', 'report.json'))!;
      const prio = (r: CoverageReport) => new Map(r.track_zone_level_gaps.map((g) => [`${g.track} ${g.zone} ${g.level}`, g.priority]));
      const latestP = prio(latest);
      const firstP = prio(first);
      expect(await tab.page.locator('h2', { hasText: 'Coverage gaps' }).innerText()).toContain('report of iteration 1');

      const tracks = [...new Set(latest.track_zone_level_gaps.map((g) => g.track))];
      expect(tracks.length).toBeGreaterThan(1);
      // Every cell as the browser paints it: its track, zone and level (from its label) and its fill.
      const cells = await tab.page.evaluate<{ svg: string; label: string; fill: string; planned: boolean }[]>(`
        [...document.querySelectorAll('svg.heatmap')].flatMap((svg) =>
          [...svg.querySelectorAll('rect')].map((r) => ({ svg: svg.id, label: (r.querySelector('title')?.textContent ?? '').split(':')[0], fill: getComputedStyle(r).fill, planned: !r.classList.contains('not-planned') })))`);
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

      // A cell the plan never asks for is grey ("not planned"), apart from white "no gap": no priority of its own.
      const notPlanned = cells.filter((c) => !c.planned);
      const greyFill = `rgb(${[1, 3, 5].map((i) => parseInt(NOT_PLANNED_FILL.slice(i, i + 2), 16)).join(', ')})`;
      for (const c of notPlanned) expect(c.fill, c.label).toBe(greyFill);
      for (const c of notPlanned) expect(latestP.get(c.label) ?? 0, c.label).toBe(0);
      // Colour is a function of the latest report's priority, darker for a bigger gap.
      const painted = cells.filter((c) => c.planned).map((c) => ({ ...c, p: latestP.get(c.label) ?? 0, lum: luminance(c.fill) }));
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
      await shot(tab.page, 'dashboard-heatmap');
    });

    it('Bull Board lists every queue of the catalog; a viewer\'s board is read-only (no retry buttons, queue info says read-only) and its retry route answers 403 (401 without credentials)', async () => {
      await tab.page.goto(`${tab.dash.url}queues`);
      for (const name of QUEUE_NAMES) await tab.page.locator('nav, aside').getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });

      const viewerCtx = await contextOnlyFor(new URL(tab.dash.url).origin);
      const viewer = await viewerCtx.newPage();
      try {
        await viewer.goto(`${tab.dash.url}?token=${VIEWER}`);
        expect(await viewer.locator('header .muted').innerText()).toBe('viewer');
        await viewer.goto(`${tab.dash.url}queues`);
        for (const name of QUEUE_NAMES) await viewer.locator('nav, aside').getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
        await viewer.goto(`${tab.dash.url}queues/queue/judge?status=failed`);
        const jobId = `${run.runId}-i0-k0-judge`;
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
        await shot(viewer, 'dashboard-queues-viewer');
        // The browser's own PUT to Bull Board's retry route, with the viewer's cookie.
        const status = await viewer.evaluate<number>(`fetch('/queues/api/queues/judge/${encodeURIComponent(jobId)}/retry/failed', { method: 'PUT' }).then((r) => r.status)`);
        expect(status).toBe(403);
        const anon = await fetch(new URL(`/queues/api/queues/judge/${encodeURIComponent(jobId)}/retry/failed`, tab.dash.url), { method: 'PUT' });
        expect(anon.status).toBe(401);
        expect(await (await run.host.queues.judge.getJob(jobId))!.getState()).toBe('failed');
      } finally {
        await viewerCtx.close();
      }
    });

    it('an operator retries a failed judge job with Bull Board\'s own Retry button: it completes, and the open run page\'s numbers change', async () => {
      // The run page stays open in a second tab and follows the run live.
      const runPage = await tab.ctx.newPage();
      await runPage.goto(`${tab.dash.url}runs/${run.runId}`);
      // A chunk of the second iteration that failed for good (which one of its chunks failed is the proxy's draw).
      const failedJobs = (await run.host.queues.judge.getFailed(0, -1)).map((j) => String(j.id));
      const jobId = failedJobs.find((id) => id.startsWith(`${run.runId}-i1-`))!;
      expect(jobId).toBeDefined();
      await runPage.locator(`#failed tr[data-job="${jobId}"]`).waitFor();
      const unjudgedBefore = Number(await runPage.locator('#card-unjudged b').innerText());
      const callsBefore = await runPage.locator('#card-calls b').innerText();
      const verdictsBefore = await runPage.locator('#card-verdicts b').innerText();
      expect(unjudgedBefore).toBeGreaterThan(0);
      // The chunks that did not fail were judged: the card shows their verdicts.
      const tally = { PASS: 0, NEEDS_FIX: 0, DROP: 0 };
      for (const v of (await run.host.store.verdicts(run.runId)).values()) tally[v.verdict]++;
      expect(tally.PASS + tally.NEEDS_FIX + tally.DROP).toBeGreaterThan(0);
      expect(verdictsBefore).toBe(`${tally.PASS} / ${tally.NEEDS_FIX} / ${tally.DROP}`);

      await retryInBullBoard(tab.page, tab.dash.url, 'judge', jobId, 15_000);

      // Bull Board shows it among the completed judge jobs.
      await expect.poll(async () => (await run.host.queues.judge.getJob(jobId))?.getState(), { timeout: 30_000 }).toBe('completed');
      await tab.page.goto(`${tab.dash.url}queues/queue/judge?status=completed`);
      await tab.page.getByText(jobId, { exact: true }).first().waitFor({ timeout: 15_000 });
      await shot(tab.page, 'dashboard-queues-judge-completed');

      // The run page, never reloaded, now shows the judged chunk.
      await runPage.waitForFunction(`Number(document.querySelector('#card-unjudged b')?.textContent ?? 'NaN') < ${unjudgedBefore}`, undefined, { timeout: 30_000 });
      await runPage.waitForFunction(`!document.querySelector('#failed tr[data-job=${JSON.stringify(jobId)}]')`, undefined, { timeout: 15_000 });
      expect(await runPage.locator('#card-calls b').innerText()).not.toBe(callsBefore);
      expect(await runPage.locator('#card-verdicts b').innerText()).not.toBe(verdictsBefore);
      expect(Number(await runPage.evaluate<string>(`document.body.dataset.updates ?? '0'`))).toBeGreaterThan(0);
      await shot(runPage, 'dashboard-run-after-board-retry');
      await runPage.close();
    });

    it('no request left for another host', () => {
      expect(offHost).toEqual([]);
    });
  });

  describe('a live run steered from the run page', () => {
    const redis = fileRedis('e2e-dashboard-controls-live');
    let live: { host: CorpusHost; runId: string; vault: string };
    let tab: DashboardTab;

    beforeAll(async () => {
      const vault = await freshVault(300, 9);
      // Slow provider calls and many iterations: the run is still going while the test clicks.
      const cfg = testConfig(redis, vault, { maxIters: 20, maxCalls: 400, offlineLatencyMs: 1500, gapThreshold: 0, maxDropRate: 1, prices: PRICES });
      const host = await openHost(redis, cfg);
      live = { host, runId: await host.startRun(cfg), vault };
      tab = await dashboardTab(chromium.browser, redis, { token: OPERATOR }, offHost);
    }, 60_000);

    afterAll(async () => {
      await tab?.close();
      if (live) {
        const s = await live.host.store.get(live.runId);
        if (s && !['completed', 'stopped', 'failed'].includes(s.status)) await live.host.store.requestStop(live.runId);
        await live.host.waitForRun(live.runId).catch(() => {});
        await live.host.close();
      }
    });

    const apiStatus = async (): Promise<{ status: string; stopReason: string | null }> => {
      const res = await fetch(new URL(`/api/runs/${live.runId}`, tab.dash.url), { headers: { authorization: `Bearer ${OPERATOR}` } });
      return ((await res.json()) as { run: { status: string; stopReason: string | null } }).run;
    };
    const pageStatus = () => tab.page.locator('#run-body h1 .status').innerText();
    /** Clicks a run-control button: the form posts, and the answer is a 303 back to the run page. */
    const clickControl = async (action: 'pause' | 'resume' | 'stop') => {
      const posted = tab.page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/runs/${live.runId}/${action}`));
      await tab.page.locator(`#btn-${action}`).click();
      expect((await posted).status()).toBe(303);
      await tab.page.waitForURL(`${tab.dash.url}runs/${live.runId}`);
      await tab.page.waitForLoadState('load');
    };
    /** A mark that a reload would wipe: the page changed live when it is still there. */
    const mark = () => tab.page.evaluate(`window.__notReloaded = true`);
    const stillMarked = async () => (await tab.page.evaluate<boolean | undefined>(`window.__notReloaded`)) === true;

    it('pause, resume and stop buttons steer the running run (GET /api/runs/:id agrees) and the page follows the run live', async () => {
      await tab.page.goto(`${tab.dash.url}runs/${live.runId}`);
      expect(await pageStatus()).toBe('running');
      expect(await tab.page.locator('#btn-pause').isEnabled()).toBe(true);
      expect(await tab.page.locator('#btn-resume').isEnabled()).toBe(false);

      // Live while running: the calls card moves on without a reload.
      await mark();
      const calls0 = await tab.page.locator('#card-calls b').innerText();
      await tab.page.waitForFunction(`document.querySelector('#card-calls b')?.textContent !== ${JSON.stringify(calls0)}`, undefined, { timeout: 20_000 });
      expect(await stillMarked()).toBe(true);

      await clickControl('pause');
      expect(await pageStatus()).toBe('paused');
      expect((await apiStatus()).status).toBe('paused');
      expect(await tab.page.locator('#btn-pause').isEnabled()).toBe(false);
      expect(await tab.page.locator('#btn-resume').isEnabled()).toBe(true);
      await shot(tab.page, 'dashboard-run-paused');

      // A change made elsewhere (the CLI, another process) shows up live on the open page.
      await mark();
      const resumed = await runCli(['resume', live.runId, '--redis', redis.url, '--prefix', redis.prefix]);
      expect(resumed.out).toContain(`run ${live.runId}: running`);
      expect(resumed.code).toBe(0);
      await tab.page.waitForFunction(`document.querySelector('#run-body h1 .status')?.textContent === 'running'`, undefined, { timeout: 15_000 });
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
      await tab.page.waitForFunction(`document.querySelector('#run-body h1 .status')?.textContent === 'stopped'`, undefined, { timeout: 30_000 });
      expect(await stillMarked()).toBe(true);
      expect(await tab.page.locator('#card-stop b').innerText()).toBe('stopped by user');
      expect(await apiStatus()).toMatchObject({ status: 'stopped', stopReason: 'stopped by user' });
      expect((await live.host.waitForRun(live.runId)).stopReason).toBe('stopped by user');
      expect(await tab.page.locator('#btn-stop').isEnabled()).toBe(false);
      await shot(tab.page, 'dashboard-run-stopped');
    });

    it('the overview shows the stopped run as loop_summary.json records it', async () => {
      await tab.page.goto(tab.dash.url);
      await tab.page.locator(`#runs tr[data-run="${live.runId}"]`).waitFor();
      const summary = readJson<LoopSummary>(join(runDir(live.vault, live.runId), 'loop_summary.json'))!;
      expect(summary.status).toBe('stopped');
      expect(summary.stopped_reason).toBe('stopped by user');
      expect(summary.calls_used_total).toBeGreaterThan(0);
      expect(await overviewRow(tab.page, live.runId)).toEqual(expectedRow(summary, (await live.host.store.get(live.runId))!));
    });

    it('no request left for another host', () => {
      expect(offHost).toEqual([]);
    });
  });
});

describe('verdict, priority and budget charts against the records; retry all', () => {
  /**
   * The dashboard in Debian's Chromium, each line checked against the run's own
   * records rather than for mere presence:
   *   - the verdict chart's bars are the PASS / NEEDS_FIX / DROP counts of each iteration's
   *     judge_summary.json (one bar per non-zero count, in the verdict colours, heights to scale);
   *   - the top-priority chart's points, the calls-used-vs-budget chart and the iteration table's
   *     rows carry the values of each iter_NN/iter_record.json (and the budget of loop_summary.json);
   *   - the run page's own "retry all" button retries every failed judge chunk of the run.
   * Screenshots go to test-artifacts/dashboard/.
   */
  const OPERATOR = 'charts-operator-token';
  /** USD per million tokens: costs are real, non-zero numbers. */
  const PRICES = { 'offline-v1': { input: 3, output: 15 }, 'judge-model': { input: 1, output: 4 } };
  const KINDS = ['PASS', 'NEEDS_FIX', 'DROP'] as const;

  const chromium = chromiumForBlock();
  const { offHost } = chromium;

  const shot = (page: Page, name: string) => screenshot(page, name);

  /** `#rrggbb` as the browser's computed `rgb(r, g, b)`. */
  const rgb = (hex: string): string => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

  const duration = (ms: number | null): string => {
    if (ms === null) return '-';
    const s = Math.round(ms / 1000);
    return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  };

  /** The iterations of a run as its records on disk hold them. */
  function iterationRecords(vault: string, runId: string): { record: IterRecord; judge: JudgeSummary }[] {
    return readRecords(vault, runId).iters.map((i) => {
      expect(i.record, `${i.dir}/iter_record.json`).not.toBeNull();
      expect(i.judge, `${i.dir}/judge_summary.json`).not.toBeNull();
      return { record: i.record!, judge: i.judge! };
    });
  }

  interface SvgChart {
    /** y of the chart's zero line (the lowest grid line). */
    baseline: number;
    /** x of each iteration's label on the x axis. */
    xOf: Record<string, number>;
    rects: { title: string | null; label: string | null; fill: string; x: number; y: number; w: number; h: number }[];
    circles: { cx: number; cy: number; fill: string }[];
    polylines: string[];
    dashed: { y1: number; y2: number; stroke: string }[];
    texts: { text: string; fill: string }[];
  }

  /** Everything of one chart as the browser holds it (attributes and computed fills). */
  async function readChart(page: Page, id: string): Promise<SvgChart> {
    return await page.evaluate<SvgChart>(`(() => {
      const svg = document.getElementById(${JSON.stringify(id)});
      const n = (e, a) => Number(e.getAttribute(a));
      const grid = [...svg.querySelectorAll('line:not([stroke-dasharray])')].map((l) => n(l, 'y1'));
      return {
        baseline: Math.max(...grid),
        xOf: Object.fromEntries([...svg.querySelectorAll('text[text-anchor="middle"]')].map((t) => [t.textContent, n(t, 'x')])),
        rects: [...svg.querySelectorAll('rect')].map((r) => ({
          title: r.querySelector('title')?.textContent ?? null,
          label: r.querySelector('title') ? null : (r.nextElementSibling?.textContent ?? null),
          fill: getComputedStyle(r).fill, x: n(r, 'x'), y: n(r, 'y'), w: n(r, 'width'), h: n(r, 'height'),
        })),
        circles: [...svg.querySelectorAll('circle')].map((c) => ({ cx: n(c, 'cx'), cy: n(c, 'cy'), fill: getComputedStyle(c).fill })),
        polylines: [...svg.querySelectorAll('polyline')].map((p) => p.getAttribute('points')),
        dashed: [...svg.querySelectorAll('line[stroke-dasharray]')].map((l) => ({ y1: n(l, 'y1'), y2: n(l, 'y2'), stroke: getComputedStyle(l).stroke })),
        texts: [...svg.querySelectorAll('text')].map((t) => ({ text: t.textContent, fill: getComputedStyle(t).fill })),
      };
    })()`);
  }

  /**
   * The verdict chart against the verdict counts per iteration: one bar per non-zero count, titled
   * `iteration i: KIND n`, filled with the kind's colour (the legend's too), stacked PASS, NEEDS_FIX,
   * DROP from the zero line, every height n × the same scale, centred on the iteration's label.
   */
  function expectVerdictBars(chart: SvgChart, perIter: { iter: number; verdicts: Record<(typeof KINDS)[number], number> }[]): void {
    const legend = chart.rects.filter((r) => r.title === null);
    expect(legend.map((r) => [r.label, r.fill])).toEqual(KINDS.map((k) => [k, rgb(VERDICT_COLORS[k])]));
    const bars = chart.rects.filter((r) => r.title !== null);
    const expected = perIter.flatMap((it) => KINDS.filter((k) => it.verdicts[k] > 0).map((k) => `iteration ${it.iter}: ${k} ${it.verdicts[k]}`));
    expect(expected.length).toBeGreaterThan(0);
    expect(bars.map((b) => b.title)).toEqual(expected);

    const parsed = bars.map((b) => {
      const m = /^iteration (\d+): (PASS|NEEDS_FIX|DROP) (\d+)$/.exec(b.title!)!;
      return { ...b, iter: m[1]!, kind: m[2] as (typeof KINDS)[number], n: Number(m[3]) };
    });
    const scale = Math.max(...parsed.map((b) => b.h / b.n));
    expect(scale).toBeGreaterThan(0);
    for (const b of parsed) {
      expect(b.fill, b.title!).toBe(rgb(VERDICT_COLORS[b.kind]));
      expect(Math.abs(b.h - b.n * scale), `${b.title}: height ${b.h} for ${b.n} at ${scale}/verdict`).toBeLessThanOrEqual(0.15);
      expect(Math.abs(b.x + b.w / 2 - chart.xOf[b.iter]!), `${b.title} is centred on its iteration`).toBeLessThanOrEqual(0.1);
    }
    for (const it of perIter) {
      const stack = parsed.filter((b) => b.iter === String(it.iter));
      let bottom = chart.baseline;
      for (const b of stack) {
        expect(Math.abs(b.y + b.h - bottom), `${b.title} sits on the bar below it`).toBeLessThanOrEqual(0.15);
        bottom = b.y;
      }
    }
  }

  describe('a finished run with PASS, NEEDS_FIX and DROP verdicts', () => {
    const redis = fileRedis('e2e-dashboard-controls2');
    let run: { vault: string; runId: string; iters: { record: IterRecord; judge: JudgeSummary }[] };
    let tab: DashboardTab;

    beforeAll(async () => {
      const vault = await freshVault(300, 21);
      // 'form' defects draw warnings (NEEDS_FIX), wrong arithmetic an error (DROP); the rest PASS.
      const cfg = testConfig(redis, vault, {
        maxIters: 3,
        maxCalls: 40,
        offlineDefectRate: 0.6,
        offlineDefectKinds: ['form', 'wrong-arithmetic'],
        maxDropRate: 1,
        gapThreshold: 0,
        prices: PRICES,
      });
      const { state, runId } = await endedRun(redis, cfg);
      expect(state.status).toBe('completed');
      run = { vault, runId, iters: iterationRecords(vault, runId) };
      tab = await dashboardTab(chromium.browser, redis, { token: OPERATOR }, offHost);
    }, 120_000);

    afterAll(() => tab?.close());

    it('the verdict chart has one bar per iteration and verdict, with the counts of judge_summary.json (and GET /api/runs/:id), in the PASS / NEEDS_FIX / DROP colours, heights to scale', async () => {
      // A run worth drawing: several iterations, and each verdict somewhere.
      expect(run.iters.length).toBe(3);
      for (const k of KINDS) expect(run.iters.reduce((a, i) => a + i.judge.verdicts[k], 0), k).toBeGreaterThan(0);
      // The counts differ from bar to bar, so a bar drawn for the wrong count or iteration shows.
      expect(new Set(run.iters.flatMap((i) => KINDS.map((k) => i.judge.verdicts[k]))).size).toBeGreaterThan(2);

      await tab.page.goto(`${tab.dash.url}runs/${run.runId}`);
      await tab.page.locator('svg#chart-verdicts').waitFor();
      const fromRecords = run.iters.map((i) => ({ iter: i.record.iter, verdicts: i.judge.verdicts }));
      expectVerdictBars(await readChart(tab.page, 'chart-verdicts'), fromRecords);

      const api = (await (await fetch(new URL(`/api/runs/${run.runId}`, tab.dash.url), { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as {
        iterations: { iter: number; verdicts: Record<(typeof KINDS)[number], number> }[];
      };
      expect(api.iterations.map((i) => ({ iter: i.iter, verdicts: i.verdicts }))).toEqual(fromRecords);
      // The card's totals are the same verdicts.
      const totals = KINDS.map((k) => run.iters.reduce((a, i) => a + i.judge.verdicts[k], 0)).join(' / ');
      expect(await tab.page.locator('#card-verdicts b').innerText()).toBe(totals);
      await shot(tab.page, 'charts-verdict-chart');
    });

    it('the iteration table has one row per iter_record.json, with its top cell, top priority, plan, generated, verdicts, unjudged, calls (total), tokens, cost and wall time', async () => {
      await tab.page.goto(`${tab.dash.url}runs/${run.runId}`);
      const headers = (await tab.page.locator('#iterations thead th').allInnerTexts()).map((h) => h.trim());
      const rows = tab.page.locator('#iterations tbody tr');
      expect(await rows.count()).toBe(run.iters.length);
      // Real numbers: priced tokens, calls on every iteration.
      expect(run.iters.every((i) => i.record.cost_usd > 0 && i.record.calls_used_iter > 0 && i.record.top_priority !== null)).toBe(true);
      for (const [n, { record: r, judge: j }] of run.iters.entries()) {
        const cells = (await rows.nth(n).locator('td').allInnerTexts()).map((c) => c.trim());
        expect(cells).toHaveLength(headers.length);
        expect(Object.fromEntries(headers.map((h, i) => [h, cells[i]]))).toEqual({
          iter: String(r.iter),
          'top cell': r.top_cell ? r.top_cell.join(' / ') : '-',
          'top priority': r.top_priority === null ? '-' : r.top_priority.toFixed(3),
          plan: String(r.plan_size),
          generated: String(r.generated),
          PASS: String(j.verdicts.PASS),
          NEEDS_FIX: String(j.verdicts.NEEDS_FIX),
          DROP: String(j.verdicts.DROP),
          unjudged: String(r.unjudged),
          'calls (total)': `${r.calls_used_iter} (${r.calls_used_total})`,
          'tokens in / out': `${r.tokens.input} / ${r.tokens.output}`,
          cost: `$${r.cost_usd.toFixed(4)}`,
          wall: duration(r.wall_ms),
        });
      }
    });

    it('the top-priority chart has a point per iteration at its iter_record.json top_priority (higher priority, higher point), on the line', async () => {
      const pts = run.iters.map((i) => ({ iter: String(i.record.iter), p: i.record.top_priority! }));
      // Distinct priorities, so the order of the points says something.
      expect(new Set(pts.map((x) => x.p.toFixed(3))).size).toBe(pts.length);
      await tab.page.goto(`${tab.dash.url}runs/${run.runId}`);
      const chart = await readChart(tab.page, 'chart-priority');
      expect(chart.circles).toHaveLength(pts.length);
      expect(chart.polylines).toEqual([chart.circles.map((c) => `${c.cx.toFixed(1)},${c.cy.toFixed(1)}`).join(' ')]);
      const top = pts.reduce((a, b) => (b.p > a.p ? b : a));
      const byIter = new Map(chart.circles.map((c, i) => [pts[i]!.iter, c]));
      const scale = (chart.baseline - byIter.get(top.iter)!.cy) / top.p;
      expect(scale).toBeGreaterThan(0);
      for (const [i, x] of pts.entries()) {
        const c = chart.circles[i]!;
        expect(Math.abs(c.cx - chart.xOf[x.iter]!), `point ${i} sits above iteration ${x.iter}`).toBeLessThanOrEqual(0.1);
        expect(Math.abs(chart.baseline - c.cy - x.p * scale), `iteration ${x.iter}: priority ${x.p}, y ${c.cy}`).toBeLessThanOrEqual(0.15);
      }
      // Sorted by priority, the points are sorted by height (smaller y is higher).
      const order = [...pts.keys()].sort((a, b) => pts[b]!.p - pts[a]!.p);
      const ys = order.map((i) => chart.circles[i]!.cy);
      expect(ys).toEqual([...ys].sort((a, b) => a - b));
      await tab.page.locator('svg#chart-priority').screenshot({ path: join(ARTIFACTS, 'charts-priority-chart.png') });
    });

    it('the calls chart draws each iteration\'s calls_used_total against a dashed budget line labelled "budget <max_calls>", on one scale', async () => {
      const { summary } = readRecords(run.vault, run.runId);
      const totals = run.iters.map((i) => ({ iter: String(i.record.iter), calls: i.record.calls_used_total }));
      expect(totals.at(-1)!.calls).toBe(summary.calls_used_total);
      expect(new Set(totals.map((t) => t.calls)).size).toBe(totals.length);
      await tab.page.goto(`${tab.dash.url}runs/${run.runId}`);
      const chart = await readChart(tab.page, 'chart-calls');
      expect(chart.dashed).toHaveLength(1);
      const budget = chart.dashed[0]!;
      expect(budget.y1).toBe(budget.y2);
      const label = chart.texts.filter((t) => t.text.startsWith('budget'));
      expect(label.map((t) => t.text)).toEqual([`budget ${summary.max_calls}`]);
      expect(label[0]!.fill).toBe(budget.stroke);
      // One scale for the budget and the points: a value's height above the zero line is value × scale.
      const scale = (chart.baseline - budget.y1) / summary.max_calls;
      expect(scale).toBeGreaterThan(0);
      expect(chart.circles).toHaveLength(totals.length);
      for (const [i, t] of totals.entries()) {
        const c = chart.circles[i]!;
        expect(Math.abs(c.cx - chart.xOf[t.iter]!)).toBeLessThanOrEqual(0.1);
        expect(Math.abs(chart.baseline - c.cy - t.calls * scale), `iteration ${t.iter}: ${t.calls} calls, y ${c.cy}`).toBeLessThanOrEqual(0.15);
      }
      expect(chart.polylines).toEqual([chart.circles.map((c) => `${c.cx.toFixed(1)},${c.cy.toFixed(1)}`).join(' ')]);
      await tab.page.locator('svg#chart-calls').screenshot({ path: join(ARTIFACTS, 'charts-calls-chart.png') });
    });

    it('no request left for another host', () => {
      expect(offHost).toEqual([]);
    });
  });

  describe('the run page\'s "retry all" button', () => {
    const redis = fileRedis('e2e-dashboard-controls2-retry');
    let run: FailedJudgeRun;
    let tab: DashboardTab;

    beforeAll(async () => {
      run = await runWithFailedJudgeChunks(redis, 22, { offlineDefectRate: 0.6, offlineDefectKinds: ['form', 'wrong-arithmetic'], prices: PRICES });
      tab = await dashboardTab(chromium.browser, redis, { token: OPERATOR }, offHost);
    }, 120_000);

    afterAll(async () => {
      await tab?.close();
      await run?.close();
    });

    const failedOfRun = async () => (await run.host.queues.judge.getFailed(0, -1)).filter((j) => j.data.runId === run.runId).map((j) => String(j.id)).sort();

    it('clicking "retry all (n)" posts the form, comes back to the run page, and every failed judge chunk of the run completes: the list empties, nothing is unjudged, and the verdict chart shows the late verdicts', async () => {
      const failed = await failedOfRun();
      expect(failed.length).toBeGreaterThan(1);
      expect(failed.every((id) => id.startsWith(`${run.runId}-`))).toBe(true);
      const before = iterationRecords(run.vault, run.runId);
      expect(before.every((i) => i.judge.unjudged.length > 0)).toBe(true);

      await tab.page.goto(`${tab.dash.url}runs/${run.runId}`);
      expect((await tab.page.evaluate<string[]>(`[...document.querySelectorAll('#failed tbody tr')].map((tr) => tr.getAttribute('data-job'))`)).sort()).toEqual(failed);
      const button = tab.page.locator('#btn-retry-failed');
      expect(await button.innerText()).toBe(`retry all (${failed.length})`);
      await shot(tab.page, 'charts-before-retry-all');

      const posted = tab.page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === `${tab.dash.url}api/runs/${run.runId}/retry-failed`);
      await button.click();
      expect((await posted).status()).toBe(303);
      await tab.page.waitForURL(`${tab.dash.url}runs/${run.runId}`);

      // Each chunk that failed is judged now; the open page follows without a reload.
      for (const id of failed) await expect.poll(async () => (await run.host.queues.judge.getJob(id))?.getState(), { timeout: 45_000 }).toBe('completed');
      expect(await failedOfRun()).toEqual([]);
      await expect.poll(async () => (await run.host.store.unjudged(run.runId)).size, { timeout: 30_000 }).toBe(0);
      await tab.page.locator('#failed-none').waitFor({ timeout: 30_000 });
      await tab.page.waitForFunction(`document.querySelector('#card-unjudged b')?.textContent === '0'`, undefined, { timeout: 30_000 });
      expect(await tab.page.locator('#btn-retry-failed').count()).toBe(0);
      // No failed chunk is left: the run that ended failed for them is completed again.
      await expect.poll(async () => (await run.host.store.get(run.runId))?.status, { timeout: 30_000 }).toBe('completed');
      expect((await run.host.store.get(run.runId))?.stopReason).toBe(STOP.maxIters);

      // The late applies rewrote judge_summary.json; the chart draws those verdicts.
      await expect.poll(() => iterationRecords(run.vault, run.runId).every((i) => i.judge.unjudged.length === 0 && i.judge.n_judged === i.judge.n_items), { timeout: 30_000 }).toBe(true);
      const after = iterationRecords(run.vault, run.runId);
      await tab.page.reload();
      expectVerdictBars(await readChart(tab.page, 'chart-verdicts'), after.map((i) => ({ iter: i.record.iter, verdicts: i.judge.verdicts })));
      await shot(tab.page, 'charts-after-retry-all');
    });

    it('no request left for another host', () => {
      expect(offHost).toEqual([]);
    });
  });
});
