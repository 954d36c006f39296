/**
 * One config module: one zod schema; values from `vault-loop.config.yaml` (optional), then the
 * environment, then CLI flags, each overriding the one before. A bad value gives one message
 * naming the key, what was expected and where the value came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseYaml } from '../util/yaml.js';
import { PROVIDER_NAMES, STRUCTURED_OUTPUTS, type ProviderName, type StructuredOutput } from './names.js';

const bool = z.union([z.boolean(), z.stringbool()]);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max = Number.MAX_VALUE) => z.coerce.number().min(min).max(max);
/** A basic-auth login: `user:password`, a user name without ':' and a password of at least 8 characters. */
const basicAuth = z.string().regex(/^[^:\s][^:]*:.{8,}$/, 'user:password (a user name without ":", a password of at least 8 characters)');

export { PROVIDER_NAMES, STRUCTURED_OUTPUTS, type ProviderName, type StructuredOutput } from './names.js';
export { ConfigError } from '../errors.js';

/** Every key, its type and its default. `describe()` texts feed the README's configuration table. */
export const ConfigSchema = z
  .object({
    vault: z.string().min(1).optional().describe('The vault folder (holds questions/, visuals/, _validation_results/).'),
    redisUrl: z.string().min(1).optional().describe('Redis URL; unset: 127.0.0.1:6379 if it answers, else an embedded redis-server.'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, dot, dash or underscore')
      .default('vault-loop')
      .describe('Key prefix; written as a hash tag {prefix} so a Redis Cluster keeps it on one slot.'),
    redisDownTimeoutMs: int(1000).default(30000).describe('How long Redis may be unreachable before the CLI gives up.'),
    redisTimeoutMs: int(100, 600000).default(10000).describe('Connect and command timeout of every Redis connection: a Redis that does not answer within it is reported, never waited on.'),
    redisCaFile: z.string().min(1).optional().describe('PEM file of the CA that signed the Redis server certificate (rediss:// URLs; default: the system CAs).'),
    redisSentinels: z
      .string()
      .regex(/^[^,\s]+(,[^,\s]+)*$/, 'host:port[,host:port…]')
      .optional()
      .describe('Redis Sentinel addresses, host:port[,host:port…] (with redisSentinelMaster; same as redisUrl redis+sentinel://host:port,host:port/master).'),
    redisSentinelMaster: z.string().min(1).optional().describe('The master name the sentinels monitor (with redisSentinels).'),

    maxIters: int(1).default(30).describe('Iterations at most.'),
    maxCalls: int(0).default(80).describe('Provider calls at most, generation + judging, across all processes.'),
    genBatchSize: int(1, 200).default(30).describe('Plan cells per generation call.'),
    genCallsPerIter: int(1).default(4).describe('Generation calls per iteration (plan size = genBatchSize × genCallsPerIter).'),
    judgeChunkSize: int(1, 200).default(25).describe('Drafts per judge call.'),
    gapThreshold: num(0).default(1.0).describe('Stop when the top gap priority falls below this.'),
    maxDropRate: num(0, 1).default(0.3).describe('Stop when an iteration DROPs more than this share of what it judged.'),
    visualEachIter: bool.default(false).describe('Ask for visuals on iterations 0, 2, 4, …'),
    strategy: z.enum(['reference', 'balanced']).default('balanced').describe('Planning strategy of the analyzer.'),
    dryRun: bool.default(false).describe('Plan only: no provider calls, no files written, no budget spent.'),
    seed: int(0).default(0).describe('Seed for the offline provider and every random choice.'),
    variantSalt: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe("Used in place of the run id in each cell's variant (sent in the prompt): the same vault, seed and salt give the same prompts and offline drafts. Unset: every run differs."),
    workers: int(1, 256).default(4).describe('In-process worker concurrency per queue.'),
    batchWindowMs: int(0, 60000).default(200).describe('How long a generate worker waits to fill a batch.'),

    provider: z.enum(PROVIDER_NAMES).default('offline').describe('Generation provider.'),
    model: z.string().min(1).optional().describe('Generation model id (provider default when unset).'),
    baseUrl: z.string().url().optional().describe('Generation provider base URL.'),
    temperature: num(0, 2).default(0.7).describe('Generation temperature.'),
    judgeProvider: z.enum(PROVIDER_NAMES).optional().describe('Judge provider (default: the generation provider).'),
    judgeModel: z.string().min(1).optional().describe('Judge model id (default: the generation model).'),
    judgeBaseUrl: z.string().url().optional().describe('Judge provider base URL (default: the generation one).'),
    judgeTemperature: num(0, 2).default(0).describe('Judge temperature.'),
    structuredOutput: z
      .enum(STRUCTURED_OUTPUTS)
      .default('json_schema')
      .describe('openai provider only: what the server supports, json_schema (strict), json_object or none (plain text, parsed and repaired).'),
    judgeStructuredOutput: z.enum(STRUCTURED_OUTPUTS).optional().describe('The same for the judge (default: the generation one).'),
    callTimeoutMs: int(1000).default(300000).describe('Timeout of one provider call.'),
    cacheTtlSeconds: int(0).default(7 * 24 * 3600).describe('Response cache TTL (0 disables the cache).'),
    requestsPerMinute: int(0).default(0).describe('Shared request rate limit per provider and model (0: none).'),
    tokensPerMinute: int(0).default(0).describe('Shared token rate limit per provider and model (0: none).'),
    prices: z
      .preprocess(
        // From the environment the table is JSON; a string that is not JSON fails the record check below.
        (v) => {
          if (typeof v !== 'string') return v;
          try {
            return JSON.parse(v) as unknown;
          } catch {
            return v;
          }
        },
        z.record(z.string().min(1), z.strictObject({ input: num(0), output: num(0) })),
      )
      .optional()
      .describe('Price overrides, model id → USD per 1M tokens {input, output}, on top of the built-in table (env: JSON).'),
    openaiApiKey: z.string().optional().describe('OPENAI_API_KEY.'),
    geminiApiKey: z.string().optional().describe('GEMINI_API_KEY.'),
    anthropicApiKey: z.string().optional().describe('ANTHROPIC_API_KEY.'),

    offlineLatencyMs: int(0, 600000).default(0).describe('Simulated latency of each offline provider call.'),
    offlineDefectRate: num(0, 1).default(0).describe('Share of offline drafts given a deliberate defect.'),
    offlineDefectKinds: z
      .preprocess((v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v), z.array(z.enum(['wrong-arithmetic', 'malformed-area', 'near-copy', 'form'])).min(1))
      .optional()
      .describe('Which offline defects to plant (comma-separated): wrong-arithmetic, malformed-area, near-copy, form; default all.'),

    allowPythonVisuals: bool.default(false).describe('Run model-written matplotlib scripts (sandboxed).'),
    revise: bool.default(false).describe('Revise NEEDS_FIX drafts from the judge\'s fix suggestions and judge them again, within the run.'),
    maxRevisions: int(0, 10).default(1).describe('Revisions per draft at most.'),

    dashboardHost: z.string().default('127.0.0.1').describe('Dashboard bind address.'),
    dashboardPort: int(0, 65535).default(3000).describe('Dashboard port.'),
    dashboardToken: z.string().min(8).optional().describe('DASHBOARD_TOKEN: operator bearer token.'),
    dashboardViewerToken: z.string().min(8).optional().describe('DASHBOARD_VIEWER_TOKEN: read-only bearer token.'),
    dashboardBasicAuth: basicAuth.optional().describe('DASHBOARD_BASIC_AUTH: operator basic-auth login, user:password.'),
    dashboardViewerBasicAuth: basicAuth.optional().describe('DASHBOARD_VIEWER_BASIC_AUTH: read-only basic-auth login, user:password.'),

    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn').describe('Log level (pino, to stderr).'),
  })
  .strict();

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
export type ConfigInput = Partial<Record<keyof z.infer<typeof ConfigSchema>, unknown>>;

/** Environment variables with names of their own; every other key reads VAULT_LOOP_<UPPER_SNAKE>. */
const NAMED_ENV: Partial<Record<keyof Config, string>> = {
  redisUrl: 'REDIS_URL',
  openaiApiKey: 'OPENAI_API_KEY',
  geminiApiKey: 'GEMINI_API_KEY',
  anthropicApiKey: 'ANTHROPIC_API_KEY',
  dashboardToken: 'DASHBOARD_TOKEN',
  dashboardViewerToken: 'DASHBOARD_VIEWER_TOKEN',
  dashboardBasicAuth: 'DASHBOARD_BASIC_AUTH',
  dashboardViewerBasicAuth: 'DASHBOARD_VIEWER_BASIC_AUTH',
};

export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as (keyof Config)[];

/** Keys whose values are secrets: never echoed in an error message, never stored with a run. */
export const SECRET_KEYS: ReadonlySet<keyof Config> = new Set(['openaiApiKey', 'geminiApiKey', 'anthropicApiKey', 'dashboardToken', 'dashboardViewerToken', 'dashboardBasicAuth', 'dashboardViewerBasicAuth']);

export function envNameFor(key: keyof Config): string {
  return NAMED_ENV[key] ?? `VAULT_LOOP_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export const CONFIG_FILE_NAME = 'vault-loop.config.yaml';

export interface LoadConfigOptions {
  /** Explicit config file; else `vault-loop.config.yaml` in the vault folder, else in cwd. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: ConfigInput;
  cwd?: string;
}

const kebabToCamel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Finds the config file: explicit, else in the vault folder, else in cwd. */
export function findConfigFile(opts: LoadConfigOptions, vault?: string): string | undefined {
  if (opts.file) return resolve(opts.cwd ?? process.cwd(), opts.file);
  const candidates = [vault && resolve(opts.cwd ?? process.cwd(), vault, CONFIG_FILE_NAME), resolve(opts.cwd ?? process.cwd(), CONFIG_FILE_NAME)];
  return candidates.find((c): c is string => Boolean(c) && existsSync(c as string));
}

/** Merges file < env < flags, validates once, and returns a frozen config or throws ConfigError. */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const flags = Object.fromEntries(Object.entries(opts.flags ?? {}).filter(([, v]) => v !== undefined));
  const sources = new Map<string, string>();
  const merged: Record<string, unknown> = {};

  const vaultHint = (flags.vault as string | undefined) ?? env[envNameFor('vault')];
  const file = findConfigFile(opts, vaultHint);
  if (opts.file && file && !existsSync(file)) throw new ConfigError(`config: file ${file} does not exist`);
  if (file) {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: 100 });
    } catch (e) {
      throw new ConfigError(`config: ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (raw !== null && raw !== undefined) {
      if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config: ${file}: expected a mapping of keys to values`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        const key = kebabToCamel(k);
        merged[key] = v;
        sources.set(key, `config file ${file}`);
      }
    }
  }
  for (const key of CONFIG_KEYS) {
    const name = envNameFor(key);
    const v = env[name];
    if (v !== undefined && v !== '') {
      merged[key] = v;
      sources.set(key, `environment variable ${name}`);
    }
  }
  for (const [k, v] of Object.entries(flags)) {
    merged[k] = v;
    sources.set(k, `flag --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }

  // jitless: a config is parsed once per process, and compiling zod's fast path for one parse costs
  // more than it saves (measured by bench/startup.bench.ts: a visible share of `vault-loop status`).
  const parsed = ConfigSchema.safeParse(merged, { jitless: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `config: unknown key "${k}" (from ${sources.get(k) ?? 'input'}); known keys: ${CONFIG_KEYS.join(', ')}`).join('\n');
      }
      const key = String(issue.path[0] ?? '');
      const value = merged[key];
      const shown = SECRET_KEYS.has(key as keyof Config) && value !== undefined ? `a hidden value of ${String(value).length} characters` : JSON.stringify(value);
      return `config: ${key}: ${issue.message}; got ${shown} (from ${sources.get(key) ?? 'defaults'})`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  return Object.freeze(parsed.data);
}

/**
 * The provider keys of a configuration, as loaded or as a run stored them (a run stored by an
 * older version may lack structuredOutput: the provider's default then applies).
 */
export type ProviderKeys = Pick<Config, 'provider' | 'temperature' | 'judgeTemperature'> &
  Partial<Pick<Config, 'model' | 'baseUrl' | 'structuredOutput' | 'judgeProvider' | 'judgeModel' | 'judgeBaseUrl' | 'judgeStructuredOutput'>>;

/** One role's effective provider settings. */
export interface RoleSettings {
  provider: ProviderName;
  model?: string | undefined;
  baseUrl?: string | undefined;
  temperature: number;
  structuredOutput?: StructuredOutput | undefined;
}

/** The generator's provider settings. */
export function generatorSettings(cfg: ProviderKeys): RoleSettings {
  return { provider: cfg.provider, model: cfg.model, baseUrl: cfg.baseUrl, temperature: cfg.temperature, structuredOutput: cfg.structuredOutput };
}

/** The judge's effective provider settings (default: the generation ones). */
export function judgeSettings(cfg: ProviderKeys): RoleSettings {
  return {
    provider: cfg.judgeProvider ?? cfg.provider,
    model: cfg.judgeModel ?? cfg.model,
    baseUrl: cfg.judgeBaseUrl ?? cfg.baseUrl,
    temperature: cfg.judgeTemperature,
    structuredOutput: cfg.judgeStructuredOutput ?? cfg.structuredOutput,
  };
}
