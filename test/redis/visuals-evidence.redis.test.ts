/**
 * Evidence for issue #6 (visuals) inside the pipeline:
 *  - render jobs exist for exactly the drafts with a visual source, as BullMQ children of their
 *    judge chunk job, seen in Redis while the run goes (the judge waits for them);
 *  - over a real HTTP provider (a fake OpenAI-compatible server), the judge prompt of a dot draft
 *    that renders carries its visual source and no render error, and one whose dot fails to render
 *    carries the renderer's error (a failed render is a finding);
 *  - `run --visual-each-iter` through the real CLI does what the original's flag did (SEED-SPEC §10):
 *    on iterations 0, 2, 4, … the analyzer plans with --visual and the generator is asked for
 *    visuals; on odd iterations neither is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VISUAL_ARCHETYPES, VISUAL_TOPICS } from '../../src/corpus/taxonomy.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import type { Queues } from '../../src/queues/index.js';
import { bullPrefix } from '../../src/redis/index.js';
import { ids } from '../../src/scheduler/flows.js';
import { RunStore } from '../../src/scheduler/state.js';
import { sanitizeSvg } from '../../src/visuals/index.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { isJudge } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, offlineAnswerer, openHost, readRecords, runCli, runToEnd, testConfig, inProcessWorkers } from '../helpers/pipeline.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await useTestRedis('visuals-evidence');
});
afterAll(async () => {
  await redis.cleanup();
});

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type JudgeJob = Job<{ runId: string; iter: number; chunk: number; drafts: { id: string; visual?: { kind: string; source: string } }[] }>;

async function judgeJobsOf(queues: Queues, runId: string): Promise<JudgeJob[]> {
  const jobs = (await queues.judge.getJobs(['waiting-children', 'waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'])) as unknown as (JudgeJob | undefined)[];
  return jobs.filter((j): j is JudgeJob => j !== undefined && j.data.runId === runId).sort((a, b) => a.data.chunk - b.data.chunk);
}

describe('render jobs in the flow', () => {
  it('each draft with a visual source gets a render job whose parent is its judge chunk job; the judge chunk waits for its renders', async () => {
    const vault = await freshVault(300, 81);
    const cfg = testConfig(redis, vault, { visualEachIter: true, strategy: 'balanced', maxIters: 2, maxDropRate: 1, maxCalls: 60, genBatchSize: 6, genCallsPerIter: 2, judgeChunkSize: 4 });
    // The corpus host alone (control + apply); stateless workers are started one role at a time.
    const host = await openHost(redis, cfg, false);
    const stops: (() => Promise<void>)[] = [];
    try {
      stops.push(inProcessWorkers(redis, cfg, ['generate']));
      const runId = await host.startRun(cfg);
      // No render or judge worker runs yet: once the judge flow is added, every chunk is in Redis.
      const judgeJobs = await until('the judge flow', async () => {
        const js = await judgeJobsOf(host.queues, runId);
        return js.length > 0 && js;
      });
      const drafts = await host.store.drafts(runId);
      const inChunks = judgeJobs.flatMap((j) => j.data.drafts);
      expect(inChunks.map((d) => d.id).sort()).toEqual([...drafts.keys()].sort());
      const withVisual = inChunks.filter((d) => d.visual);
      expect(withVisual.length).toBeGreaterThan(0);

      const prefix = bullPrefix(cfg.prefix);
      let chunksWaiting = 0;
      for (const judge of judgeJobs) {
        expect(judge.id).toBe(ids.judge(runId, 0, judge.data.chunk));
        const visualIds = judge.data.drafts.filter((d) => d.visual).map((d) => d.id).sort();
        const state = await judge.getState();
        // The judge chunk's dependencies are exactly the render jobs of its own drafts with a visual.
        const deps = await judge.getDependencies();
        const pending = Object.keys(deps.processed ?? {}).concat(deps.unprocessed ?? []);
        expect(pending.sort()).toEqual(visualIds.map((id) => `${prefix}:render:${ids.render(runId, 0, id)}`).sort());
        if (visualIds.length > 0) {
          // Nothing renders yet, so the chunk cannot run.
          expect(state).toBe('waiting-children');
          chunksWaiting++;
        } else {
          expect(state).toBe('waiting');
        }
        for (const id of visualIds) {
          const render = await Job.fromId(host.queues.render, ids.render(runId, 0, id));
          expect(render, id).toBeDefined();
          expect(render!.parentKey).toBe(`${prefix}:judge:${judge.id}`);
          expect(render!.parent).toMatchObject({ id: judge.id, queueKey: `${prefix}:judge` });
          expect(render!.data).toMatchObject({ runId, iter: 0, draftId: id, visual: judge.data.drafts.find((d) => d.id === id)!.visual });
          expect(await render!.getState()).toBe('waiting');
        }
      }
      expect(chunksWaiting).toBeGreaterThan(0);
      // No render job for a draft without a visual source.
      const renderJobs = (await host.queues.render.getJobs(['waiting'])).filter((j) => j?.data.runId === runId);
      expect(renderJobs.map((j) => j!.data.draftId).sort()).toEqual(withVisual.map((d) => d.id).sort());

      // With renderers running, each chunk's renders complete under it and the chunk becomes runnable.
      stops.push(inProcessWorkers(redis, cfg, ['render']));
      for (const judge of judgeJobs) {
        const n = judge.data.drafts.filter((d) => d.visual).length;
        await until(`chunk ${judge.data.chunk} renders`, async () => (await judge.getState()) === 'waiting');
        const deps = await judge.getDependencies();
        expect(Object.keys(deps.processed ?? {}).length).toBe(n);
        expect(deps.unprocessed ?? []).toEqual([]);
        // The render results are the judge chunk's children values, keyed by the render job.
        const values = await judge.getChildrenValues<{ draftId: string; ok: boolean }>();
        expect(Object.values(values).map((v) => v.draftId).sort()).toEqual(judge.data.drafts.filter((d) => d.visual).map((d) => d.id).sort());
      }

      stops.push(inProcessWorkers(redis, cfg, ['judge']));
      const state = await host.waitForRun(runId, undefined, undefined, 100);
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(state.stopReason).toBe('max iterations reached');
      const verdicts = await host.store.verdicts(runId);
      for (const id of drafts.keys()) expect(verdicts.has(id), id).toBe(true);
      // The finished render jobs stay (removeOnComplete keeps them a day) under the same parent.
      for (const d of withVisual) {
        const render = await Job.fromId(host.queues.render, ids.render(runId, 0, d.id));
        expect(await render!.getState()).toBe('completed');
        expect(render!.parentKey).toBe(`${prefix}:judge:${judgeJobs.find((j) => j.data.drafts.some((x) => x.id === d.id))!.id}`);
      }
      // Iteration 1 asks for no visuals: its drafts have no visual source, so its judge chunks have
      // no render children and no render job exists for them.
      const iter1 = (await judgeJobsOf(host.queues, runId)).filter((j) => j.data.iter === 1);
      expect(iter1.length).toBeGreaterThan(0);
      for (const judge of iter1) {
        expect(judge.data.drafts.every((d) => !d.visual)).toBe(true);
        const deps = await judge.getDependencies();
        expect(Object.keys(deps.processed ?? {})).toEqual([]);
        expect(deps.unprocessed ?? []).toEqual([]);
        for (const d of judge.data.drafts) expect(await Job.fromId(host.queues.render, ids.render(runId, 1, d.id))).toBeUndefined();
      }
    } finally {
      for (const s of stops.reverse()) await s();
      await host.close();
    }
  });
});

describe('the judge sees the render result (over an HTTP provider)', () => {
  const BROKEN = 'broken_by_test';

  it('a dot draft that renders reaches the judge with its source and no render error; one whose dot fails carries the renderer error', async () => {
    const vault = await freshVault(300, 82);
    const offline = await offlineAnswerer(82, 0);
    let dotSeen = 0;
    // The "model" writes valid dot; the test breaks every third dot source it hands out.
    const server = await FakeLlmServer.start({
      protocol: 'openai',
      apiKey: 'key-visuals',
      answer: async (req) => {
        const text = await offline(req);
        if (isJudge(req) || !/^<cells>\s*$/m.test(req.prompt ?? '')) return text;
        const items = JSON.parse(text) as { visual_source?: string | null; visual?: { kind: string } | null }[];
        for (const it of items) {
          if (it.visual?.kind !== 'dot' || typeof it.visual_source !== 'string') continue;
          if (dotSeen++ % 3 === 0) it.visual_source = it.visual_source.replace(/\}\s*$/, `  ${BROKEN} -> ;\n}`);
        }
        return JSON.stringify(items);
      },
    });
    try {
      const cfg = testConfig(redis, vault, {
        provider: 'openai',
        model: 'gen-visuals',
        baseUrl: server.baseUrl,
        openaiApiKey: 'key-visuals',
        visualEachIter: true,
        strategy: 'balanced',
        maxIters: 1,
        maxDropRate: 1,
        maxCalls: 60,
        genBatchSize: 10,
        genCallsPerIter: 3,
        judgeChunkSize: 10,
      });
      const { runId, state, host } = await runToEnd(redis, cfg);
      const drafts = await host.store.drafts(runId);
      const verdicts = await host.store.verdicts(runId);
      await host.close();
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);

      type Seen = { id: string; visual_kind?: string; visual_source?: string; render_error?: string; findings: string[] };
      const judged = new Map<string, Seen>();
      for (const r of server.requests.filter(isJudge)) for (const d of readPromptBlock(r.prompt!, 'drafts') as Seen[]) judged.set(d.id, d);

      const dotDrafts = [...drafts.values()].filter((d) => d.visualFiles.some((f) => f.endsWith('.dot')));
      let renderedOk = 0;
      let renderFailed = 0;
      for (const d of dotDrafts) {
        const seen = judged.get(d.id);
        expect(seen, `${d.id} reached the judge`).toBeDefined();
        expect(seen!.visual_kind).toBe('dot');
        expect(seen!.visual_source).toMatch(/^\s*digraph/);
        const v = verdicts.get(d.id)!;
        if (seen!.visual_source!.includes(BROKEN)) {
          // The render failed: the judge gets graphviz's own error, and the pre-check's finding says so.
          expect(seen!.render_error).toMatch(/^graphviz: syntax error in line \d+/);
          expect(seen!.findings.join('\n')).toMatch(/visual did not render: graphviz: syntax error/);
          expect(v.verdict).not.toBe('PASS');
          expect(existsSync(join(vault, 'visuals', d.track, `${d.id}.svg`))).toBe(false);
          renderFailed++;
        } else {
          // It rendered: the judge reads the source, and no render error; the SVG is on disk.
          expect(seen).not.toHaveProperty('render_error');
          expect(seen!.findings.join('\n')).not.toMatch(/did not render/);
          if (v.verdict !== 'DROP') {
            expect(seen!.visual_source).toBe(readFileSync(join(vault, 'visuals', d.track, `${d.id}.dot`), 'utf8'));
            const svg = readFileSync(join(vault, 'visuals', d.track, `${d.id}.svg`), 'utf8');
            expect(sanitizeSvg(svg, { source: 'svg' }).errors).toEqual([]);
          }
          renderedOk++;
        }
      }
      expect(renderedOk).toBeGreaterThan(0);
      expect(renderFailed).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe('run --visual-each-iter (CLI)', () => {
  it('on iterations 0 and 2 both the analyzer and the generator get --visual; on iteration 1 neither does', async () => {
    const vault = await freshVault(300, 83);
    const server = await FakeLlmServer.start({ protocol: 'openai', apiKey: 'key-each-iter', answer: await offlineAnswerer(83, 0) });
    try {
      // prettier-ignore
      const r = await runCli(['run', '--vault', vault, '--visual-each-iter', '--max-iters', '3', '--max-calls', '60',
        '--gen-batch-size', '4', '--gen-calls-per-iter', '2', '--judge-chunk-size', '8', '--batch-window', '50', '--max-drop-rate', '1',
        '--gap-threshold', '0', '--variant-salt', 'each-iter', '--provider', 'openai', '--model', 'gen-each-iter', '--base-url', server.baseUrl,
        '--progress', 'none', '--json', '--redis', redis.url, '--prefix', redis.prefix], { OPENAI_API_KEY: 'key-each-iter' });
      expect(r.code, r.out).toBe(0);
      const runId = (JSON.parse(r.out.slice(r.out.indexOf('{\n'))) as { run_id: string }).run_id;
      expect(server.violations).toEqual([]);
      const rec = readRecords(vault, runId);
      expect(rec.summary.stopped_reason).toBe('max iterations reached');
      expect(rec.iters.map((i) => i.record!.visual)).toEqual([true, false, true]);

      // The analyzer: with --visual (even iterations) the plan draws its topics from the
      // visual-archetype pool and marks every cell with_visual; without it, no cell is a visual one.
      type Cell = { track: string; topic: string; with_visual: boolean };
      const planned = (i: number) => JSON.parse(readFileSync(join(rec.iters[i]!.dir, 'report.json'), 'utf8')).recommended_plan as Cell[];
      for (const i of [0, 2]) {
        expect(planned(i).length).toBeGreaterThan(0);
        for (const c of planned(i)) {
          expect(VISUAL_TOPICS, `iter ${i} ${c.topic}`).toContain(c.topic);
          expect(c.with_visual).toBe(true);
        }
        expect(readFileSync(join(rec.iters[i]!.dir, 'report.md'), 'utf8')).toMatch(/\| ✓ \|/);
      }
      expect(planned(1).every((c) => !c.with_visual)).toBe(true);
      expect(planned(1).some((c) => !VISUAL_TOPICS.includes(c.topic))).toBe(true);

      // The generator: the prompts of iterations 0 and 2 ask for a visual of the archetype's format
      // for each cell and carry the visual rules; those of iteration 1 ask for none.
      type PromptCell = { topic: string; with_visual: boolean; visual_format?: string; variant: string };
      const gen = server.requests.filter((q) => /^<cells>\s*$/m.test(q.prompt ?? ''));
      const byIter = new Map<number, { prompt: string; cells: PromptCell[] }[]>();
      for (const q of gen) {
        const cells = readPromptBlock(q.prompt!, 'cells') as PromptCell[];
        const iters = new Set(cells.map((c) => Number(/^each-iter-(\d+)-/.exec(c.variant)![1])));
        expect(iters.size).toBe(1);
        const i = [...iters][0]!;
        byIter.set(i, [...(byIter.get(i) ?? []), { prompt: q.prompt!, cells }]);
      }
      expect([...byIter.keys()].sort()).toEqual([0, 1, 2]);
      for (const [i, prompts] of byIter) {
        for (const { prompt, cells } of prompts) {
          if (i % 2 === 0) {
            expect(prompt).toContain('# Visual rules');
            for (const c of cells) {
              expect(c.with_visual).toBe(true);
              expect(c.visual_format).toBe(VISUAL_ARCHETYPES.find((a) => a.topic === c.topic)!.kind);
            }
          } else {
            expect(prompt).not.toContain('# Visual rules');
            expect(prompt).not.toContain('visual_source');
            for (const c of cells) expect(c.with_visual).toBe(false);
          }
        }
      }

      // And so the drafts: every draft of iterations 0 and 2 came with a visual source, none of iteration 1.
      const drafts = [...(await new RunStore(redis.client, redis.prefix).drafts(runId)).values()];
      for (const i of [0, 1, 2]) {
        const mine = drafts.filter((d) => d.iter === i);
        expect(mine.length, `iter ${i}`).toBeGreaterThan(0);
        for (const d of mine) expect(d.visualFiles.length > 0, `${d.id} (iter ${i})`).toBe(i % 2 === 0);
      }
    } finally {
      await server.close();
    }
  });
});
