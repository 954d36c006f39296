/**
 * The pre-judge runs before chunking: drafts it is certain of never reach a judge call, and the
 * calls that saves are in iter_record.json and loop_summary.json.
 */
import { describe, expect, it } from 'vitest';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('prejudge');

describe('chunks after the pre-judge', () => {
  it('every draft with wrong arithmetic is dropped at dispatch: no judge call, the chunks saved are recorded', async () => {
    const vault = await freshVault(200, 3);
    // Every draft has a wrong result (×1.5): certain, so no chunk needs the model.
    const cfg = testConfig(redis, vault, { offlineDefectRate: 1, offlineDefectKinds: ['wrong-arithmetic'], maxIters: 1, maxDropRate: 1, maxCalls: 50, genCallsPerIter: 2, judgeChunkSize: 5 });
    const { runId, host } = await runToEnd(redis, cfg);
    const verdicts = [...(await host.store.verdicts(runId)).values()];
    await host.close();
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((v) => v.verdict === 'DROP' && v.source === 'prejudge')).toBe(true);
    const rec = readRecords(vault, runId);
    const it0 = rec.iters[0]!.record!;
    expect(it0.prejudge.dropped).toBe(verdicts.length);
    expect(it0.prejudge.calls_saved).toBe(Math.ceil(verdicts.length / 5));
    // No judge model was called: every verdict of the iteration is the pre-judge's.
    expect(rec.iters[0]!.judge!.model).toBe('prejudge');
    expect(rec.summary.calls_saved_total).toBe(it0.prejudge.calls_saved);
  });
});
