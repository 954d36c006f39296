/**
 * A judge outage, end to end, with real processes: the judge provider (a fake OpenAI-compatible
 * server) answers 500 to every request; `vault-loop run` ends non-zero saying "judge failed for N
 * chunks" and naming the command that continues it. The provider is fixed; no run process is
 * alive; `vault-loop dashboard --vault` serves Bull Board, where an operator presses Retry on each
 * failed judge job in headless Chromium. The dashboard process judges the chunks and applies the
 * late results to the vault: the run's records come to include the late verdicts.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextOnlyFor, launchChromium, retryInBullBoard } from '../helpers/browser.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { freshVault, joinedCommands, offlineAnswerer, readRecords, runCli, startCli } from '../helpers/pipeline.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

const TOKEN = 'operator-token-outage';
const API_KEY = 'sk-outage';

let redis: TestRedis;
let browser: Browser;
const children: ChildProcess[] = [];
beforeAll(async () => {
  redis = await useTestRedis('judge-outage');
  browser = await launchChromium();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await browser?.close();
  await redis.cleanup();
});

/** A free port of the range this test may use. */
async function freePort(from = 17200, to = 17299): Promise<number> {
  for (let port = from + Math.floor(Math.random() * 50); port <= to; port++) {
    const ok = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

async function poll<T>(what: string, fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)?.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('judge outage, then Retry in Bull Board with no run alive', () => {
  it('the run ends non-zero with its reason; after the fix, Bull Board Retry in the browser gets the late verdicts into the records through the dashboard started with --vault', async () => {
    const vault = await freshVault(300, 93);
    const server = await FakeLlmServer.start({ protocol: 'openai', apiKey: API_KEY, answer: await offlineAnswerer(93) });
    for (let i = 0; i < 300; i++) server.script({ type: 'error', status: 500, message: 'internal error' });
    const common = ['--redis', redis.url, '--prefix', redis.prefix];
    const env = { OPENAI_API_KEY: API_KEY, VAULT_LOOP_LOG_LEVEL: 'error' };
    try {
      const run = await runCli(
        ['run', '--vault', vault, ...common, '--provider', 'offline', '--judge-provider', 'openai', '--judge-model', 'judge-model', '--judge-base-url', server.baseUrl,
          '--max-iters', '3', '--max-calls', '60', '--gen-batch-size', '5', '--gen-calls-per-iter', '2', '--judge-chunk-size', '5', '--max-drop-rate', '1', '--progress', 'none'],
        env,
        children,
      );
      expect(run.code, run.out).not.toBe(0);
      expect(run.out).toMatch(/stopped: judge failed for 2 chunks/);
      expect(run.out).toMatch(/failed judge chunks \(2\):/);
      const cont = /continue with: (vault-loop retry .*)$/m.exec(joinedCommands(run.out));
      expect(cont?.[1], run.out).toContain('--run ');
      const runId = /run (\S+): failed/.exec(run.out)![1]!;
      const before = readRecords(vault, runId);
      expect(before.summary.status).toBe('failed');
      // The run stopped after the iteration whose judge failed: no further drafts nobody can judge.
      expect(before.summary.iterations).toBe(1);
      const generated = before.iters[0]!.record!.generated;
      expect(generated).toBe(10);
      expect(before.iters[0]!.record!.unjudged).toBe(generated);
      expect(before.summary.failed_judge_chunks.map((c) => c.chunk)).toEqual([0, 1]);

      // The provider is fixed. No run process is alive: only the dashboard, started with --vault.
      server.clearScript();
      const port = await freePort();
      const dash = startCli(['dashboard', '--vault', vault, ...common, '--port', String(port)], { ...env, DASHBOARD_TOKEN: TOKEN }, children);
      const url = (await poll('the dashboard to listen', () => /dashboard at (http:\/\/\S+?\/) /.exec(dash.out())?.[1], (v) => Boolean(v), 60_000))!;
      const offHost: string[] = [];
      const ctx = await contextOnlyFor(browser, new URL(url).origin, offHost);
      try {
        const page = await ctx.newPage();
        await page.goto(`${url}?token=${TOKEN}`);
        for (const chunk of [0, 1]) {
          const jobId = `${runId}-i0-k${chunk}-judge`;
          await retryInBullBoard(page, url, 'judge', jobId, 30_000);
        }
        expect(offHost).toEqual([]);
      } finally {
        await ctx.close();
      }

      // The dashboard process judges and applies: the records include every late verdict.
      const after = await poll('the late verdicts in the records', () => readRecords(vault, runId), (r) => r.summary.history[0]?.unjudged === 0, 120_000);
      const it0 = after.iters[0]!;
      expect(it0.record!.late_applied).toBe(generated);
      expect(it0.judge!.n_judged).toBe(generated);
      expect(it0.judge!.details.every((d) => d.late)).toBe(true);
      expect(after.summary.failed_judge_chunks).toEqual([]);
      for (const d of it0.judge!.details) expect(existsSync(join(vault, d.path)), `${d.verdict} ${d.path}`).toBe(d.verdict !== 'DROP');
      expect(server.violations).toEqual([]);
      dash.child.kill('SIGTERM');
      await dash.exit;
    } finally {
      await server.close();
    }
  });
});
