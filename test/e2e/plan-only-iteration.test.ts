/**
 * A completed run whose last iteration was planned and never dispatched (the plan step chose its
 * top cell, then stopped the run: here on the DROP rate of the iteration before) shows that
 * iteration as "planned only" on its run page in Chromium, never as "running".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChromiumDashboard, dashboardInChromium, screenshot } from '../helpers/browser.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';

const TOKEN = 'e2e-plan-only-token';

const redis = fileRedis('e2e-plan-only');
const offHost: string[] = [];
let ui: ChromiumDashboard;
let runId: string;
let planOnly: number;

beforeAll(async () => {
  const vault = await freshVault(300, 12);
  // Offline drafts with defects: the judge DROPs some, and a DROP rate above 1 % stops the run at
  // the next plan step, after it chose that iteration's top cell.
  const cfg = testConfig(redis, vault, { maxIters: 3, maxCalls: 60, maxDropRate: 0.01, offlineDefectRate: 0.5 });
  const done = await runToEnd(redis, cfg);
  await done.host.close();
  expect(done.state.status).toBe('completed');
  expect(done.state.stopReason).toMatch(/DROP rate/);
  runId = done.runId;
  planOnly = done.state.iter;
  // The stopping iteration has a top cell in Redis but no record: it never ran.
  const rec = readRecords(vault, runId);
  expect(rec.summary.iterations).toBe(planOnly);
  expect(planOnly).toBeGreaterThan(0);
  ui = await dashboardInChromium(redis, TOKEN, offHost);
}, 120_000);

afterAll(() => ui?.close());

describe('a completed run whose last iteration was only planned', () => {
  it('shows that iteration as "planned only" on the run page, the iterations before it with their wall time', async () => {
    await ui.page.goto(`${ui.dash.url}runs/${runId}?token=${TOKEN}`);
    await ui.page.waitForSelector('#iterations tbody tr');
    const rows = await ui.page.locator('#iterations tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    const byIter = new Map(rows.map((cells) => [Number(cells[0]), cells]));
    const last = byIter.get(planOnly);
    expect(last, JSON.stringify(rows)).toBeDefined();
    // It has the top cell its plan chose, and nothing generated.
    expect(last![1]).toMatch(/ \/ /);
    expect(last![4]).toBe('0');
    expect(last!.at(-1)).toBe('planned only');
    expect(rows.flat()).not.toContain('running');
    for (let i = 0; i < planOnly; i++) expect(byIter.get(i)!.at(-1), `iter ${i}`).toMatch(/^\d/);
    expect(offHost).toEqual([]);
    await screenshot(ui.page, 'run-plan-only-iteration');
  });
});
