/** Review actions on judged drafts: accept, reject, send to revision — files and records agree. */
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { promoteRun } from '../../src/services/promote.js';
import { StateConflictError } from '../../src/errors.js';
import { reviewDraft } from '../../src/services/review.js';
import { diskVaultFiles, revisionCandidates } from '../../src/scheduler/steps.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, readRecords, runToEnd, testConfig } from '../helpers/pipeline.js';

const redis = fileRedis('review');

it('accept keeps a draft for promotion, reject deletes it, revise marks it for the next revision; all recorded', async () => {
  const vault = await freshVault(300, 61);
  const { runId, host } = await runToEnd(redis, testConfig(redis, vault, { offlineDefectRate: 0.6, offlineDefectKinds: ['form'], maxIters: 1, maxDropRate: 1, maxCalls: 100, genBatchSize: 10, genCallsPerIter: 3, judgeChunkSize: 10 }));
  const store = host.store;
  const needsFix = [...(await store.verdicts(runId)).values()].filter((v) => v.verdict === 'NEEDS_FIX');
  expect(needsFix.length).toBeGreaterThanOrEqual(4);
  const [a, r, x, edited] = needsFix;

  await reviewDraft(store, runId, a!.id, 'accept', 'maintainer');
  await reviewDraft(store, runId, r!.id, 'reject', 'maintainer', 'off topic');
  await reviewDraft(store, runId, x!.id, 'revise', 'maintainer');
  appendFileSync(join(vault, edited!.path), '# edited\n');
  await expect(reviewDraft(store, runId, edited!.id, 'reject', 'maintainer')).rejects.toThrow(/edited since it was judged/);
  await expect(reviewDraft(store, runId, r!.id, 'accept', 'maintainer')).rejects.toBeInstanceOf(StateConflictError);
  await expect(reviewDraft(store, runId, 'nope-0001', 'accept', 'maintainer')).rejects.toThrow(/no verdict/);

  expect(existsSync(join(vault, a!.path))).toBe(true);
  expect(existsSync(join(vault, r!.path))).toBe(false);
  expect(existsSync(join(vault, edited!.path))).toBe(true);
  // The records on disk say what the person did.
  const details = readRecords(vault, runId).iters[0]!.judge!.details;
  expect(details.find((d) => d.id === a!.id)!.review).toMatchObject({ action: 'accepted', by: 'maintainer' });
  expect(details.find((d) => d.id === r!.id)!.review).toMatchObject({ action: 'rejected', note: 'off topic' });
  expect(details.find((d) => d.id === r!.id)!.applied).toBe('pruned');
  expect(details.find((d) => d.id === x!.id)!.review).toMatchObject({ action: 'sent-to-revision' });
  // Revision takes the one sent to it (and unreviewed NEEDS_FIX), never the accepted or rejected ones.
  const candidates = (await revisionCandidates(runId, 0, 0, { store, files: diskVaultFiles(vault) })).map((c) => c.draft.id);
  expect(candidates).toContain(x!.id);
  expect(candidates).not.toContain(a!.id);
  expect(candidates).not.toContain(r!.id);
  expect(candidates).not.toContain(edited!.id);
  await host.close();
  // Promote publishes the accepted NEEDS_FIX draft.
  const report = await promoteRun(vault, { runId });
  expect(report.rows.find((row) => row.id === a!.id)!.result).toBe('promoted');
  expect(report.rows.find((row) => row.id === x!.id)).toBeUndefined();
});
