/**
 * Visuals inside the pipeline: render jobs are children of their judge chunk, the judge sees the
 * render result (a failed render is a finding), kept drafts end with source and SVG on disk, and
 * DROPped drafts lose their visual files too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPromptBlock } from '../../src/llm/prompts.js';
import type { CompletionRequest } from '../../src/llm/types.js';
import { CorpusHost } from '../../src/host/corpus-host.js';
import { silentLogger } from '../../src/util/log.js';
import { PYTHON_DISABLED, sanitizeSvg } from '../../src/visuals/index.js';
import { validateQuestion } from '../../src/corpus/schema.js';
import { parseQuestionText } from '../../src/corpus/loader.js';
import { fileRedis } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';
import { endedRun, freshVault, inProcessWorkers, offlineAnswerer, openHost, readRecords, runCli, testConfig } from '../helpers/pipeline.js';
import { type ConnectionOptions, Job } from 'bullmq';
import { VISUAL_ARCHETYPES, VISUAL_TOPICS } from '../../src/corpus/taxonomy.js';
import type { Queues } from '../../src/queues/index.js';
import { bullPrefix } from '../../src/redis/index.js';
import { ids } from '../../src/state/job-ids.js';
import { type AppliedVerdict, type DraftRecord, RunStore } from '../../src/state/run-state.js';
import { FakeLlmServer, type SeenRequest } from '../helpers/fake-llm/index.js';
import { isGenerate, isJudge, isRepair } from '../helpers/provider-runs.js';
import { createQueues } from '../../src/queues/index.js';
import { readJson, runDir } from '../../src/scheduler/records.js';

const redis = fileRedis('visuals');

/** One balanced iteration over an OpenAI-protocol server, visuals asked for, no stop on the DROP rate. */
const openaiVisualRun = { provider: 'openai', visualEachIter: true, strategy: 'balanced', maxIters: 1, maxDropRate: 1, maxCalls: 60, genBatchSize: 10, genCallsPerIter: 2, judgeChunkSize: 10 } as const;

it('with visuals on: renders reach the judge, kept drafts keep source + SVG, DROPped drafts lose them', async () => {
  const vault = await freshVault(60, 21);
  const cfg = testConfig(redis, vault, { visualEachIter: true, strategy: 'balanced', offlineDefectRate: 0.5, offlineDefectKinds: ['wrong-arithmetic', 'form'], maxIters: 1, maxDropRate: 1, maxCalls: 100, genBatchSize: 10, genCallsPerIter: 2, judgeChunkSize: 10 });
  const judgePrompts: string[] = [];
  const host = await CorpusHost.open({
    cfg,
    vault,
    target: { options: redis.options, describe: redis.url },
    log: silentLogger,
    inProcessWorkers: true,
    hooks: { onProviderCall: (req: CompletionRequest) => void (req.purpose === 'judge' && judgePrompts.push(req.prompt)) },
  });
  const runId = await host.startRun(cfg);
  const state = await host.waitForRun(runId, undefined, undefined, 100);
  const drafts = [...(await host.store.drafts(runId)).values()];
  const verdicts = await host.store.verdicts(runId);
  await host.close();
  expect(state.status).toBe('completed');

  const withVisual = drafts.filter((d) => d.visualFiles.length > 0);
  expect(withVisual.length).toBeGreaterThan(0);
  const dot = withVisual.filter((d) => d.visualFiles[0]!.endsWith('.dot'));
  const py = withVisual.filter((d) => d.visualFiles[0]!.endsWith('.py'));
  expect(dot.length + py.length).toBe(withVisual.length);

  // Python visuals are off by default: their render error reaches the judge as a finding.
  const judged = judgePrompts.flatMap((p) => readPromptBlock(p, 'drafts') as { id: string; render_error?: string; findings: string[]; visual_source?: string }[]);
  for (const d of py) {
    const v = verdicts.get(d.id);
    if (v?.source === 'prejudge') {
      expect(v.checks.findings.join(' ')).toMatch(/render/i);
      continue;
    }
    const seen = judged.find((j) => j.id === d.id);
    expect(seen, d.id).toBeDefined();
    expect(seen!.render_error).toMatch(/python visuals disabled/);
    expect(seen!.visual_source).toBeTruthy();
  }

  let keptDotWithSvg = 0;
  let droppedVisual = 0;
  for (const d of withVisual) {
    const v = verdicts.get(d.id);
    expect(v, d.id).toBeDefined();
    const svgPath = join(vault, 'visuals', d.track, `${d.id}.svg`);
    if (v!.verdict === 'DROP') {
      // The YAML, its source and any SVG are gone.
      expect(existsSync(join(vault, d.path))).toBe(false);
      for (const f of [...d.visualFiles, `visuals/${d.track}/${d.id}.svg`]) expect(existsSync(join(vault, f)), f).toBe(false);
      droppedVisual++;
      continue;
    }
    expect(existsSync(join(vault, d.visualFiles[0]!))).toBe(true);
    if (d.visualFiles[0]!.endsWith('.dot')) {
      // A kept dot draft ends with its rendered, checked SVG.
      expect(existsSync(svgPath), svgPath).toBe(true);
      expect(sanitizeSvg(readFileSync(svgPath, 'utf8'), { source: 'svg' }).errors).toEqual([]);
      keptDotWithSvg++;
    }
    // The question's visual block stays valid under the v1.0 schema (kind svg, path <id>.svg).
    const text = readFileSync(join(vault, d.path), 'utf8');
    const { doc } = parseQuestionText(text, d.path);
    expect((doc!.visual as { kind: string; path: string }).path).toBe(`${d.id}.svg`);
    expect((doc!.visual as { kind: string }).kind).toBe('svg');
    expect(validateQuestion(doc, d.path).filter((p) => p.severity === 'error')).toEqual([]);
  }
  expect(readRecords(vault, runId).iters[0]!.record!.visual).toBe(true);
  // The test saw every path: kept dot drafts with an SVG, python drafts judged, visual drafts dropped.
  expect(keptDotWithSvg).toBeGreaterThan(0);
  expect(py.length).toBeGreaterThan(0);
  expect(droppedVisual).toBeGreaterThan(0);
});

