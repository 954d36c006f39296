/**
 * More evidence for issue #6 (visuals) inside the pipeline, over a real HTTP provider (a fake
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
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, type ConnectionOptions } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQuestionText } from '../../src/corpus/loader.js';
import { validateQuestion } from '../../src/corpus/schema.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { createQueues } from '../../src/queues/index.js';
import { ids } from '../../src/scheduler/flows.js';
import { readJson, runDir } from '../../src/scheduler/records.js';
import { RunStore, type AppliedVerdict, type DraftRecord } from '../../src/scheduler/state.js';
import { PYTHON_DISABLED, sanitizeSvg } from '../../src/visuals/index.js';
import { FakeLlmServer, type SeenRequest } from '../helpers/fake-llm/index.js';
import { isGenerate, isJudge, isRepair } from '../helpers/provider-runs.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, offlineAnswerer, runCli, runToEnd, testConfig } from '../helpers/pipeline.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await useTestRedis('visuals-evidence2');
});
afterAll(async () => {
  await redis.cleanup();
});

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

const runFlags = {
  provider: 'openai' as const,
  openaiApiKey: KEY,
  visualEachIter: true,
  strategy: 'balanced' as const,
  maxIters: 1,
  maxDropRate: 1,
  maxCalls: 60,
  genBatchSize: 10,
  genCallsPerIter: 3,
  judgeChunkSize: 10,
};

describe('python visuals in a pipeline run', () => {
  it('with allowPythonVisuals in the run config, the scripts are rendered: no render error reaches the judge, kept drafts keep <id>.py and a clean <id>.svg, run.json records the flag; alt and caption are carried', async () => {
    const seed = 91;
    const vault = await freshVault(300, seed);
    const model = await visualModel(seed);
    const server = await FakeLlmServer.start({ protocol: 'openai', apiKey: KEY, answer: model.answer });
    try {
      const cfg = testConfig(redis, vault, { ...runFlags, baseUrl: server.baseUrl, model: 'gen-pyvis-on', allowPythonVisuals: true });
      const { runId, state, host } = await runToEnd(redis, cfg);
      const drafts = [...(await host.store.drafts(runId)).values()];
      const verdicts = await host.store.verdicts(runId);
      await host.close();
      expect(state.status, state.stopReason ?? '').toBe('completed');
      expect(server.violations).toEqual([]);
      await expectPythonRendered(vault, runId, server, drafts, verdicts);
      expectAltAndCaption(vault, drafts, verdicts, model.sent);
    } finally {
      await server.close();
    }
  }, 120_000);

  it('without the flag (the default) the same scripts are not run: the judge sees "python visuals disabled" and no SVG is written for them', async () => {
    const seed = 91;
    const vault = await freshVault(300, seed);
    const model = await visualModel(seed);
    const server = await FakeLlmServer.start({ protocol: 'openai', apiKey: KEY, answer: model.answer });
    try {
      const cfg = testConfig(redis, vault, { ...runFlags, baseUrl: server.baseUrl, model: 'gen-pyvis-off' });
      expect(cfg.allowPythonVisuals).toBe(false);
      const { runId, state, host } = await runToEnd(redis, cfg);
      const drafts = [...(await host.store.drafts(runId)).values()];
      const verdicts = await host.store.verdicts(runId);
      await host.close();
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
    } finally {
      await server.close();
    }
  }, 120_000);

  it('run --allow-python-visuals through the real CLI renders the scripts: no render error at the judge, kept drafts keep <id>.py and a clean <id>.svg, run.json records the flag', async () => {
    const seed = 92;
    const vault = await freshVault(300, seed);
    const model = await visualModel(seed);
    const server = await FakeLlmServer.start({ protocol: 'openai', apiKey: KEY, answer: model.answer });
    try {
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
    } finally {
      await server.close();
    }
  }, 120_000);
});
