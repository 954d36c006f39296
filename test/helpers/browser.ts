/** Debian's Chromium through playwright-core, for the browser tests (never a downloaded browser). */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';
import { type RunningDashboard, startDashboard } from '../../dashboard/index.js';
import { PROJECT_ROOT } from './fixtures.js';
import type { TestRedis } from './redis.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (Debian's package)`);
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A route handler that lets requests to `origin` through and aborts (and records) every other. */
function onlyTo(origin: string, offHost: string[]): (route: Route) => Promise<void> {
  return async (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) return await route.continue();
    offHost.push(url);
    return await route.abort();
  };
}

/**
 * Debian's Chromium shared by the tests of a file or describe block: launched before the first,
 * closed after the last. `offHost` records every request its pages tried outside their origin.
 * The object is filled in by beforeAll: read `browser` inside tests and hooks only.
 */
export function chromiumForBlock(): { browser: Browser; offHost: string[] } {
  const handle = { offHost: [] as string[] } as { browser: Browser; offHost: string[] };
  beforeAll(async () => {
    handle.browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await handle.browser?.close();
  });
  return handle;
}

/** Where the browser tests keep their screenshots. */
export const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'dashboard');

/** A full-page screenshot kept as a test artifact: test-artifacts/dashboard/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A browser context (its own cookies) whose pages may reach only `origin`; anything else is aborted and recorded in `offHost`. */
export async function contextOnlyFor(browser: Browser, origin: string, offHost: string[]): Promise<BrowserContext> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await ctx.route('**/*', onlyTo(origin, offHost));
  return ctx;
}

/** A page that may reach only `origin`: anything else is aborted and recorded in `offHost`. */
export async function pageOnlyFor(browser: Browser, origin: string, offHost: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.route('**/*', onlyTo(origin, offHost));
  return page;
}

/** The dashboard on this test's Redis (any free port) and a Chromium page that may reach only it; close() ends both. */
export interface ChromiumDashboard {
  dash: RunningDashboard;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export async function dashboardInChromium(redis: TestRedis, token: string, offHost: string[]): Promise<ChromiumDashboard> {
  const dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token, liveIntervalMs: 300 });
  const browser = await launchChromium();
  const close = async () => {
    await browser.close();
    await dash.close();
  };
  return { dash, browser, page: await pageOnlyFor(browser, new URL(dash.url).origin, offHost), close };
}

/**
 * The dashboard on this test's Redis (any free port, live updates every 300 ms) and a page of a
 * browser context of its own that may reach only it, signed in with `tokens.token` on the
 * overview. close() ends both.
 */
export interface DashboardTab {
  dash: RunningDashboard;
  ctx: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function dashboardTab(browser: Browser, redis: TestRedis, tokens: { token: string; viewerToken?: string }, offHost: string[]): Promise<DashboardTab> {
  const dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, ...tokens, liveIntervalMs: 300 });
  const ctx = await contextOnlyFor(browser, new URL(dash.url).origin, offHost);
  const page = await ctx.newPage();
  await page.goto(`${dash.url}?token=${tokens.token}`);
  const close = async () => {
    await ctx.close();
    await dash.close();
  };
  return { dash, ctx, page, close };
}

/**
 * Presses Retry on a failed job in Bull Board's own UI (`dashboardUrl` ends in "/"), confirms the
 * dialog Bull Board shows first ("confirm job actions" is on by default) and expects its PUT to
 * succeed.
 */
export async function retryInBullBoard(page: Page, dashboardUrl: string, queue: string, jobId: string, waitMs: number): Promise<void> {
  await page.goto(`${dashboardUrl}queues/queue/${queue}?status=failed`);
  const card = page.locator('div[class^="card-"]', { has: page.getByText(jobId, { exact: true }) });
  await card.waitFor({ timeout: waitMs });
  await card.locator('button:has(svg.lucide-refresh-cw)').click();
  const confirm = page.getByRole('alertdialog').or(page.getByRole('dialog')).filter({ hasText: 'Are you sure that you want to retry this job?' });
  await confirm.waitFor();
  const put = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes(`/queues/api/queues/${queue}/${encodeURIComponent(jobId)}/retry`));
  await confirm.getByRole('button', { name: 'Confirm' }).click();
  expect((await put).ok()).toBe(true);
}