describe('render jobs as children of judge chunks, render errors in the judge prompt, run --visual-each-iter', () => {
  /**
   * Visuals inside the pipeline:
   *  - render jobs exist for exactly the drafts with a visual source, as BullMQ children of their
   *    judge chunk job, seen in Redis while the run goes (the judge waits for them);
   *  - over a real HTTP provider (a fake OpenAI-compatible server), the judge prompt of a dot draft
   *    that renders carries its visual source and no render error, and one whose dot fails to render
   *    carries the renderer's error (a failed render is a finding);
   *  - `run --visual-each-iter` through the real CLI does what the original's flag did (SEED-SPEC §10):
   *    on iterations 0, 2, 4, … the analyzer plans with --visual and the generator is asked for
   *    visuals; on odd iterations neither is.
   */
  const redis = fileRedis('visuals-render-jobs');

  type JudgeJob = Job<{ runId: string; iter: number; chunk: number; drafts: { id: string; visual?: { kind: string; source: string } }[] }>;

  async function judgeJobsOf(queues: Queues, runId: string): Promise<JudgeJob[]> {
    const jobs = (await queues.judge.getJobs(['waiting-children', 'waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'])) as unknown as (JudgeJob | undefined)[];
    return jobs.filter((j): j is JudgeJob => j !== undefined && j.data.runId === runId).sort((a, b) => a.data.chunk - b.data.chunk);
  }

  describe('render jobs in the flow', () => {
    it('each draft with a visual source gets a render job whose parent is its judge chunk job; the judge chunk waits for its renders', async () => {
      const vault = await freshVault(60, 81);
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
      const vault = await freshVault(60, 82);
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
        const cfg = testConfig(redis, vault, { ...openaiVisualRun, model: 'gen-visuals', baseUrl: server.baseUrl, openaiApiKey: 'key-visuals' });
        const { state, drafts, verdicts } = await endedRun(redis, cfg);
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
      const vault = await freshVault(60, 83);
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
});

describe('python visuals opt-in through config and CLI; alt text and caption from the model', () => {
  /**
   * Visuals inside the pipeline, over a real HTTP provider (a fake
   * OpenAI-compatible server answering with the offline provider) and a real Redis:
   *  - `allowPythonVisuals` / `run --allow-python-visuals` reaches the render jobs: a generator whose
   *    matplotlib visual_source is a plain-Python script writing an SVG to VISUAL_OUT_PATH (python3 is
   *    here, matplotlib is not) gets its visuals rendered; the judge sees no render error; kept drafts
   *    end with visuals/<track>/<id>.py and a clean <id>.svg; run.json records the flag. Once with the
   *    config key in an in-process run, once through the real CLI. With the flag off the judge sees
   *    "python visuals disabled" and no SVG is written;
   *  - the question's visual block carries the model's alt text and caption (absent when the model sent an
   *    empty caption).
   */
  const redis = fileRedis('visuals-python-opt-in');

  const KEY = 'key-pyvis';
  /** Written into each visual source (and the SVG a script draws), so a draft on disk leads back to what the model sent. */
  const MARK = 'vl-ev2-visual-';
  const CAPTION = 'Caption carried from the model';

  /** A "plotting" script without matplotlib: plain Python writing a small SVG to VISUAL_OUT_PATH. */
  const pyWriter = (n: number) =>
    [
      'import os',
      `label = "${MARK}${n}"`,
      'with open(os.environ["VISUAL_OUT_PATH"], "w") as f:',
      `    f.write('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 680 460"><rect x="20" y="20" width="240" height="80" fill="#cfe2f3" stroke="#4a90c4"/><text x="30" y="65">' + label + '</text></svg>')`,
      '',
    ].join('\n');

  interface Sent {
    kind: string;
    alt: string;
    caption: string;
  }

  type GenItem = { visual?: { kind: string; alt: string; caption: string } | null; visual_source?: string | null };

  /**
   * The offline provider as the model, except for its visuals: every matplotlib source becomes a plain-Python
   * SVG writer, every dot source gets a marker comment, and every other visual is sent with an empty caption.
   */
  async function visualModel(seed: number): Promise<{ answer: (req: SeenRequest) => Promise<string>; sent: Map<number, Sent> }> {
    const offline = await offlineAnswerer(seed, 0);
    const sent = new Map<number, Sent>();
    let n = 0;
    const answer = async (req: SeenRequest) => {
      const text = await offline(req);
      if (!isGenerate(req) || isRepair(req)) return text;
      const items = JSON.parse(text) as GenItem[];
      for (const it of items) {
        if (!it.visual || typeof it.visual_source !== 'string') continue;
        const k = n++;
        it.visual.caption = k % 2 === 0 ? `${CAPTION} #${k}` : '';
        it.visual_source = it.visual.kind === 'matplotlib' ? pyWriter(k) : it.visual_source.replace(/^digraph G \{/, `digraph G {\n  // ${MARK}${k}`);
        sent.set(k, { kind: it.visual.kind, alt: it.visual.alt, caption: it.visual.caption });
      }
      return JSON.stringify(items);
    };
    return { answer, sent };
  }

  type Judged = { id: string; visual_kind?: string; visual_source?: string; visual_alt?: string; render_error?: string; findings: string[] };

  function judgedDrafts(server: FakeLlmServer): Map<string, Judged> {
    const judged = new Map<string, Judged>();
    for (const r of server.requests.filter(isJudge)) for (const d of readPromptBlock(r.prompt!, 'drafts') as Judged[]) judged.set(d.id, d);
    return judged;
  }

  const isPy = (d: DraftRecord) => d.visualFiles.some((f) => f.endsWith('.py'));
  const isDot = (d: DraftRecord) => d.visualFiles.some((f) => f.endsWith('.dot'));
  const markOf = (source: string) => Number(new RegExp(`${MARK}(\\d+)`).exec(source)![1]);

  /** The render jobs' allowPython flags (BullMQ keeps completed render jobs for a day). */
  async function renderFlags(prefix: string, runId: string, drafts: DraftRecord[]): Promise<boolean[]> {
    const queues = createQueues({ connection: redis.options as ConnectionOptions, prefix });
    try {
      const out: boolean[] = [];
      for (const d of drafts) {
        const job = await Job.fromId(queues.render, ids.render(runId, 0, d.id));
        expect(job, d.id).toBeDefined();
        out.push((job!.data as { allowPython: boolean }).allowPython);
      }
      return out;
    } finally {
      await queues.close();
    }
  }

  /** What a run with python visuals on must show: rendered scripts, no render error at the judge, kept .py + clean .svg. */
  async function expectPythonRendered(vault: string, runId: string, server: FakeLlmServer, drafts: DraftRecord[], verdicts: Map<string, AppliedVerdict>): Promise<void> {
    const runJson = readJson<{ config: Record<string, unknown> }>(join(runDir(vault, runId), 'run.json'))!;
    expect(runJson.config.allowPythonVisuals).toBe(true);

    const py = drafts.filter(isPy);
    expect(py.length).toBeGreaterThan(0);
    expect(drafts.filter(isDot).length).toBeGreaterThan(0);
    expect(await renderFlags(redis.prefix, runId, drafts.filter((d) => d.visualFiles.length > 0))).toEqual(drafts.filter((d) => d.visualFiles.length > 0).map(() => true));

    const judged = judgedDrafts(server);
    // No render error reaches the judge, for any draft.
    expect([...judged.values()].filter((j) => 'render_error' in j).map((j) => `${j.id}: ${j.render_error}`)).toEqual([]);
    let keptPy = 0;
    for (const d of py) {
      const v = verdicts.get(d.id)!;
      expect(v, d.id).toBeDefined();
      expect(v.checks.findings.join('\n'), d.id).not.toMatch(/did not render/);
      expect(v.issues.join('\n'), d.id).not.toMatch(/did not render/);
      if (v.source === 'model') {
        const seen = judged.get(d.id);
        expect(seen, d.id).toBeDefined();
        expect(seen!.visual_kind).toBe('matplotlib');
        expect(seen!.visual_source).toContain('VISUAL_OUT_PATH');
      }
      if (v.verdict === 'DROP') continue;
      // Kept: the script and its rendered, checked SVG under visuals/<track>/.
      const src = join(vault, 'visuals', d.track, `${d.id}.py`);
      const svgPath = join(vault, 'visuals', d.track, `${d.id}.svg`);
      expect(d.visualFiles).toEqual([`visuals/${d.track}/${d.id}.py`]);
      expect(existsSync(src), src).toBe(true);
      if (v.source === 'model') expect(readFileSync(src, 'utf8')).toBe(judged.get(d.id)!.visual_source);
      expect(existsSync(svgPath), svgPath).toBe(true);
      const svg = readFileSync(svgPath, 'utf8');
      // The SVG is the one this draft's own script drew, and it passes the checker cleanly.
      expect(svg).toContain(`${MARK}${markOf(readFileSync(src, 'utf8'))}<`);
      expect(sanitizeSvg(svg, { source: 'svg' })).toMatchObject({ errors: [], warnings: [] });
      keptPy++;
    }
    expect(keptPy).toBeGreaterThan(0);
  }

  /** The question's visual block carries the model's alt and caption; an empty caption leaves no caption key. */
  function expectAltAndCaption(vault: string, drafts: DraftRecord[], verdicts: Map<string, AppliedVerdict>, sent: Map<number, Sent>): void {
    let carried = 0;
    let absent = 0;
    for (const d of drafts.filter((x) => x.visualFiles.length > 0)) {
      if (verdicts.get(d.id)!.verdict === 'DROP') continue;
      const s = sent.get(markOf(readFileSync(join(vault, d.visualFiles[0]!), 'utf8')))!;
      expect(s, d.id).toBeDefined();
      const text = readFileSync(join(vault, d.path), 'utf8');
      const { doc } = parseQuestionText(text, d.path);
      const visual = doc!.visual as { kind: string; path: string; alt: string; caption?: string };
      expect(visual.alt.trim().length, d.id).toBeGreaterThan(0);
      expect(visual.alt).toBe(s.alt.trim());
      if (s.caption) {
        expect(visual.caption, d.id).toBe(s.caption);
        carried++;
      } else {
        expect(visual, d.id).not.toHaveProperty('caption');
        expect(text).not.toMatch(/^\s+caption:/m);
        absent++;
      }
      expect(visual).toMatchObject({ kind: 'svg', path: `${d.id}.svg` });
      expect(validateQuestion(doc, d.path).filter((p) => p.severity === 'error')).toEqual([]);
    }
    expect(carried).toBeGreaterThan(0);
    expect(absent).toBeGreaterThan(0);
  }

  const runFlags = { ...openaiVisualRun, openaiApiKey: KEY };

  /** A fresh vault of `seed` and a fake OpenAI server answering as `visualModel(seed)`, closed after `use`. */
  async function withVisualModel(seed: number, use: (vault: string, server: FakeLlmServer, model: Awaited<ReturnType<typeof visualModel>>) => Promise<void>): Promise<void> {
    const vault = await freshVault(60, seed);
    const model = await visualModel(seed);
    const server = await FakeLlmServer.start({ protocol: 'openai', apiKey: KEY, answer: model.answer });
    try {
      await use(vault, server, model);
    } finally {
      await server.close();
    }
  }

  describe('python visuals in a pipeline run', () => {
    it('with allowPythonVisuals in the run config, the scripts are rendered: no render error reaches the judge, kept drafts keep <id>.py and a clean <id>.svg, run.json records the flag; alt and caption are carried', async () => {
      await withVisualModel(91, async (vault, server, model) => {
        const cfg = testConfig(redis, vault, { ...runFlags, baseUrl: server.baseUrl, model: 'gen-pyvis-on', allowPythonVisuals: true });
        const { runId, state, drafts, verdicts } = await endedRun(redis, cfg);
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(server.violations).toEqual([]);
        await expectPythonRendered(vault, runId, server, drafts, verdicts);
        expectAltAndCaption(vault, drafts, verdicts, model.sent);
      });
    }, 120_000);

    it('without the flag (the default) the same scripts are not run: the judge sees "python visuals disabled" and no SVG is written for them', async () => {
      await withVisualModel(91, async (vault, server) => {
        const cfg = testConfig(redis, vault, { ...runFlags, baseUrl: server.baseUrl, model: 'gen-pyvis-off' });
        expect(cfg.allowPythonVisuals).toBe(false);
        const { runId, state, drafts, verdicts } = await endedRun(redis, cfg);
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(readJson<{ config: Record<string, unknown> }>(join(runDir(vault, runId), 'run.json'))!.config.allowPythonVisuals).toBe(false);
        const withVisual = drafts.filter((d) => d.visualFiles.length > 0);
        expect(await renderFlags(redis.prefix, runId, withVisual)).toEqual(withVisual.map(() => false));

        const judged = judgedDrafts(server);
        const py = drafts.filter(isPy);
        expect(py.length).toBeGreaterThan(0);
        let seenDisabled = 0;
        for (const d of py) {
          const v = verdicts.get(d.id)!;
          expect(v.checks.findings.join('\n'), d.id).toContain(`visual did not render: ${PYTHON_DISABLED}`);
          expect(v.verdict).not.toBe('PASS');
          expect(existsSync(join(vault, 'visuals', d.track, `${d.id}.svg`))).toBe(false);
          if (v.source === 'prejudge') continue;
          expect(judged.get(d.id)!.render_error).toBe(PYTHON_DISABLED);
          seenDisabled++;
        }
        expect(seenDisabled).toBeGreaterThan(0);
        // Dot visuals still render: only the python ones carry the error.
        for (const d of drafts.filter(isDot)) expect(judged.get(d.id) ?? {}, d.id).not.toHaveProperty('render_error');
      });
    }, 120_000);

    it('run --allow-python-visuals through the real CLI renders the scripts: no render error at the judge, kept drafts keep <id>.py and a clean <id>.svg, run.json records the flag', async () => {
      await withVisualModel(92, async (vault, server, model) => {
        // prettier-ignore
        const r = await runCli(['run', '--vault', vault, '--allow-python-visuals', '--visual-each-iter', '--max-iters', '1', '--max-calls', '60',
          '--gen-batch-size', '8', '--gen-calls-per-iter', '2', '--judge-chunk-size', '10', '--batch-window', '50', '--max-drop-rate', '1',
          '--variant-salt', 'pyvis-cli', '--provider', 'openai', '--model', 'gen-pyvis-cli', '--base-url', server.baseUrl,
          '--progress', 'none', '--json', '--redis', redis.url, '--prefix', redis.prefix], { OPENAI_API_KEY: KEY });
        expect(r.code, r.out).toBe(0);
        const runId = (JSON.parse(r.out.slice(r.out.indexOf('{\n'))) as { run_id: string }).run_id;
        expect(server.violations).toEqual([]);
        const store = new RunStore(redis.client, redis.prefix);
        const drafts = [...(await store.drafts(runId)).values()];
        const verdicts = await store.verdicts(runId);
        await expectPythonRendered(vault, runId, server, drafts, verdicts);
        expectAltAndCaption(vault, drafts, verdicts, model.sent);
      });
    }, 120_000);
  });
});
