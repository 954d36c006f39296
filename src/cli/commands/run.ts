import { Option, type Command } from 'commander';
import { PROVIDER_NAMES, STRUCTURED_OUTPUTS } from '../../config/names.js';
import { intOption, lockDurationOption, numOption, withConnectionOptions } from '../options.js';

export function addRunOptions(cmd: Command): Command {
  return withConnectionOptions(cmd)
    .addOption(new Option('--provider <name>', 'generation provider').choices(PROVIDER_NAMES))
    .option('--model <id>', 'generation model id')
    .option('--base-url <url>', 'generation provider base URL (e.g. a local OpenAI-compatible server)')
    .addOption(numOption('--temperature <x>', 'generation temperature'))
    .addOption(new Option('--judge-provider <name>', 'judge provider (default: the generation provider)').choices(PROVIDER_NAMES))
    .option('--judge-model <id>', 'judge model id (default: the generation model)')
    .option('--judge-base-url <url>', 'judge provider base URL')
    .addOption(numOption('--judge-temperature <x>', 'judge temperature (default 0)'))
    .addOption(new Option('--structured-output <mode>', 'openai provider: what the server supports for structured output (default json_schema)').choices(STRUCTURED_OUTPUTS))
    .addOption(new Option('--judge-structured-output <mode>', 'the same for the judge (default: the generation one)').choices(STRUCTURED_OUTPUTS))
    .addOption(intOption('--max-iters <n>', 'iterations at most (default 30)'))
    .addOption(intOption('--max-calls <n>', 'provider calls at most, generation + judging (default 80)'))
    .addOption(intOption('--gen-batch-size <n>', 'plan cells per generation call (default 30)'))
    .addOption(intOption('--gen-calls-per-iter <n>', 'generation calls per iteration (default 4)'))
    .addOption(intOption('--judge-chunk-size <n>', 'drafts per judge call (default 25)'))
    .addOption(numOption('--gap-threshold <x>', 'stop when the top gap priority is below this (default 1.0)'))
    .addOption(numOption('--max-drop-rate <x>', 'stop when an iteration DROPs more than this share (default 0.3)'))
    .option('--visual-each-iter', 'ask for visuals on iterations 0, 2, 4, …')
    .addOption(new Option('--strategy <name>', 'planning strategy (default balanced)').choices(['reference', 'balanced']))
    .option('--dry-run', 'plan only: no provider calls, no drafts, no budget spent')
    .addOption(intOption('--seed <n>', 'seed of the offline provider and every random choice (default 0)'))
    .option('--variant-salt <text>', "use this instead of the run id in each cell's variant: same vault, seed and salt → same prompts and offline drafts")
    .addOption(intOption('--offline-latency <ms>', 'simulated latency per offline provider call'))
    .addOption(numOption('--offline-defect-rate <x>', 'share of offline drafts given a deliberate defect (0..1)'))
    .option('--offline-defect-kinds <list>', 'offline defects to plant: wrong-arithmetic,malformed-area,near-copy,form (default all)')
    .option('--allow-python-visuals', 'render model-written matplotlib scripts (sandboxed)')
    .option('--revise', "revise each iteration's NEEDS_FIX drafts from the judge's suggestions and judge them again")
    .addOption(intOption('--max-revisions <n>', 'revisions per draft at most (default 1)'))
    .addOption(intOption('--batch-window <ms>', 'how long a generate worker waits to fill a batch (default 200)'));
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('run the coverage loop on a vault: analyze → generate → render → judge → prune, until saturated or out of budget')
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/)')
    .addOption(intOption('--workers <n>', 'in-process worker concurrency per queue (default 4)'))
    .option('--no-workers', 'run only the corpus host here; start `vault-loop worker` processes elsewhere')
    .option('--resume <run>', 'continue a run whose host died, with its stored configuration')
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bars', 'plain', 'none']).default('auto'))
    .option('--json', 'print the final loop summary as JSON on stdout')
    .option('--dashboard', 'also serve the dashboard (config dashboardHost / dashboardPort, default http://127.0.0.1:3000/) while the run goes')
    .addOption(lockDurationOption());
  addRunOptions(cmd).action(async (opts: Record<string, unknown>) => (await import('../actions/run.js')).run(opts));
}
