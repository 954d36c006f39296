/**
 * NEEDS_FIX is not a dead end, through every entry point: `vault-loop revise` after a run, `run
 * --revise` through the CLI, "send to revision" on the review page, the judge's findings in the
 * revision prompt, invalid revisions refused, the budget, every iteration, the latest run, and the
 * whole path with no network. (One revision run: test/redis/revise.redis.test.ts; the hand-edit
 * rule and the comparison with a run without --revise: test/unit/core-runs.test.ts.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { fileRedis } from '../helpers/redis.js';
import { afterRun, freshVault, judgedRun, offlineAnswerer, openHost, readRecords, runCli, runToEnd, testConfig } from '../helpers/pipeline.js';
import { createHash } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { type RunningDashboard, startDashboard } from '../../dashboard/index.js';
import { readJson, runDir } from '../../src/scheduler/records.js';
import { listRuns } from '../../src/scheduler/run-folders.js';
import { type AppliedVerdict, RunStore } from '../../src/state/run-state.js';
import { launchChromium, pageOnlyFor } from '../helpers/browser.js';
import type { ChildProcess } from 'node:child_process';
import { Job } from 'bullmq';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../../src/config/index.js';
import { ids } from '../../src/state/job-ids.js';
import type { RunState } from '../../src/state/run-state.js';
import { sizeIteration } from '../../src/scheduler/steps.js';
import { FakeLlmServer, type SeenRequest } from '../helpers/fake-llm/index.js';
import { isGenerate, isJudge } from '../helpers/provider-runs.js';
import { cliWithoutNetwork, embeddedServersKilledAfterAll, redisServersFor } from './checks.js';

const redis = fileRedis('revise-cli');

// Half the drafts get a form defect (→ NEEDS_FIX), a few a wrong sum (→ DROP): enough of each whatever the run id.
const flags = { offlineDefectRate: 0.6, offlineDefectKinds: ['form', 'form', 'form', 'wrong-arithmetic'], maxIters: 2, maxDropRate: 1, maxCalls: 200, genBatchSize: 6, genCallsPerIter: 2, judgeChunkSize: 6 };

describe('vault-loop revise (outside a run)', () => {
  it('revises the NEEDS_FIX drafts a past run left, in a revision run with its own records', async () => {
    const vault = await freshVault(300, 53);
    const { runId, host } = await runToEnd(redis, testConfig(redis, vault, { ...flags, offlineDefectRate: 1, maxIters: 1 }));
    const left = [...(await host.store.verdicts(runId)).values()].filter((v) => v.verdict === 'NEEDS_FIX');
    await host.close();
    expect(left.length).toBeGreaterThan(0);
    const { code, out } = await runCli(['revise', '--vault', vault, '--run', runId, '--max-calls', '20', '--progress', 'none', '--json', '--redis', redis.url, '--prefix', redis.prefix]);
    expect(code, out).toBe(0);
    const summary = JSON.parse(out.slice(out.indexOf('{\n'))) as { run_id: string; stopped_reason: string; max_calls: number; calls_used_total: number };
    expect(summary.stopped_reason).toBe('revision complete');
    expect(summary.max_calls).toBe(20);
    expect(summary.calls_used_total).toBeGreaterThan(0);
    expect(summary.calls_used_total).toBeLessThanOrEqual(20);
    const rec = readRecords(vault, summary.run_id);
    const details = rec.iters[0]!.judge!.details;
    expect(details.map((d) => d.id).sort()).toEqual(left.map((v) => v.id).sort());
    for (const d of details) {
      expect(d.round).toBe(1);
      expect(d.history[0]!.verdict).toBe('NEEDS_FIX');
    }
    expect(rec.iters[0]!.record!.revisions.verdicts_before.NEEDS_FIX).toBe(left.length);
    expect(rec.iters[0]!.record!.applied.kept_needs_fix).toBeLessThan(left.length);
    // What it planned is what it revised (not every verdict of the source run it read).
    expect(rec.iters[0]!.record!.plan_size).toBe(left.length);
    expect(rec.iters[0]!.record!.generated).toBe(left.length);
    expect(JSON.parse(readFileSync(join(vault, '_validation_results/coverage_loop', summary.run_id, 'run.json'), 'utf8'))).toMatchObject({ kind: 'revise', source_run: runId });
  });
});

describe('run --revise and the review page send-to-revision, through the real entry points', () => {
  /**
   * NEEDS_FIX is not a dead end, through the real entry points:
   *  - `vault-loop run --revise` (the CLI flag): the iteration's records show the verdicts before
   *    and after revision;
   *  - "send to revision" clicked on the dashboard's review page (operator credential, Debian's
   *    Chromium), then `vault-loop revise --vault DIR --run RUN` revises exactly the drafts sent
   *    (a PASS draft among them, which nothing else would revise), judges them again, and its
   *    records show both verdicts.
   */
  const children: ChildProcess[] = [];
  const redis = fileRedis('revise-entry', { children });

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
    const TOKEN = 'revise-entry-operator';
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
      const run = await judgedRun(redis, cfg);
      ({ runId, store } = run);
      const { needsFix, pass } = run;
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
});

