/** Promote after a real run: exactly the PASS drafts whose files are unchanged; twice changes nothing. */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseQuestionText } from '../../src/corpus/loader.js';
import { promoteRun } from '../../src/services/promote.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, runToEnd, testConfig, vaultSnapshot } from '../helpers/pipeline.js';

const redis = fileRedis('promote');

it('promotes exactly the unchanged PASS drafts of the run, and only once', async () => {
  const vault = await freshVault(300, 41);
  const cfg = testConfig(redis, vault, { offlineDefectRate: 0.4, offlineDefectKinds: ['form'], maxIters: 2, maxDropRate: 1, maxCalls: 100 });
  const { runId, host } = await runToEnd(redis, cfg);
  const verdicts = [...(await host.store.verdicts(runId)).values()];
  await host.close();
  const pass = verdicts.filter((v) => v.verdict === 'PASS');
  expect(pass.length).toBeGreaterThan(1);
  const edited = pass[0]!;
  appendFileSync(join(vault, edited.path), '# a maintainer edited this after judging\n');

  const first = await promoteRun(vault);
  expect(first.run.runId).toBe(runId);
  const promoted = first.rows.filter((r) => r.result === 'promoted').map((r) => r.id).sort();
  expect(promoted).toEqual(pass.filter((v) => v !== edited).map((v) => v.id).sort());
  expect(first.rows.find((r) => r.id === edited.id)!.result).toMatch(/changed since judged/);
  for (const v of pass.filter((x) => x !== edited)) {
    const { doc } = parseQuestionText(readFileSync(join(vault, v.path), 'utf8'), v.path);
    expect(doc).toMatchObject({ status: 'published', validated: true, validation_status: 'passed', validation_model: v.model });
    // The arithmetic check ran and passed for offline drafts, and says so.
    if (v.checks.arithmetic === 'passed') expect(doc).toMatchObject({ math_verified: true, math_status: 'CORRECT' });
  }
  // NEEDS_FIX drafts stay drafts.
  for (const v of verdicts.filter((x) => x.verdict === 'NEEDS_FIX')) {
    expect(parseQuestionText(readFileSync(join(vault, v.path), 'utf8'), v.path).doc!.status).toBe('draft');
  }
  const before = vaultSnapshot(vault);
  const second = await promoteRun(vault);
  expect(second.rows.filter((r) => r.result === 'promoted')).toEqual([]);
  expect(vaultSnapshot(vault)).toBe(before);
});
