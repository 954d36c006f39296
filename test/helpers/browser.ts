/** Debian's Chromium through playwright-core, for the browser tests (never a downloaded browser). */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
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

/** The dashboard on this test's Redis (any free port) and a Chromium page that may reach only it. */
export async function dashboardInChromium(redis: TestRedis, token: string, offHost: string[]): Promise<{ dash: RunningDashboard; browser: Browser; page: Page }> {
  const dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token, liveIntervalMs: 300 });
  const browser = await launchChromium();
  return { dash, browser, page: await pageOnlyFor(browser, new URL(dash.url).origin, offHost) };
}
