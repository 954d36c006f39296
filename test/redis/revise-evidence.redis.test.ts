/**
 * Evidence for issue #10 (NEEDS_FIX is not a dead end), through the real entry points:
 *  - `vault-loop run --revise` (the CLI flag): the iteration's records show the verdicts before
 *    and after revision;
 *  - "send to revision" clicked on the dashboard's review page (operator credential, Debian's
 *    Chromium), then `vault-loop revise --vault DIR --run RUN` revises exactly the drafts sent
 *    (a PASS draft among them, which nothing else would revise), judges them again, and its
 *    records show both verdicts.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/index.js';
import { readJson, runDir } from '../../src/scheduler/records.js';
import { RunStore, type AppliedVerdict } from '../../src/scheduler/state.js';
import { launchChromium, pageOnlyFor } from '../helpers/browser.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runCli, runToEnd, testConfig } from '../helpers/pipeline.js';

let redis: TestRedis;
const children: ChildProcess[] = [];
beforeAll(async () => {
  redis = await useTestRedis('revise-evidence');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await redis.cleanup();
});

const conn = () => ['--redis', redis.url, '--prefix', redis.prefix];
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const summaryOf = (out: string) => JSON.parse(out.slice(out.indexOf('{\n'))) as { run_id: string; stopped_reason: string };

describe('vault-loop run --revise (CLI)', () => {
  it('the flag revises the NEEDS_FIX drafts and judges them again: the records show the verdicts before and after', async () => {
    const vault = await freshVault(300, 91);
    // prettier-ignore
    const r = await runCli(['run', '--vault', vault, '--revise', '--max-iters', '1', '--max-calls', '60', '--offline-defect-rate', '0.6',
      '--offline-defect-kinds', 'form,form,form,wrong-arithmetic', '--gen-batch-size', '6', '--gen-calls-per-iter', '2', '--judge-chunk-size', '6',
      '--batch-window', '50', '--max-drop-rate', '1', '--variant-salt', 'cli-revise', '--progress', 'none', '--json', ...conn()], {}, children);
    expect(r.code, r.out).toBe(0);
    const runId = summaryOf(r.out).run_id;
    // No config file sets it: the flag did.
    expect(existsSync(join(vault, 'vault-loop.config.yaml'))).toBe(false);
    expect(readJson<{ config: { revise: boolean } }>(join(runDir(vault, runId), 'run.json'))!.config.revise).toBe(true);

    const rec = readRecords(vault, runId);
    const it0 = rec.iters[0]!;
    const record = it0.record!;
    const details = it0.judge!.details;
    const revised = details.filter((d) => d.round === 1);
    // Before: the first judging's verdicts; NEEDS_FIX among them, and each was revised.
    expect(record.revisions.verdicts_before.NEEDS_FIX).toBeGreaterThan(1);
    expect(record.revisions.skipped).toEqual([]);
    expect(record.revisions.revised).toBe(record.revisions.verdicts_before.NEEDS_FIX);
    expect(revised).toHaveLength(record.revisions.verdicts_before.NEEDS_FIX);
    for (const d of revised) {
      // Each revised draft carries its first verdict in its history and its new verdict on a new file.
      expect(d.history).toHaveLength(1);
      expect(d.history[0]!.verdict).toBe('NEEDS_FIX');
      expect(d.history[0]!.fileHash).not.toBe(d.file_hash);
      if (d.verdict === 'DROP') expect(existsSync(join(vault, d.path))).toBe(false);
      else expect(sha(join(vault, d.path))).toBe(d.file_hash);
    }
    // After: the judge summary counts the final verdicts, with fewer NEEDS_FIX than before.
    const after = { PASS: 0, NEEDS_FIX: 0, DROP: 0 };
    for (const d of details) after[d.verdict]++;
    expect(it0.judge!.verdicts).toEqual(after);
    expect(after.NEEDS_FIX).toBeLessThan(record.revisions.verdicts_before.NEEDS_FIX);
    expect(record.applied.kept_needs_fix).toBe(after.NEEDS_FIX);
    expect(rec.summary.history[0]!.revisions.verdicts_before).toEqual(record.revisions.verdicts_before);
  });
});

describe('send to revision from the review page, then vault-loop revise', () => {
  const TOKEN = 'revise-evidence-operator';
  let vault: string;
  let runId: string;
  let dash: RunningDashboard;
  let browser: Browser | undefined;
  let store: RunStore;
  let sentNeedsFix: AppliedVerdict;
  let sentPass: AppliedVerdict;
  let accepted: AppliedVerdict[];

  beforeAll(async () => {
    vault = await freshVault(300, 92);
    const cfg = testConfig(redis, vault, { offlineDefectRate: 0.6, offlineDefectKinds: ['form'], maxIters: 1, maxDropRate: 1, maxCalls: 60, genBatchSize: 6, genCallsPerIter: 2, judgeChunkSize: 6 });
    const done = await runToEnd(redis, cfg);
    runId = done.runId;
    expect(done.state.status).toBe('completed');
    await done.host.close();
    store = new RunStore(redis.client, redis.prefix);
    const all = [...(await store.verdicts(runId)).values()].sort((a, b) => a.id.localeCompare(b.id));
    const needsFix = all.filter((v) => v.verdict === 'NEEDS_FIX');
    const pass = all.filter((v) => v.verdict === 'PASS');
    expect(needsFix.length).toBeGreaterThanOrEqual(2);
    expect(pass.length).toBeGreaterThanOrEqual(1);
    sentNeedsFix = needsFix[0]!;
    sentPass = pass[0]!;
    accepted = needsFix.slice(1);
    dash = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: TOKEN });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await dash?.close();
  });

  it('an operator clicks "send to revision" on a NEEDS_FIX and a PASS draft; the run records it', async () => {
    browser = await launchChromium();
    const offHost: string[] = [];
    const page = await pageOnlyFor(browser, new URL(dash.url).origin, offHost);
    await page.goto(`${dash.url}runs/${runId}/review?include=pass&token=${TOKEN}`);
    await page.waitForURL(`**/runs/${runId}/review?include=pass`);
    for (const v of [sentNeedsFix, sentPass]) {
      const section = page.locator(`section.draft[data-draft="${v.id}"]`);
      expect(await section.getAttribute('data-verdict')).toBe(v.verdict);
      await section.locator('button.revise').click();
      await page.waitForURL(`**/runs/${runId}/review?include=pass#draft-${v.id}`);
      expect(await page.locator(`section.draft[data-draft="${v.id}"]`).getAttribute('data-review')).toBe('sent-to-revision');
      expect(await page.locator(`section.draft[data-draft="${v.id}"] .review`).innerText()).toMatch(/^sent to revision by operator at /);
    }
    expect(offHost).toEqual([]);
    // The other NEEDS_FIX drafts are accepted (the JSON API, same credential): nothing else is left to revise.
    for (const v of accepted) {
      const res = await fetch(new URL(`/api/runs/${runId}/drafts/${v.id}/accept`, dash.url), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
    }
    const stored = await store.verdicts(runId);
    for (const v of [sentNeedsFix, sentPass]) expect(stored.get(v.id)!.review).toMatchObject({ action: 'sent-to-revision', by: 'operator' });
    const details = readRecords(vault, runId).iters[0]!.judge!.details;
    for (const v of [sentNeedsFix, sentPass]) expect(details.find((d) => d.id === v.id)!.review).toMatchObject({ action: 'sent-to-revision', by: 'operator' });
  });

  it('vault-loop revise --run RUN revises exactly the drafts sent to revision and judges them again; its records show both verdicts', async () => {
    const r = await runCli(['revise', '--vault', vault, '--run', runId, '--max-calls', '20', '--progress', 'none', '--json', ...conn()], {}, children);
    expect(r.code, r.out).toBe(0);
    const summary = summaryOf(r.out);
    expect(summary.stopped_reason).toBe('revision complete');
    const rec = readRecords(vault, summary.run_id);
    const it0 = rec.iters[0]!;
    const details = it0.judge!.details;
    expect(details.map((d) => d.id).sort()).toEqual([sentNeedsFix.id, sentPass.id].sort());
    for (const before of [sentNeedsFix, sentPass]) {
      const d = details.find((x) => x.id === before.id)!;
      expect(d.round).toBe(1);
      expect(d.history).toHaveLength(1);
      expect(d.history[0]).toMatchObject({ verdict: before.verdict, fileHash: before.fileHash });
      // Revised: a new file was judged (or the revision was DROPped and deleted).
      expect(d.file_hash).not.toBe(before.fileHash);
      if (d.verdict === 'DROP') expect(existsSync(join(vault, d.path))).toBe(false);
      else expect(sha(join(vault, d.path))).toBe(d.file_hash);
    }
    expect(it0.record!.revisions.revised).toBe(2);
    expect(it0.record!.revisions.verdicts_before).toEqual({ PASS: 1, NEEDS_FIX: 1, DROP: 0 });
    // The accepted drafts were left as they were judged.
    for (const v of accepted) expect(sha(join(vault, v.path))).toBe(v.fileHash);
  });
});
