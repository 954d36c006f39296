import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { listRunsOnDisk, readJson, runDir } from '../../scheduler/records.js';
import { configFromOptions, requireVault } from '../common.js';
import { UserError } from '../output.js';
import { addRunOptions, runLoop } from './run.js';

export function register(program: Command): void {
  const cmd = program
    .command('revise')
    .description("revise the NEEDS_FIX drafts a past run left, from the judge's fix suggestions, and judge them again (a revision run with its own records)")
    .requiredOption('--vault <dir>', 'the vault folder')
    .option('--run <run>', 'the run whose NEEDS_FIX drafts to revise (default: the latest run that is not itself a revision)')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bars', 'plain', 'none']).default('auto'))
    .option('--json', 'print the final summary as JSON on stdout');
  addRunOptions(cmd).action(async (opts: Record<string, unknown>) => {
    const vault = requireVault(opts.vault);
    const runs = listRunsOnDisk(vault);
    let source = opts.run as string | undefined;
    if (source && !runs.some((r) => r.runId === source)) throw new UserError(`run ${source} has no run.json under ${vault}/_validation_results/coverage_loop`);
    source ??= runs.filter((r) => readJson<{ kind?: string }>(join(runDir(vault, r.runId), 'run.json'))?.kind !== 'revise').at(-1)?.runId;
    if (!source) throw new UserError(`no runs recorded under ${vault}/_validation_results/coverage_loop`);
    const cfg = configFromOptions(opts, { vault, revise: true });
    process.exitCode = await runLoop({ cfg, vault, inProcessWorkers: true, progress: opts.progress as 'auto', json: Boolean(opts.json), reviseFrom: source });
  });
}
