/**
 * The dashboard in Debian's Chromium, more lines of issue #7, each checked against the run's own
 * records rather than for mere presence:
 *   - the verdict chart's bars are the PASS / NEEDS_FIX / DROP counts of each iteration's
 *     judge_summary.json (one bar per non-zero count, in the verdict colours, heights to scale);
 *   - the top-priority chart's points, the calls-used-vs-budget chart and the iteration table's
 *     rows carry the values of each iter_NN/iter_record.json (and the budget of loop_summary.json);
 *   - the run page's own "retry all" button retries every failed judge chunk of the run.
 * Screenshots go to test-artifacts/dashboard/.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { VERDICT_COLORS } from '../../dashboard/charts.js';
import type { CorpusHost } from '../../src/scheduler/host.js';
import type { IterRecord, JudgeSummary } from '../../src/scheduler/records.js';
import type { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { ARTIFACTS, contextOnlyFor as contextOnlyForBrowser, launchChromium, screenshot } from '../helpers/browser.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';
import { failingJudge } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

const OPERATOR = 'evidence2-operator-token';
/** USD per million tokens: costs are real, non-zero numbers. */
const PRICES = { 'offline-v1': { input: 3, output: 15 }, 'judge-model': { input: 1, output: 4 } };
const KINDS = ['PASS', 'NEEDS_FIX', 'DROP'] as const;

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
  let redis: TestRedis;
  let host: CorpusHost;
  let dash: RunningDashboard;
  let ctx: BrowserContext;
  let page: Page;
  let runId: string;
  let vault: string;
  let iters: { record: IterRecord; judge: JudgeSummary }[];

  beforeAll(async () => {
    redis = await useTestRedis('e2e-dashboard-evidence2');
    vault = await freshVault(300, 21);
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
    const done = await runToEnd(redis, cfg);
    expect(done.state.status).toBe('completed');
    runId = done.runId;
    host = done.host;
    iters = iterationRecords(vault, runId);
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: OPERATOR, liveIntervalMs: 300 });
    ctx = await contextOnlyFor(new URL(dash.url).origin);
    page = await ctx.newPage();
    await page.goto(`${dash.url}?token=${OPERATOR}`);
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    await dash?.close();
    await host?.close();
    await redis?.cleanup();
  });

  it('the verdict chart has one bar per iteration and verdict, with the counts of judge_summary.json (and GET /api/runs/:id), in the PASS / NEEDS_FIX / DROP colours, heights to scale', async () => {
    // A run worth drawing: several iterations, and each verdict somewhere.
    expect(iters.length).toBe(3);
    for (const k of KINDS) expect(iters.reduce((a, i) => a + i.judge.verdicts[k], 0), k).toBeGreaterThan(0);
    // The counts differ from bar to bar, so a bar drawn for the wrong count or iteration shows.
    expect(new Set(iters.flatMap((i) => KINDS.map((k) => i.judge.verdicts[k]))).size).toBeGreaterThan(2);

    await page.goto(`${dash.url}runs/${runId}`);
    await page.locator('svg#chart-verdicts').waitFor();
    const fromRecords = iters.map((i) => ({ iter: i.record.iter, verdicts: i.judge.verdicts }));
    expectVerdictBars(await readChart(page, 'chart-verdicts'), fromRecords);

    const api = (await (await fetch(new URL(`/api/runs/${runId}`, dash.url), { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as {
      iterations: { iter: number; verdicts: Record<(typeof KINDS)[number], number> }[];
    };
    expect(api.iterations.map((i) => ({ iter: i.iter, verdicts: i.verdicts }))).toEqual(fromRecords);
    // The card's totals are the same verdicts.
    const totals = KINDS.map((k) => iters.reduce((a, i) => a + i.judge.verdicts[k], 0)).join(' / ');
    expect(await page.locator('#card-verdicts b').innerText()).toBe(totals);
    await shot(page, 'evidence2-verdict-chart');
  });

  it('the iteration table has one row per iter_record.json, with its top cell, top priority, plan, generated, verdicts, unjudged, calls (total), tokens, cost and wall time', async () => {
    await page.goto(`${dash.url}runs/${runId}`);
    const headers = (await page.locator('#iterations thead th').allInnerTexts()).map((h) => h.trim());
    const rows = page.locator('#iterations tbody tr');
    expect(await rows.count()).toBe(iters.length);
    // Real numbers: priced tokens, calls on every iteration.
    expect(iters.every((i) => i.record.cost_usd > 0 && i.record.calls_used_iter > 0 && i.record.top_priority !== null)).toBe(true);
    for (const [n, { record: r, judge: j }] of iters.entries()) {
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
    const pts = iters.map((i) => ({ iter: String(i.record.iter), p: i.record.top_priority! }));
    // Distinct priorities, so the order of the points says something.
    expect(new Set(pts.map((x) => x.p.toFixed(3))).size).toBe(pts.length);
    await page.goto(`${dash.url}runs/${runId}`);
    const chart = await readChart(page, 'chart-priority');
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
    await page.locator('svg#chart-priority').screenshot({ path: join(ARTIFACTS, 'evidence2-priority-chart.png') });
  });

  it('the calls chart draws each iteration\'s calls_used_total against a dashed budget line labelled "budget <max_calls>", on one scale', async () => {
    const { summary } = readRecords(vault, runId);
    const totals = iters.map((i) => ({ iter: String(i.record.iter), calls: i.record.calls_used_total }));
    expect(totals.at(-1)!.calls).toBe(summary.calls_used_total);
    expect(new Set(totals.map((t) => t.calls)).size).toBe(totals.length);
    await page.goto(`${dash.url}runs/${runId}`);
    const chart = await readChart(page, 'chart-calls');
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
    await page.locator('svg#chart-calls').screenshot({ path: join(ARTIFACTS, 'evidence2-calls-chart.png') });
  });

  it('no request left for another host', () => {
    expect(offHost).toEqual([]);
  });
});

describe('the run page\'s "retry all" button', () => {
  let redis: TestRedis;
  let server: FakeLlmServer;
  let host: CorpusHost;
  let dash: RunningDashboard;
  let ctx: BrowserContext;
  let page: Page;
  let runId: string;
  let vault: string;

  beforeAll(async () => {
    redis = await useTestRedis('e2e-dashboard-evidence2-retry');
    vault = await freshVault(300, 22);
    // Every judge call fails until the script is cleared: the run ends with failed judge chunks.
    const failing = await failingJudge(22, { failures: 200 });
    server = failing.server;
    const cfg = testConfig(redis, vault, {
      maxIters: 2,
      maxCalls: 60,
      maxDropRate: 1,
      ...failing.judge,
      offlineDefectRate: 0.6,
      offlineDefectKinds: ['form', 'wrong-arithmetic'],
      prices: PRICES,
    });
    const done = await runToEnd(redis, cfg);
    expect(done.state.status).toBe('completed');
    runId = done.runId;
    // The corpus host stays up: it consumes the apply queue that the retried chunks' late applies need.
    host = done.host;
    server.clearScript();
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: OPERATOR, liveIntervalMs: 300 });
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

  const failedOfRun = async () => (await host.queues.judge.getFailed(0, -1)).filter((j) => j.data.runId === runId).map((j) => String(j.id)).sort();

  it('clicking "retry all (n)" posts the form, comes back to the run page, and every failed judge chunk of the run completes: the list empties, nothing is unjudged, and the verdict chart shows the late verdicts', async () => {
    const failed = await failedOfRun();
    expect(failed.length).toBeGreaterThan(1);
    expect(failed.every((id) => id.startsWith(`${runId}-`))).toBe(true);
    const before = iterationRecords(vault, runId);
    expect(before.every((i) => i.judge.unjudged.length > 0)).toBe(true);

    await page.goto(`${dash.url}runs/${runId}`);
    expect((await page.evaluate<string[]>(`[...document.querySelectorAll('#failed tbody tr')].map((tr) => tr.getAttribute('data-job'))`)).sort()).toEqual(failed);
    const button = page.locator('#btn-retry-failed');
    expect(await button.innerText()).toBe(`retry all (${failed.length})`);
    await shot(page, 'evidence2-before-retry-all');

    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === `${dash.url}api/runs/${runId}/retry-failed`);
    await button.click();
    expect((await posted).status()).toBe(303);
    await page.waitForURL(`${dash.url}runs/${runId}`);

    // Each chunk that failed is judged now; the open page follows without a reload.
    for (const id of failed) await expect.poll(async () => (await host.queues.judge.getJob(id))?.getState(), { timeout: 45_000 }).toBe('completed');
    expect(await failedOfRun()).toEqual([]);
    await expect.poll(async () => (await host.store.unjudged(runId)).size, { timeout: 30_000 }).toBe(0);
    await page.locator('#failed-none').waitFor({ timeout: 30_000 });
    await page.waitForFunction(`document.querySelector('#card-unjudged b')?.textContent === '0'`, undefined, { timeout: 30_000 });
    expect(await page.locator('#btn-retry-failed').count()).toBe(0);

    // The late applies rewrote judge_summary.json; the chart draws those verdicts.
    await expect.poll(() => iterationRecords(vault, runId).every((i) => i.judge.unjudged.length === 0 && i.judge.n_judged === i.judge.n_items), { timeout: 30_000 }).toBe(true);
    const after = iterationRecords(vault, runId);
    await page.reload();
    expectVerdictBars(await readChart(page, 'chart-verdicts'), after.map((i) => ({ iter: i.record.iter, verdicts: i.judge.verdicts })));
    await shot(page, 'evidence2-after-retry-all');
  });

  it('no request left for another host', () => {
    expect(offHost).toEqual([]);
  });
});
