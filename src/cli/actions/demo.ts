import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { synthesizeVault } from '../../corpus/synth.js';
import { configFromOptions } from '../common.js';
import { runLoop } from './run.js';

export async function demo(opts: Record<string, unknown>): Promise<void> {
  const vault = resolve(typeof opts.out === 'string' ? opts.out : join(mkdtempSync(join(tmpdir(), 'vault-loop-demo-')), 'vault'));
  process.stderr.write(`vault-loop demo: writing a synthetic vault of ${String(opts.questions)} questions to ${vault}\n`);
  await synthesizeVault({ outDir: vault, questions: Number(opts.questions), seed: Number(opts.seed) });
  const cfg = configFromOptions(
    { ...opts, out: undefined, questions: undefined },
    { vault, provider: 'offline', offlineDefectRate: 0.2, genBatchSize: 10, genCallsPerIter: 3, judgeChunkSize: 10 },
  );
  const code = await runLoop({
    cfg,
    vault,
    inProcessWorkers: true,
    progress: 'auto',
    json: false,
  });
  process.stdout.write(`\nvault: ${vault}\nrecords: ${join(vault, '_validation_results', 'coverage_loop')}\n`);
  process.exitCode = code;
}
