import { configFromOptions, requireVault } from '../common.js';
import { runLoop } from './run.js';

export async function judge(opts: Record<string, unknown>): Promise<void> {
  const vault = requireVault(opts.vault);
  const cfg = configFromOptions(opts, { vault });
  process.exitCode = await runLoop({ cfg, vault, inProcessWorkers: true, progress: opts.progress as 'auto', json: Boolean(opts.json), judgeOnly: true });
}
