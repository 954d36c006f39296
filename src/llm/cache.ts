/**
 * Response cache in Redis: the same request to the same provider and model is answered once.
 * That is what makes a retried job (after a crash, or a retry from Bull Board) cost nothing when
 * the model already answered. Raw text is stored and parsed afterwards, so a parser fix applies
 * to cached answers too. Errors and truncated answers are never cached.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/index.js';
import type { CompletionRequest, CompletionResult, LlmProvider, TokenUsage } from './types.js';

export interface CacheOptions {
  /** The configured key prefix; keys are `{prefix}:cache:<sha256>`. */
  prefix: string;
  /** 0 disables the cache (every call goes to the provider). */
  ttlSeconds: number;
  /** Told about Redis failures on write; a lost cache write never fails a call that succeeded. */
  onError?: (e: Error) => void;
}

interface Stored {
  text: string;
  usage: TokenUsage;
  model: string;
}

/** Everything that changes the answer; nothing that does not (signal, timeout). */
export function cacheHash(provider: Pick<LlmProvider, 'name' | 'model'>, req: CompletionRequest): string {
  const material = {
    v: 1,
    provider: provider.name,
    model: provider.model,
    purpose: req.purpose,
    system: req.system ?? null,
    prompt: req.prompt,
    schema: req.jsonSchema ?? null,
    params: { temperature: req.temperature ?? null, maxOutputTokens: req.maxOutputTokens ?? null },
  };
  return createHash('sha256').update(JSON.stringify(material)).digest('hex');
}

export const cacheKey = (prefix: string, hash: string): string => `{${prefix}}:cache:${hash}`;

export interface CachedProvider extends LlmProvider {
  /** Drops the cached answer to `req`, e.g. after it failed to parse, so a retry asks again. */
  forget(req: CompletionRequest): Promise<void>;
}

export function cachedProvider(provider: LlmProvider, redis: RedisClient, opts: CacheOptions): CachedProvider {
  const keyOf = (req: CompletionRequest) => cacheKey(opts.prefix, cacheHash(provider, req));
  return {
    name: provider.name,
    model: provider.model,
    async complete(req: CompletionRequest): Promise<CompletionResult> {
      if (opts.ttlSeconds <= 0) return provider.complete(req);
      const key = keyOf(req);
      const started = performance.now();
      const hit = await redis.get(key);
      if (hit !== null) {
        const s = JSON.parse(hit) as Stored;
        return { text: s.text, usage: s.usage, model: s.model, latencyMs: Math.round(performance.now() - started), cached: true };
      }
      const res = await provider.complete(req);
      if (!res.truncated) {
        const stored: Stored = { text: res.text, usage: res.usage, model: res.model };
        await redis.set(key, JSON.stringify(stored), 'EX', opts.ttlSeconds).catch((e: Error) => opts.onError?.(e));
      }
      return res;
    },
    async forget(req: CompletionRequest): Promise<void> {
      await redis.del(keyOf(req));
    },
  };
}