describe('judge issues reach revisions; invalid revisions refused; budget, defaults, latest run, no network', () => {
  /**
   * NEEDS_FIX is not a dead end, through real Redis, real HTTP fake
   * model servers, real CLI child processes (one of them with no network at all):
   *  - the judge's issues and fix suggestion reach the revise jobs and the `<revisions>` prompt;
   *  - a revision that parses but is not a valid question is refused, the judged file kept;
   *  - the budget limits revisions, in a run and in `vault-loop revise --max-calls N`;
   *  - the default maxRevisions is 1;
   *  - the review page shows the stored criteria and fix suggestion;
   *  - `--revise` revises each iteration before its checkpoint;
   *  - `vault-loop revise` without `--run` takes the latest run that is not a revision run;
   *  - the whole revise path runs with the network taken away (`unshare -n`).
   */
  const children: ChildProcess[] = [];
  const redis = fileRedis('revise-paths', { children });

  type Item = Record<string, unknown>;
  interface RevisionItem {
    id: string;
    draft: { id: string; title: string; scenario: string; question: string };
    issues: string[];
    fix_suggestion: string;
  }

  const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
  const conn = () => ['--redis', redis.url, '--prefix', redis.prefix];
  const summaryOf = (out: string) => JSON.parse(out.slice(out.indexOf('{\n'))) as { run_id: string; stopped_reason: string; max_calls: number; calls_used_total: number };
  const isRevise = (r: { prompt?: string | undefined }): boolean => /^<revisions>\s*$/m.test(r.prompt ?? '');
  const revisionItems = (r: SeenRequest): RevisionItem[] => readPromptBlock(r.prompt!, 'revisions') as RevisionItem[];
  const modelVerdicts = async (host: CorpusHost, runId: string): Promise<AppliedVerdict[]> =>
    [...(await host.store.verdicts(runId)).values()].filter((v) => v.source === 'model').sort((a, b) => a.id.localeCompare(b.id));

  // What the fake judge says about draft `id` on its `look`-th sight: unique per draft and per look.
  const CRITERIA = ['math_correct', 'cell_fit', 'scenario_realism', 'uniqueness', 'visual_alignment'] as const;
  const GRADES = ['PASS', 'WARN', 'ERROR', 'N/A'] as const;
  const issueOf = (id: string, look: number) => `ISSUE-${id}-${look}`;
  // Characters the page must escape, so the page test also shows they come back as the judge wrote them.
  const fixOf = (id: string, look: number) => `FS-${id}-${look}: name <the bound> & its unit, "one" 'number'`;
  function criteriaOf(id: string, look: number): Record<string, string> {
    const h = [...id].reduce((a, c) => a + c.charCodeAt(0), look);
    return Object.fromEntries(CRITERIA.map((k, i) => [k, GRADES[(h + i * (i + 1)) % GRADES.length]!]));
  }

  interface FindingsServer {
    server: FakeLlmServer;
    /** The draft each id had when the judge first saw it (from the `<drafts>` block). */
    firstSeen: Map<string, { title: string; scenario: string; question: string }>;
    /** The id whose revision is made invalid (badRevision only), once the first revision request came. */
    victim: () => string | undefined;
  }

  /**
   * An openai-protocol server answering with the offline model, except that its judge says NEEDS_FIX
   * (with unique issues, fix suggestion and criteria) on first sight of a draft and `later` after;
   * with `badRevision`, the revision of the first draft (by id) of the first `<revisions>` request
   * gets a 200-character title: it parses, but no question may have a title over 120 characters.
   */
  async function findingsServer(seed: number, later: 'PASS' | 'NEEDS_FIX', badRevision = false): Promise<FindingsServer> {
    const offline = await offlineAnswerer(seed);
    const looks = new Map<string, number>();
    const firstSeen = new Map<string, { title: string; scenario: string; question: string }>();
    let victim: string | undefined;
    const server = await FakeLlmServer.start({
      protocol: 'openai',
      apiKey: 'sk-stack',
      answer: async (req) => {
        const text = await offline(req);
        if (isJudge(req)) {
          for (const d of readPromptBlock(req.prompt!, 'drafts') as { id: string; title: string; scenario: string; question: string }[]) {
            if (!firstSeen.has(d.id)) firstSeen.set(d.id, { title: d.title, scenario: d.scenario, question: d.question });
          }
          return JSON.stringify(
            (JSON.parse(text) as Item[]).map((v) => {
              const id = String(v.id);
              const look = looks.get(id) ?? 0;
              looks.set(id, look + 1);
              const verdict = look === 0 ? 'NEEDS_FIX' : later;
              return { ...v, verdict, criteria: criteriaOf(id, look), issues: [issueOf(id, look)], fix_suggestion: verdict === 'NEEDS_FIX' ? fixOf(id, look) : '' };
            }),
          );
        }
        if (badRevision && isRevise(req)) {
          victim ??= revisionItems(req)
            .map((x) => x.id)
            .sort()[0];
          return JSON.stringify((JSON.parse(text) as Item[]).map((it) => (it.id === victim ? { ...it, title: 'An overlong title '.repeat(12) } : it)));
        }
        return text;
      },
    });
    return { server, firstSeen, victim: () => victim };
  }

  function serverConfig(vault: string, server: FakeLlmServer, flags: Record<string, unknown> = {}): Config {
    return testConfig(redis, vault, {
      provider: 'openai',
      model: 'gen-model',
      judgeModel: 'judge-model',
      baseUrl: server.baseUrl,
      openaiApiKey: 'sk-stack',
      maxIters: 1,
      maxDropRate: 1,
      maxCalls: 40,
      genCallsPerIter: 1,
      // A full batch goes at once; the long window only keeps a loaded machine from splitting one.
      batchWindowMs: 2000,
      // The offline reviser leaves a clean draft's text as it was: no cached first verdict may answer the second look.
      cacheTtlSeconds: 0,
      revise: true,
      ...flags,
    });
  }

  describe('the judge findings reach the revision (a stubborn judge, default maxRevisions)', () => {
    let fs: FindingsServer;
    let vault: string;
    let runId: string;
    let state: RunState;
    let host: CorpusHost;
    let cfg: Config;
    let verdicts: AppliedVerdict[];

    beforeAll(async () => {
      vault = await freshVault(300, 201);
      fs = await findingsServer(201, 'NEEDS_FIX');
      // maxRevisions is not set: the default applies.
      cfg = serverConfig(vault, fs.server);
      ({ runId, state, host } = await runToEnd(redis, cfg));
      verdicts = await modelVerdicts(host, runId);
    }, 90_000);
    afterAll(async () => {
      await host?.close();
      await fs?.server.close();
    });

    it("every <revisions> prompt item carries that draft's own issues and fix suggestion from the judge, and the draft as it was judged", () => {
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(fs.server.violations).toEqual([]);
      expect(verdicts.length).toBeGreaterThanOrEqual(3);
      const items = fs.server.requests.filter(isRevise).flatMap(revisionItems);
      expect(items.map((x) => x.id).sort()).toEqual(verdicts.map((v) => v.id));
      for (const x of items) {
        expect(x.issues).toEqual([issueOf(x.id, 0)]);
        expect(x.fix_suggestion).toBe(fixOf(x.id, 0));
        const judged = fs.firstSeen.get(x.id)!;
        expect(judged, x.id).toBeDefined();
        expect(x.draft.id).toBe(x.id);
        expect(x.draft.title).toBe(judged.title);
        expect(x.draft.scenario).toBe(judged.scenario);
        expect(x.draft.question).toBe(judged.question);
      }
    });

    it("one revise job per NEEDS_FIX draft; its data holds the draft as judged, the judge's issues and fix suggestion", async () => {
      const jobs = (await host.queues.revise.getJobs(['completed', 'failed'])).filter((j) => j?.data.runId === runId);
      expect(jobs.map((j) => j.data.draft.id).sort()).toEqual(verdicts.map((v) => v.id));
      for (const j of jobs) {
        const id = j.data.draft.id;
        const v = verdicts.find((x) => x.id === id)!;
        expect(await j.getState()).toBe('completed');
        expect(j.id).toBe(ids.revise(runId, 0, 1, id));
        expect(j.data.round).toBe(1);
        expect(j.data.issues).toEqual([issueOf(id, 0)]);
        expect(j.data.fix_suggestion).toBe(fixOf(id, 0));
        // The draft as judged: the file hash of the first verdict, the text the judge saw.
        expect(j.data.draft.fileHash).toBe(v.history[0]!.fileHash);
        expect(j.data.draft.path).toBe(v.path);
        expect(j.data.draft.doc.title).toBe(fs.firstSeen.get(id)!.title);
      }
    });

    it('with the default maxRevisions (1), a draft judged NEEDS_FIX every time is revised exactly once: round 1, one earlier verdict', () => {
      expect(cfg.maxRevisions).toBe(1);
      expect(readJson<{ config: { maxRevisions: number } }>(join(runDir(vault, runId), 'run.json'))!.config.maxRevisions).toBe(1);
      const revisedIds = fs.server.requests.filter(isRevise).flatMap((r) => revisionItems(r).map((x) => x.id));
      for (const v of verdicts) {
        expect(v.verdict).toBe('NEEDS_FIX');
        expect(v.round).toBe(1);
        expect(v.history).toHaveLength(1);
        expect(v.history[0]).toMatchObject({ verdict: 'NEEDS_FIX', fix_suggestion: fixOf(v.id, 0), issues: [issueOf(v.id, 0)] });
        // The second look's findings are the stored ones.
        expect(v.fix_suggestion).toBe(fixOf(v.id, 1));
        expect(revisedIds.filter((id) => id === v.id)).toHaveLength(1);
        expect(readFileSync(join(vault, v.path), 'utf8')).toMatch(/revised-1/);
      }
      const rec = readRecords(vault, runId).iters[0]!.record!;
      expect(rec.revisions.revised).toBe(verdicts.length);
      expect(rec.applied.kept_needs_fix).toBe(verdicts.length);
      expect(state.callsUsed).toBe(fs.server.requests.length);
    });

    it("the review page shows each NEEDS_FIX draft's criteria table and fix suggestion as stored, and the earlier round's suggestion", async () => {
      const TOKEN = 'revise-paths-viewer';
      const dash: RunningDashboard = await startDashboard({ target: { options: redis.options }, prefix: redis.prefix, port: 0, token: TOKEN });
      try {
        const res = await fetch(new URL(`/runs/${runId}/review`, dash.url), { headers: { authorization: `Bearer ${TOKEN}` } });
        expect(res.status).toBe(200);
        const html = await res.text();
        const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
        const stored = await host.store.verdicts(runId);
        for (const v of verdicts) {
          const section = new RegExp(`<section class="draft" id="draft-${v.id}"[^>]*data-verdict="NEEDS_FIX"[^>]*>([\\s\\S]*?)</section>`).exec(html)?.[1];
          expect(section, `section of ${v.id}`).toBeDefined();
          const s = stored.get(v.id)!;
          const table = /<table class="criteria">([\s\S]*?)<\/table>/.exec(section!)?.[1] ?? '';
          const rows = [...table.matchAll(/<tr><td>([\s\S]*?)<\/td><td>([\s\S]*?)<\/td><\/tr>/g)].map((m) => [unescape(m[1]!), unescape(m[2]!)]);
          expect(rows).toEqual(Object.entries(s.criteria));
          // The stored criteria are the judge's (second look), so the page shows what the judge said.
          expect(Object.fromEntries(rows)).toEqual(criteriaOf(v.id, 1));
          const fix = /<dt>fix suggestion<\/dt><dd class="txt fix">([\s\S]*?)<\/dd>/.exec(section!)?.[1];
          expect(fix === undefined ? undefined : unescape(fix)).toBe(s.fix_suggestion);
          expect(s.fix_suggestion).toBe(fixOf(v.id, 1));
          const issues = [.../<ul class="issues">([\s\S]*?)<\/ul>/.exec(section!)![1]!.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => unescape(m[1]!));
          expect(issues).toEqual(s.issues);
          // The earlier verdict (round 0), with its own suggestion.
          const history = /<ol class="history">([\s\S]*?)<\/ol>/.exec(section!)?.[1] ?? '';
          expect(unescape(history)).toContain(`fix: ${fixOf(v.id, 0)}`);
        }
      } finally {
        await dash.close();
      }
    });
  });

  describe('an invalid revision is refused like an invalid draft', () => {
    it('a revision that parses but fails validation leaves the judged file byte for byte, its verdict at round 0, the refusal in revisions.skipped; the others are revised', async () => {
      const vault = await freshVault(300, 202);
      const fs = await findingsServer(202, 'PASS', true);
      await afterRun(redis, serverConfig(vault, fs.server), [fs.server], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        const verdicts = await modelVerdicts(host, runId);
        expect(verdicts.length).toBeGreaterThanOrEqual(3);
        const victim = fs.victim()!;
        expect(verdicts.map((v) => v.id)).toContain(victim);
        // The invalid revision was really sent back, once: asking again would repeat the same request.
        const victimTries = fs.server.requests.filter((r) => isRevise(r) && revisionItems(r).some((x) => x.id === victim));
        expect(victimTries).toHaveLength(1);
        const v = verdicts.find((x) => x.id === victim)!;
        expect(v.round).toBe(0);
        expect(v.verdict).toBe('NEEDS_FIX');
        expect(v.history).toEqual([]);
        // The file is the one that was judged, byte for byte.
        expect(sha(join(vault, v.path))).toBe(v.fileHash);
        expect(readFileSync(join(vault, v.path), 'utf8')).not.toMatch(/overlong title|revised-1/);
        const rec = readRecords(vault, runId).iters[0]!.record!;
        expect(rec.revisions.skipped).toHaveLength(1);
        expect(rec.revisions.skipped[0]!.id).toBe(victim);
        expect(rec.revisions.skipped[0]!.reason).toMatch(new RegExp(`^revision failed: RevisionInvalidError: revision of ${victim} is invalid: .*title`));
        // The others were revised and judged again (this judge passes them on the second look).
        const others = verdicts.filter((x) => x.id !== victim);
        for (const o of others) {
          expect(o.round).toBe(1);
          expect(o.verdict).toBe('PASS');
          expect(o.history[0]!.verdict).toBe('NEEDS_FIX');
          expect(sha(join(vault, o.path))).toBe(o.fileHash);
        }
        expect(rec.revisions.revised).toBe(others.length);
        expect(state.callsUsed).toBe(fs.server.requests.length);
      });
    });
  });

  describe('the budget limits revisions', () => {
    it('maxCalls exactly what generation and judging use: no revision request is made, the NEEDS_FIX drafts stay at round 0, and the budget holds', async () => {
      // One batch of five cells: one generate call, one judge call. A revision would need two more.
      const run = async (maxCalls: number) => {
        const vault = await freshVault(300, 203);
        const fs = await findingsServer(203, 'PASS');
        const done = await runToEnd(redis, serverConfig(vault, fs.server, { maxCalls, variantSalt: 'budget-limits-revisions' }));
        const verdicts = await modelVerdicts(done.host, done.runId);
        await done.host.close();
        await fs.server.close();
        return { ...done, vault, verdicts, requests: fs.server.requests };
      };
      const tight = await run(2);
      expect(tight.state.status, tight.state.stopReason ?? '').toBe('completed');
      expect(tight.requests.filter(isGenerate)).toHaveLength(1);
      expect(tight.requests.filter(isJudge)).toHaveLength(1);
      expect(tight.requests.filter(isRevise)).toHaveLength(0);
      expect(tight.requests).toHaveLength(2);
      expect(tight.state.callsUsed).toBeLessThanOrEqual(2);
      expect(tight.verdicts.length).toBeGreaterThan(0);
      for (const v of tight.verdicts) expect(v).toMatchObject({ verdict: 'NEEDS_FIX', round: 0, history: [] });
      const rec = readRecords(tight.vault, tight.runId);
      expect(rec.iters[0]!.record!.revisions.revised).toBe(0);
      expect(rec.summary.calls_used_total).toBeLessThanOrEqual(2);

      // The same run with two calls more does revise them: the budget was what held them back.
      const room = await run(4);
      expect(room.state.status, room.state.stopReason ?? '').toBe('completed');
      expect(room.verdicts.map((v) => v.id)).toEqual(tight.verdicts.map((v) => v.id));
      expect(room.requests.filter(isRevise)).toHaveLength(1);
      for (const v of room.verdicts) expect(v).toMatchObject({ verdict: 'PASS', round: 1 });
      expect(room.state.callsUsed).toBe(4);
    });

    it('vault-loop revise --max-calls 2 over many NEEDS_FIX drafts revises only as many as two calls allow, the first by id, and uses at most 2 calls', async () => {
      const vault = await freshVault(300, 204);
      // Fifteen drafts, every one with a form defect: NEEDS_FIX.
      const source = await runToEnd(
        redis,
        testConfig(redis, vault, { offlineDefectRate: 1, offlineDefectKinds: ['form'], maxIters: 1, maxDropRate: 1, maxCalls: 40, genBatchSize: 5, genCallsPerIter: 3, judgeChunkSize: 5 }),
      );
      const left = [...(await source.host.store.verdicts(source.runId)).values()].filter((v) => v.verdict === 'NEEDS_FIX').sort((a, b) => a.id.localeCompare(b.id));
      await source.host.close();
      expect(left.length).toBeGreaterThanOrEqual(11);
      const n = sizeIteration(left.length, 2, 5, 5);
      expect(n).toBe(5);

      // prettier-ignore
      const r = await runCli(['revise', '--vault', vault, '--run', source.runId, '--max-calls', '2', '--gen-batch-size', '5', '--judge-chunk-size', '5',
        '--batch-window', '2000', '--progress', 'none', '--json', ...conn()], {}, children);
      expect(r.code, r.out).toBe(0);
      const summary = summaryOf(r.out);
      expect(summary.max_calls).toBe(2);
      expect(summary.calls_used_total).toBeGreaterThan(0);
      expect(summary.calls_used_total).toBeLessThanOrEqual(2);
      const rec = readRecords(vault, summary.run_id);
      const details = rec.iters[0]!.judge!.details;
      const revised = details.filter((d) => d.round === 1).map((d) => d.id).sort();
      expect(revised).toEqual(left.slice(0, n).map((v) => v.id));
      expect(rec.iters[0]!.record!.revisions.revised).toBe(n);
      // Every candidate was planned; the rest were left as judged.
      expect((rec.iters[0]!.plan as { id: string }[]).map((p) => p.id).sort()).toEqual(left.map((v) => v.id));
      for (const v of left.slice(n)) {
        expect(sha(join(vault, v.path))).toBe(v.fileHash);
        const d = details.find((x) => x.id === v.id);
        if (d) expect(d.round).toBe(0);
      }
    }, 90_000);
  });

  describe('--revise in every iteration', () => {
    it("with maxIters 2, each iteration's NEEDS_FIX drafts are revised before that iteration's checkpoint, and iteration 1 is planned only after iteration 0's revisions were judged", async () => {
      const vault = await freshVault(300, 205);
      const cfg = testConfig(redis, vault, {
        revise: true,
        maxIters: 2,
        offlineDefectRate: 0.6,
        offlineDefectKinds: ['form'],
        maxDropRate: 1,
        maxCalls: 200,
        genBatchSize: 6,
        genCallsPerIter: 2,
        judgeChunkSize: 6,
        variantSalt: 'revise-each-iteration',
      });
      await afterRun(redis, cfg, [], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        const rec = readRecords(vault, runId);
        expect(rec.iters).toHaveLength(2);
        const control = host.queues.control;
        const job = async (id: string) => {
          const j = await Job.fromId(control, id);
          expect(j, id).toBeDefined();
          return j!;
        };
        for (const iter of [0, 1]) {
          const r = rec.iters[iter]!.record!;
          expect(r.revisions.verdicts_before.NEEDS_FIX, `iteration ${iter}`).toBeGreaterThan(0);
          expect(r.revisions.revised).toBe(r.revisions.verdicts_before.NEEDS_FIX);
          expect(rec.iters[iter]!.judge!.details.filter((d) => d.round === 1)).toHaveLength(r.revisions.revised);
          // The first judging's checkpoint sent them to revision; the revisions were judged and that
          // checkpoint closed the iteration.
          expect((await job(ids.checkpoint(runId, iter, 0))).returnvalue).toMatchObject({ decision: 'revise', detail: { round: 1, drafts: r.revisions.revised } });
          expect((await job(ids.redispatch(runId, iter, 1))).returnvalue).toMatchObject({ decision: 'judge revisions', detail: { revised: r.revisions.revised } });
          expect((await job(ids.checkpoint(runId, iter, 1))).returnvalue.decision).toBe('next');
        }
        // Iteration 1's plan was added by iteration 0's closing checkpoint, after the revision round.
        const redispatch0 = await job(ids.redispatch(runId, 0, 1));
        const closing0 = await job(ids.checkpoint(runId, 0, 1));
        const plan1 = await job(ids.plan(runId, 1));
        expect(closing0.processedOn!).toBeGreaterThanOrEqual(redispatch0.finishedOn!);
        expect(plan1.timestamp).toBeGreaterThanOrEqual(closing0.processedOn!);
        expect(rec.iters[0]!.record!.finished_at! <= rec.iters[1]!.record!.started_at!).toBe(true);
      });
    });
  });

  describe('vault-loop revise without --run', () => {
    it('revises the NEEDS_FIX drafts of the latest run that is not itself a revision run', async () => {
      const vault = await freshVault(300, 206);
      const flags = { offlineDefectRate: 1, offlineDefectKinds: ['form'], maxIters: 1, maxDropRate: 1, maxCalls: 40 };
      const a = await runToEnd(redis, testConfig(redis, vault, flags));
      await a.host.close();
      const b = await runToEnd(redis, testConfig(redis, vault, flags));
      const leftByB = [...(await b.host.store.verdicts(b.runId)).values()].filter((v) => v.verdict === 'NEEDS_FIX').map((v) => v.id).sort();
      await b.host.close();
      expect(leftByB.length).toBeGreaterThan(0);
      // A revision of run A (what `vault-loop revise --run A` starts): now the latest run on record is a revision run.
      const reviseCfg = testConfig(redis, vault, { ...flags, revise: true, maxCalls: 20 });
      const host = await openHost(redis, reviseCfg);
      const revisionOfA = await host.startRun(reviseCfg, { reviseFrom: a.runId });
      const ra = await host.waitForRun(revisionOfA, undefined, undefined, 100);
      await host.close();
      expect(ra.status, ra.stopReason ?? '').toBe('completed');
      expect(readJson(join(runDir(vault, revisionOfA), 'run.json'))).toMatchObject({ kind: 'revise', source_run: a.runId });
      const runsOnDisk = (await listRuns(vault)).runs.map((x) => x.runId);
      expect(runsOnDisk).toEqual([a.runId, b.runId, revisionOfA]);

      const r = await runCli(['revise', '--vault', vault, '--max-calls', '20', '--progress', 'none', '--json', ...conn()], {}, children);
      expect(r.code, r.out).toBe(0);
      const runId = summaryOf(r.out).run_id;
      expect(runId).not.toBe(revisionOfA);
      expect(readJson(join(runDir(vault, runId), 'run.json'))).toMatchObject({ kind: 'revise', source_run: b.runId });
      const details = readRecords(vault, runId).iters[0]!.judge!.details;
      expect(details.map((d) => d.id).sort()).toEqual(leftByB);
      expect(details.filter((d) => d.round === 1).length).toBeGreaterThan(0);
    }, 90_000);

    it('with no runs recorded, it says so and exits 1 without starting a run', async () => {
      const vault = await freshVault(300, 207);
      const r = await runCli(['revise', '--vault', vault, '--progress', 'none', ...conn()], {}, children);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain(`vault-loop: no runs recorded under ${vault}/_validation_results/coverage_loop`);
      expect(existsSync(join(vault, '_validation_results', 'coverage_loop'))).toBe(false);
    }, 90_000);
  });

  describe('the revise path with no network', () => {
    /** redis-server processes seen for this test's vault (killed at the end if a failure left them). */
    const seenPids = embeddedServersKilledAfterAll();

    it('vault-loop run --revise under unshare -n (no network, embedded Redis, offline provider) revises NEEDS_FIX drafts, judges them again and exits 0', async () => {
      const vault = await freshVault(300, 208);
      const redisDir = join(vault, '.vault-loop', 'redis');
      // prettier-ignore
      const { out: output, exit } = cliWithoutNetwork(['run', '--vault', vault, '--revise',
        '--max-iters', '1', '--max-calls', '40', '--offline-defect-rate', '0.6', '--offline-defect-kinds', 'form', '--gen-batch-size', '5',
        '--gen-calls-per-iter', '2', '--judge-chunk-size', '5', '--batch-window', '50', '--max-drop-rate', '1', '--variant-salt', 'revise-no-network',
        '--progress', 'none', '--json'], vault, children);
      let done = false;
      void exit.then(() => (done = true));
      while (!done) {
        for (const pid of redisServersFor(redisDir)) seenPids.add(pid);
        await new Promise((r) => setTimeout(r, 100));
      }
      const code = await exit;
      const out = output();
      expect(code, out).toBe(0);
      // It had no Redis to reach but its own embedded one.
      expect(out).toContain(`(embedded redis-server, pid`);
      const runId = summaryOf(out).run_id;
      const rec = readRecords(vault, runId);
      expect(rec.summary.status).toBe('completed');
      const r = rec.iters[0]!.record!;
      expect(r.revisions.revised).toBeGreaterThan(0);
      expect(r.revisions.revised).toBe(r.revisions.verdicts_before.NEEDS_FIX);
      expect(r.revisions.skipped).toEqual([]);
      const runJson = readJson<{ config: { revise: boolean }; generator: { provider: string }; judge: { provider: string } }>(join(runDir(vault, runId), 'run.json'))!;
      expect(runJson.config.revise).toBe(true);
      expect(runJson.generator.provider).toBe('offline');
      expect(runJson.judge.provider).toBe('offline');
      // Each revised draft was judged again, on its revised file.
      const revised = rec.iters[0]!.judge!.details.filter((d) => d.round === 1);
      expect(revised).toHaveLength(r.revisions.revised);
      for (const d of revised) {
        expect(d.history[0]!.verdict).toBe('NEEDS_FIX');
        if (d.verdict !== 'DROP') {
          expect(sha(join(vault, d.path))).toBe(d.file_hash);
          expect((parseYaml(readFileSync(join(vault, d.path), 'utf8')) as { tags: string[] }).tags).toContain('revised-1');
        }
      }
    }, 120_000);
  });
});
