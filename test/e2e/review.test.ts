/**
 * The review page in Debian's Chromium: a real small loop (offline provider, defects and visuals
 * on) leaves NEEDS_FIX drafts; an operator accepts one and rejects another by clicking, and the
 * files, the Redis records, judge_summary.json and promote all agree. The screenshot goes to
 * test-artifacts/dashboard/review.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promoteRun } from '../../src/services/promote.js';
import type { CorpusHost } from '../../src/host/corpus-host.js';
import type { AppliedVerdict } from '../../src/state/run-state.js';
import { type ChromiumDashboard, dashboardInChromium } from '../helpers/browser.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'dashboard');
const TOKEN = 'e2e-review-operator-token';

const redis = fileRedis('e2e-review');
const offHost: string[] = [];
const consoleErrors: string[] = [];
let run: { host: CorpusHost; runId: string; vault: string; needsFix: AppliedVerdict[] };
let ui: ChromiumDashboard;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const vault = await freshVault(300, 61);
  // Only soft defects: every draft is kept (PASS or NEEDS_FIX) whatever the run id, so visuals show.
  const cfg = testConfig(redis, vault, { offlineDefectRate: 0.8, offlineDefectKinds: ['form', 'malformed-area'], visualEachIter: true, strategy: 'balanced', maxIters: 1, maxDropRate: 1, maxCalls: 60, genBatchSize: 8, genCallsPerIter: 2, judgeChunkSize: 8 });
  const { runId, state, host } = await runToEnd(redis, cfg);
  const needsFix = [...(await host.store.verdicts(runId)).values()].filter((v) => v.verdict === 'NEEDS_FIX').sort((a, b) => a.id.localeCompare(b.id));
  run = { host, runId, vault, needsFix };
  expect(state.status).toBe('completed');
  expect(needsFix.length).toBeGreaterThanOrEqual(2);
  // Only the dashboard may be reached: anything else is aborted and recorded.
  ui = await dashboardInChromium(redis, TOKEN, offHost);
  // A CSP violation or a broken image shows up here.
  ui.page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
}, 120_000);

afterAll(async () => {
  await ui?.close();
  await run?.host.close();
});

const draft = (id: string) => ui.page.locator(`section.draft[data-draft="${id}"]`);

describe('review page in Chromium', () => {
  it('the run page links to the review page, which lists every NEEDS_FIX draft with its text, findings and visual', async () => {
    await ui.page.goto(`${ui.dash.url}runs/${run.runId}?token=${TOKEN}`);
    await ui.page.click('#review-link');
    await ui.page.waitForURL(`**/runs/${run.runId}/review`);
    expect(await ui.page.locator('section.draft').count()).toBe(run.needsFix.length);
    for (const v of run.needsFix) {
      const s = draft(v.id);
      expect(await s.getAttribute('data-verdict')).toBe('NEEDS_FIX');
      expect((await s.locator('dd.question').innerText()).length).toBeGreaterThan(0);
      if (v.issues.length) expect(await s.locator('ul.issues li').count()).toBe(v.issues.length);
      expect(await s.locator('button.accept').count()).toBe(1);
    }
  });

  it('with ?include=pass the PASS drafts join, and every rendered visual loads (served from the run vault under its own CSP)', async () => {
    await ui.page.click('#toggle-pass');
    await ui.page.waitForURL(`**/runs/${run.runId}/review?include=pass`);
    const all = [...(await run.host.store.verdicts(run.runId)).values()].filter((v) => v.verdict !== 'DROP');
    expect(await ui.page.locator('section.draft').count()).toBe(all.length);
    const imgs = ui.page.locator('.visual img');
    expect(await imgs.count()).toBeGreaterThan(0);
    for (let i = 0; i < (await imgs.count()); i++) {
      const loaded = (el: unknown) => {
        const img = el as { complete: boolean; naturalWidth: number };
        return img.complete && img.naturalWidth > 0;
      };
      await expect.poll(() => imgs.nth(i).evaluate(loaded)).toBe(true);
    }
    // One draft with its visual, close up.
    await ui.page.locator('section.draft:has(.visual img)').first().screenshot({ path: join(ARTIFACTS, 'review-visual.png') });
    await ui.page.click('#toggle-pass');
    await ui.page.waitForURL(`**/runs/${run.runId}/review`);
  });

  it('accept and reject by clicking: the page shows who did what', async () => {
    const [accepted, rejected] = run.needsFix;
    await draft(accepted!.id).locator('button.accept').click();
    await ui.page.waitForURL(`**/runs/${run.runId}/review#draft-${accepted!.id}`);
    expect(await draft(accepted!.id).getAttribute('data-review')).toBe('accepted');
    expect(await draft(accepted!.id).locator('.review').innerText()).toMatch(/^accepted by operator at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

    await draft(rejected!.id).locator('button.reject').click();
    await ui.page.waitForURL(`**/runs/${run.runId}/review#draft-${rejected!.id}`);
    expect(await draft(rejected!.id).getAttribute('data-review')).toBe('rejected');
    expect(await draft(rejected!.id).locator('.review').innerText()).toMatch(/^rejected by operator/);
    // A deleted draft has nothing left to act on.
    expect(await draft(rejected!.id).locator('button').count()).toBe(0);
    await ui.page.screenshot({ path: join(ARTIFACTS, 'review.png'), fullPage: true });
  });

  it('files, Redis, judge_summary.json and promote agree', async () => {
    const [accepted, rejected] = run.needsFix;
    expect(existsSync(join(run.vault, accepted!.path))).toBe(true);
    expect(existsSync(join(run.vault, rejected!.path))).toBe(false);
    for (const ext of ['dot', 'py', 'svg']) expect(existsSync(join(run.vault, 'visuals', rejected!.path.split('/')[1]!, `${rejected!.id}.${ext}`)), ext).toBe(false);

    const stored = await run.host.store.verdicts(run.runId);
    expect(stored.get(accepted!.id)!.review).toMatchObject({ action: 'accepted', by: 'operator' });
    expect(stored.get(rejected!.id)).toMatchObject({ applied: 'pruned', review: { action: 'rejected', by: 'operator' } });

    const details = readRecords(run.vault, run.runId).iters[0]!.judge!.details;
    expect(details.find((d) => d.id === accepted!.id)!.review).toMatchObject({ action: 'accepted', by: 'operator' });
    expect(details.find((d) => d.id === rejected!.id)).toMatchObject({ applied: 'pruned', review: { action: 'rejected', by: 'operator' } });

    const report = await promoteRun(run.vault, { runId: run.runId, dryRun: true });
    expect(report.rows.find((r) => r.id === accepted!.id)?.result).toBe('promoted');
    expect(report.rows.find((r) => r.id === rejected!.id)).toBeUndefined();
    // The other NEEDS_FIX drafts, unreviewed, are not published.
    for (const v of run.needsFix.slice(2)) expect(report.rows.find((r) => r.id === v.id)).toBeUndefined();
  });

  it('no request left for another host and the browser reported no error', () => {
    expect(offHost).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
