import { join } from 'node:path';
import { RunJsonSchema } from '../../domain/records.js';
import { readJson } from '../../scheduler/records.js';
import { listRuns } from '../../scheduler/run-folders.js';
import { configFromOptions, requireVault } from '../common.js';
import { UserError } from '../output.js';
import { runLoop } from './run.js';

export async function revise(opts: Record<string, unknown>): Promise<void> {
  const vault = requireVault(opts.vault);
  const { runs } = await listRuns(vault);
  let source = opts.run as string | undefined;
  if (source && !runs.some((r) => r.runId === source)) throw new UserError(`run ${source} has no run.json under ${vault}/_validation_results/coverage_loop`);
  source ??= runs.filter((r) => RunJsonSchema.safeParse(readJson<unknown>(join(r.dir, 'run.json'))).data?.kind !== 'revise').at(-1)?.runId;
  if (!source) throw new UserError(`no runs recorded under ${vault}/_validation_results/coverage_loop`);
  const cfg = configFromOptions(opts, { vault, revise: true });
  process.exitCode = await runLoop({ cfg, vault, inProcessWorkers: true, progress: opts.progress as 'auto', json: Boolean(opts.json), reviseFrom: source });
}
