/**
 * Option builders the command definitions share. Loaded by every CLI start (`--help` included), so
 * it imports commander and nothing heavier.
 */
import { Option, type Command } from 'commander';
import { UserError } from './output.js';

/** Adds --config, --redis and --prefix. */
export function withConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'config file (default: vault-loop.config.yaml in the vault, then in the current folder)')
    .option('--redis <url>', 'Redis URL (env REDIS_URL); default 127.0.0.1:6379 if it answers, else an embedded redis-server')
    .option('--prefix <prefix>', 'Redis key prefix (default vault-loop)')
    .option('--log-level <level>', 'log level on stderr: fatal, error, warn, info, debug, trace, silent');
}

export function intOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser((v) => {
    if (!/^-?\d+$/.test(v)) throw new UserError(`${flags.split(' ')[0]} expects a whole number, got "${v}"`);
    return Number(v);
  });
}

export function numOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser((v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UserError(`${flags.split(' ')[0]} expects a number, got "${v}"`);
    return n;
  });
}

/**
 * Hidden `--lock-duration <ms>`: how long a job's lock lives without renewal. A killed process's
 * jobs return to the queue only after it lapses (default 30 s); tests use a short one.
 */
export function lockDurationOption(): Option {
  return intOption('--lock-duration <ms>', 'job lock duration in ms; a dead process\'s jobs are retried after it (default 30000)').hideHelp();
}
