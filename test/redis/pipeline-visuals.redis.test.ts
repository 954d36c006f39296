/**
 * Visuals inside the pipeline: render jobs are children of their judge chunk, the judge sees the
 * render result (a failed render is a finding), kept drafts end with source and SVG on disk, and
 * DROPped drafts lose their visual files too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readPromptBlock } from '../../src/llm/prompts.js';
import type { CompletionRequest } from '../../src/llm/types.js';
import { CorpusHost } from '../../src/scheduler/host.js';
import { silentLogger } from '../../src/util/log.js';
import { sanitizeSvg } from '../../src/visuals/index.js';
import { validateQuestion } from '../../src/corpus/schema.js';
import { parseQuestionText } from '../../src/corpus/loader.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';
import { freshVault, readRecords, testConfig } from '../helpers/pipeline.js';

let redis: TestRedis;
beforeAll(async () => {
  redis = await useTestRedis('visuals');
});
afterAll(async () => {
  await redis.cleanup();
});

it('with visuals on: renders reach the judge, kept drafts keep source + SVG, DROPped drafts lose them', async () => {
  const vault = await freshVault(300, 21);
  const cfg = testConfig(redis, vault, { visualEachIter: true, strategy: 'balanced', offlineDefectRate: 0.5, offlineDefectKinds: ['wrong-arithmetic', 'form'], maxIters: 1, maxDropRate: 1, maxCalls: 100, genBatchSize: 10, genCallsPerIter: 4, judgeChunkSize: 10 });
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
