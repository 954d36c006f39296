import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { synthesizeVault } from '../../corpus/synth.js';
import { configFromOptions, intOption, withConnectionOptions } from '../common.js';
import { runLoop } from './run.js';

export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('demo')
      .description('the whole loop on a fresh synthetic vault with the offline provider (no API key, Redis found or started locally)')
      .option('--out <dir>', 'where to write the synthetic vault (default: a new temp folder)')
      .addOption(intOption('--questions <n>', 'questions in the synthetic vault').default(3000))
      .addOption(intOption('--max-iters <n>', 'iterations at most').default(3))
      .addOption(intOption('--max-calls <n>', 'provider calls at most').default(40))
      .addOption(intOption('--seed <n>', 'seed of the vault and the offline provider').default(7))
      .addOption(intOption('--offline-latency <ms>', 'simulated latency per provider call').default(150)),
  ).action(async (opts: Record<string, unknown>) => {
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
  });
}
