/**
 * One place that turns configuration into a provider: name → class, default model, API key from
 * config (OPENAI_API_KEY, GEMINI_API_KEY, ANTHROPIC_API_KEY), call timeout. Then the shared
 * services (rate limit inside, response cache outside, so a cache hit spends no rate limit).
 */
import type { RedisClient } from '../redis/index.js';
import { envNameFor, type Config, type ProviderName } from '../config/index.js';
import { AnthropicProvider, ANTHROPIC_DEFAULT_MODEL } from './anthropic.js';
import { cachedProvider, type CachedProvider } from './cache.js';
import { GeminiCliProvider, GEMINI_CLI_DEFAULT_MODEL } from './gemini-cli.js';
import { GeminiProvider, GEMINI_DEFAULT_MODEL } from './gemini.js';
import { limitedProvider } from './limiter.js';
import { OpenAiProvider, OPENAI_DEFAULT_MODEL, type StructuredOutput } from './openai.js';
import { OFFLINE_MODEL } from './offline/provider.js';
import type { LlmProvider } from './types.js';

/** Which provider, as config gives it for generation (cfg.provider…) or judging (judgeSettings(cfg)). */
export interface ProviderChoice {
  provider: ProviderName;
  model?: string;
  baseUrl?: string;
  temperature?: number;
  /** openai only: for OpenAI-compatible servers without strict json_schema support. Default json_schema. */
  structuredOutput?: StructuredOutput;
}

export interface ProviderDeps {
  config: Pick<Config, 'openaiApiKey' | 'geminiApiKey' | 'anthropicApiKey' | 'callTimeoutMs'>;
  /** The gemini-cli executable (default `gemini` on PATH) and its environment. */
  geminiCommand?: string;
  env?: NodeJS.ProcessEnv;
  /** The offline provider's factory (the runtime passes src/llm/offline's, with the run's seed and defects). */
  createOffline?: (choice: ProviderChoice) => LlmProvider;
}

export const DEFAULT_MODELS: Record<ProviderName, string> = {
  offline: OFFLINE_MODEL,
  openai: OPENAI_DEFAULT_MODEL,
  gemini: GEMINI_DEFAULT_MODEL,
  anthropic: ANTHROPIC_DEFAULT_MODEL,
  'gemini-cli': GEMINI_CLI_DEFAULT_MODEL,
};

export class ProviderConfigError extends Error {
  override readonly name = 'ProviderConfigError';
}

/** The model a provider uses when none is named, so the records and the calls agree (a name it does not know is its own model). */
export function defaultModel(provider: string): string {
  return DEFAULT_MODELS[provider as ProviderName] ?? provider;
}

export function resolvedModel(choice: ProviderChoice): string {
  return choice.model ?? DEFAULT_MODELS[choice.provider];
}

function requireKey(value: string | undefined, key: 'openaiApiKey' | 'geminiApiKey' | 'anthropicApiKey', provider: string): string {
  if (value && value.trim() !== '') return value;
  throw new ProviderConfigError(`provider ${provider} needs an API key: set ${envNameFor(key)} (or ${key} in vault-loop.config.yaml)`);
}

/** Sent to a local server only, and only when no key is configured. */
export const LOCAL_PLACEHOLDER_KEY = 'not-needed';

/** Is `url` on this machine (loopback address or localhost)? */
export function isLocalUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function createProvider(choice: ProviderChoice, deps: ProviderDeps): LlmProvider {
  const model = resolvedModel(choice);
  const timeoutMs = deps.config.callTimeoutMs;
  const common = { model, timeoutMs, ...(choice.baseUrl ? { baseUrl: choice.baseUrl } : {}), ...(choice.temperature !== undefined ? { temperature: choice.temperature } : {}) };
  switch (choice.provider) {
    case 'offline':
      if (!deps.createOffline) throw new ProviderConfigError('the offline provider is not wired into createProvider yet (pass deps.createOffline)');
      return deps.createOffline(choice);
    case 'openai': {
      // A local OpenAI-compatible server (Ollama, llama.cpp on this machine) may want no key, but the
      // SDK wants one: a placeholder, only then. A configured key is always sent; a remote server
      // without one is a configuration error (hosted services answer 401).
      const configured = deps.config.openaiApiKey?.trim() ? deps.config.openaiApiKey : undefined;
      const apiKey = configured ?? (choice.baseUrl && isLocalUrl(choice.baseUrl) ? LOCAL_PLACEHOLDER_KEY : undefined);
      return new OpenAiProvider({ ...common, apiKey: requireKey(apiKey, 'openaiApiKey', 'openai'), ...(choice.structuredOutput ? { structuredOutput: choice.structuredOutput } : {}) });
    }
    case 'gemini':
      return new GeminiProvider({ ...common, apiKey: requireKey(deps.config.geminiApiKey, 'geminiApiKey', 'gemini') });
    case 'anthropic':
      return new AnthropicProvider({ ...common, apiKey: requireKey(deps.config.anthropicApiKey, 'anthropicApiKey', 'anthropic') });
    case 'gemini-cli':
      return new GeminiCliProvider({ model, timeoutMs, ...(deps.geminiCommand ? { command: deps.geminiCommand } : {}), ...(deps.env ? { env: deps.env } : {}) });
    default: {
      const never: never = choice.provider;
      throw new ProviderConfigError(`unknown provider ${String(never)}`);
    }
  }
}

/**
 * A warning when the judge is the generator (same provider and model): models favour their own
 * writing, so verdicts are softer. Null when they differ, or for the offline provider.
 */
export function selfPreferenceWarning(gen: ProviderChoice, judge: ProviderChoice): string | null {
  if (gen.provider === 'offline' || judge.provider === 'offline') return null;
  const gm = resolvedModel(gen);
  if (gen.provider !== judge.provider || gm !== resolvedModel(judge)) return null;
  return `the judge is the generator (${gen.provider} ${gm}): models tend to rate their own drafts higher; consider --judge-provider/--judge-model`;
}

export interface SharedServicesOptions {
  prefix: string;
  cacheTtlSeconds: number;
  requestsPerMinute: number;
  tokensPerMinute: number;
  maxWaitMs?: number;
}

/** The provider behind the shared rate limit and the response cache (cache outermost). */
export function withSharedServices(provider: LlmProvider, redis: RedisClient, opts: SharedServicesOptions): CachedProvider {
  const limited =
    opts.requestsPerMinute > 0 || opts.tokensPerMinute > 0
      ? limitedProvider(provider, redis, { prefix: opts.prefix, rpm: opts.requestsPerMinute, tpm: opts.tokensPerMinute, ...(opts.maxWaitMs ? { maxWaitMs: opts.maxWaitMs } : {}) })
      : provider;
  return cachedProvider(limited, redis, { prefix: opts.prefix, ttlSeconds: opts.cacheTtlSeconds });
}
