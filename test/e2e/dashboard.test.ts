/**
 * The dashboard in Debian's Chromium: a finished run whose judge chunks failed (the judge model
 * answered 503), its overview, charts and heatmap, Bull Board with the five queues, and a click on
 * "retry" that re-runs a chunk: the run's numbers change on the page. Screenshots go to
 * test-artifacts/dashboard/. Every page line by line against the records, a live run steered from the
 * page, a viewer's read-only board: test/heavy/dashboard-browser.test.ts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDashboard } from '../../dashboard/index.js';
import type { CorpusHost } from '../../src/host/corpus-host.js';
import { QUEUE_NAMES } from '../../src/queues/index.js';
import { type FailedJudgeRun, runWithFailedJudgeChunks } from '../helpers/failing-proxy.js';
import { STOP } from '../../src/scheduler/steps.js';
import { ARTIFACTS, type ChromiumDashboard, dashboardInChromium } from '../helpers/browser.js';
import { fileRedis } from '../helpers/redis.js';

const TOKEN = 'e2e-operator-token';

const redis = fileRedis('e2e-dashboard');
const offHost: string[] = [];
let run: FailedJudgeRun | undefined;
let ui: ChromiumDashboard | undefined;
let host: CorpusHost;
let runId: string;
let dash: RunningDashboard;
let page: Page;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // One judge chunk in two fails until healed: the run ends failed, with failed judge chunks.
  run = await runWithFailedJudgeChunks(redis, 8);
  expect(run.state.stopReason).toMatch(new RegExp(`^judge failed for \\d+ chunks?; ${STOP.maxIters}$`));
  ({ runId, host } = run);
  // Only the dashboard may be reached: anything else is aborted and recorded.
  ui = await dashboardInChromium(redis, TOKEN, offHost);
  ({ dash, page } = ui);
}, 120_000);

afterAll(async () => {
  await ui?.close();
  await run?.close();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

describe('dashboard in Chromium', () => {
  it('the overview lists the finished run (the token is presented once with ?token=)', async () => {
    await page.goto(`${dash.url}?token=${TOKEN}`);
    expect(new URL(page.url()).search).toBe('');
    const row = page.locator(`tr[data-run="${runId}"]`);
    await expect.poll(() => row.count()).toBe(1);
    // Its judge chunks are still failed: the run is failed until their retries land.
    expect(await row.locator('.status').innerText()).toBe('failed');
    await shot('overview');
  });

  it('the run page shows the iteration table, three charts, the heatmaps and the failed judge chunks', async () => {
    await page.click(`a[href="/runs/${runId}"]`);
    await page.waitForSelector('#chart-priority');
    for (const id of ['#chart-priority', '#chart-verdicts', '#chart-calls']) expect(await page.locator(`svg${id}`).isVisible(), id).toBe(true);
    expect(await page.locator('#chart-priority circle').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-calls polyline').count()).toBe(1);
    expect(await page.locator('#iterations tbody tr').count()).toBeGreaterThan(0);
    const heatmaps = page.locator('svg.heatmap');
    expect(await heatmaps.count()).toBeGreaterThan(0);
    expect(await heatmaps.first().locator('rect').count()).toBe(11 * 6);
    expect(await page.locator('#failed tbody tr').count()).toBeGreaterThan(0);
    await shot('run');
  });

  it('Bull Board lists every queue of the catalog and shows the failed judge chunks', async () => {
    await page.goto(`${dash.url}queues`);
    for (const name of QUEUE_NAMES) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
    await shot('queues');
    await page.goto(`${dash.url}queues/queue/judge?status=failed`);
    const failedJudge = (await host.queues.judge.getFailed(0, -1)).find((j) => (j.data as { runId: string }).runId === runId)!;
    await page.getByText(String(failedJudge.id)).first().waitFor({ timeout: 15_000 });
    await shot('queues-judge-failed');
  });

  it('"retry" on a failed judge chunk completes it and the run page numbers change', async () => {
    await page.goto(`${dash.url}runs/${runId}`);
    const failedBefore = await page.locator('#failed tbody tr').count();
    const unjudgedBefore = Number(await page.locator('#card-unjudged b').innerText());
    const callsBefore = await page.locator('#card-calls b').innerText();
    expect(unjudgedBefore).toBeGreaterThan(0);
    const jobId = await page.locator('#failed tbody tr').first().getAttribute('data-job');
    await page.locator('#failed tbody tr').first().locator('button.retry').click();
    // The POST redirects back to the run page; the live view then follows the late apply.
    // Expressions run in the page (this file has no DOM types).
    await page
      .waitForFunction(`Number(document.querySelector('#card-unjudged b')?.textContent ?? 'NaN') < ${unjudgedBefore}`, undefined, { timeout: 45_000 })
      .catch(async (e: unknown) => {
        // Say where the retried chunk got stuck before failing.
        const job = await host.queues.judge.getJob(jobId!);
        const late = (await host.queues.apply.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])).filter((j) => j?.name === 'apply-late');
        throw new Error(`${(e as Error).message}\njudge job ${jobId}: ${job ? await job.getState() : 'gone'} ${job?.failedReason ?? ''}\nlate applies: ${JSON.stringify(await Promise.all(late.map(async (j) => [j.id, await j.getState(), j.failedReason])))}\nunjudged in Redis: ${(await host.store.unjudged(runId)).size}`);
      });
    await page.waitForFunction(`!document.querySelector('#failed tr[data-job=${JSON.stringify(jobId)}]')`, undefined, { timeout: 15_000 });
    expect(await page.locator('#card-calls b').innerText()).not.toBe(callsBefore);
    expect(await page.locator('#failed tbody tr').count()).toBe(failedBefore - 1);
    const job = await host.queues.judge.getJob(jobId!);
    expect(await job!.getState()).toBe('completed');
    await shot('run-after-retry');
  });

  it('"retry all" (an operator\'s POST /api/runs/:id/retry-failed) retries every failed chunk of the run, and the page empties its list', async () => {
    const failed = (await host.queues.judge.getFailed(0, -1)).filter((j) => (j.data as { runId: string }).runId === runId).map((j) => String(j.id));
    expect(failed.length).toBeGreaterThan(0);
    const res = await fetch(new URL(`/api/runs/${runId}/retry-failed`, dash.url), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { runId: string; retried: string[] };
    expect(body.runId).toBe(runId);
    expect([...body.retried].sort()).toEqual([...failed].sort());
    await page.waitForFunction(`document.querySelectorAll('#failed tbody tr').length === 0`, undefined, { timeout: 30_000 });
    for (const id of failed) await expect.poll(async () => (await host.queues.judge.getJob(id))?.getState(), { timeout: 30_000 }).toBe('completed');
  });

  it('no request left for another host', () => {
    expect(offHost).toEqual([]);
  });
});
