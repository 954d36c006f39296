/** Shared CLI plumbing for the commands' actions: config from flags, Redis discovery, signals. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_KEYS, loadConfig, type Config } from '../config/index.js';
import { vaultFoldersProblem } from '../corpus/vault-folders.js';
import { embeddedSocketOf, pingRedis, resolveRedis, type RedisTarget } from '../redis/index.js';
import { UserError } from './output.js';

/** Maps commander's options onto config keys (commander already camel-cases them). */
export function configFromOptions(opts: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  const flags: Record<string, unknown> = {};
  const rename: Record<string, string> = { redis: 'redisUrl', offlineLatency: 'offlineLatencyMs', batchWindow: 'batchWindowMs', batch: 'batchMode', batchPoll: 'batchPollMs' };
  for (const [k, v] of Object.entries({ ...opts, ...extra })) {
    const key = rename[k] ?? k;
    if (v !== undefined && (CONFIG_KEYS as string[]).includes(key)) flags[key] = v;
  }
  const file = typeof opts.config === 'string' ? opts.config : undefined;
  return loadConfig({ flags, ...(file ? { file } : {}), trustVaultConfig: opts.trustVaultConfig === true });
}

export function requireVault(dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') throw new UserError('--vault DIR is required');
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new UserError(`vault folder ${abs} does not exist`);
  if (!existsSync(join(abs, 'questions'))) throw new UserError(`${abs} is not a vault: it has no questions/ folder`);
  const outside = vaultFoldersProblem(abs);
  if (outside) throw new UserError(outside);
  return abs;
}

/** Where an embedded Redis of this vault keeps its socket and AOF. */
export const embeddedDirOf = (vault: string): string => join(vault, '.vault-loop', 'redis');

/**
 * Redis for a command: an explicit URL; else 127.0.0.1:6379; else (with `vault`) the embedded
 * server a `run` on that vault started; else, when `mayStart`, a new embedded server.
 */
export async function connectRedis(cfg: Config, opts: { vault?: string; mayStart: boolean }): Promise<RedisTarget> {
  const url = redisUrlOf(cfg);
  const settings = { timeoutMs: cfg.redisTimeoutMs, ...(cfg.redisCaFile ? { caFile: cfg.redisCaFile } : {}) };
  if (!url && opts.vault) {
    const sock = embeddedSocketOf(embeddedDirOf(opts.vault));
    if (existsSync(sock) && !(await pingRedis({ host: '127.0.0.1', port: 6379 })) && (await pingRedis({ path: sock }))) {
      return { options: { path: sock }, describe: `unix://${sock} (embedded, started by another vault-loop run)`, timeoutMs: cfg.redisTimeoutMs };
    }
  }
  const target = await resolveRedis({
    ...settings,
    ...(url ? { url } : {}),
    ...(opts.mayStart && opts.vault ? { embeddedDir: embeddedDirOf(opts.vault) } : {}),
  });
  for (const w of target.warnings ?? []) process.stderr.write(`vault-loop: warning: ${w}\n`);
  return target;
}

/** The Redis URL of a config: redisUrl, or one made of redisSentinels + redisSentinelMaster. */
export function redisUrlOf(cfg: Pick<Config, 'redisUrl' | 'redisSentinels' | 'redisSentinelMaster'>): string | undefined {
  if (cfg.redisSentinels || cfg.redisSentinelMaster) {
    if (cfg.redisUrl) throw new UserError('redisUrl and redisSentinels/redisSentinelMaster both set: keep one (a Sentinel URL is redis+sentinel://host:port,host:port/master)');
    if (!cfg.redisSentinels || !cfg.redisSentinelMaster) throw new UserError('redisSentinels and redisSentinelMaster go together: set both (or redisUrl redis+sentinel://host:port,host:port/master)');
    return `redis+sentinel://${cfg.redisSentinels}/${encodeURIComponent(cfg.redisSentinelMaster)}`;
  }
  return cfg.redisUrl;
}

/** How long a graceful stop may take before the process ends anyway (a silent Redis must not hold it). */
export const DEFAULT_STOP_BOUND_MS = 30_000;

/** The stop bound for a config: room for one Redis timeout on every connection being closed, then some. */
export const stopBoundMs = (cfg: Pick<Config, 'redisTimeoutMs'>): number => Math.min(DEFAULT_STOP_BOUND_MS, 2 * cfg.redisTimeoutMs + 10_000);

/**
 * One shutdown path: the first SIGINT/SIGTERM calls `graceful`, the second `force`. Whatever
 * Redis does, the process ends within `boundMs` of the first signal (jobs it held go back to
 * their queues when their locks lapse). Returns a function that removes the handlers.
 */
export function onSignals(graceful: (signal: string) => void, force: (signal: string) => void, boundMs = DEFAULT_STOP_BOUND_MS): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      setTimeout(() => {
        process.stderr.write(`vault-loop: ${signal}: not stopped within ${Math.round(boundMs / 1000)} s (Redis does not answer?); exiting now\n`);
        process.exit(130);
      }, boundMs).unref();
      graceful(signal);
    } else force(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Worker timings from `--lock-duration`: the stalled check runs twice per lock duration. */
export function timingsFromOptions(opts: Record<string, unknown>): { lockDuration: number; stalledInterval: number } | undefined {
  const ms = opts.lockDuration;
  if (ms === undefined) return undefined;
  if (typeof ms !== 'number' || ms < 500) throw new UserError(`--lock-duration expects at least 500 ms, got "${String(ms)}"`);
  return { lockDuration: ms, stalledInterval: Math.max(250, Math.round(ms / 2)) };
}
