/**
 * Rate limits shared by every process that calls the same provider and model: requests and tokens
 * per window, counted in Redis (rate-limiter-flexible's RateLimiterRedis, fixed windows). A call
 * waits for a slot up to `maxWaitMs`; a longer wait becomes LlmRateLimitedError so the queue
 * reschedules the job instead of holding a worker.
 */
import type { RedisClient } from '../redis/index.js';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { LlmRateLimitedError } from '../errors.js';
import { abortReason } from './errors.js';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';

export interface LimiterOptions {
  prefix: string;
  /** Requests per window (0 or unset: no request limit). */
  rpm?: number;
  /** Tokens (input + output) per window (0 or unset: no token limit). */
  tpm?: number;
  /** Window length; 60 s for per-minute limits (shorter only in tests). */
  windowSeconds?: number;
  /** Longest wait for a slot before giving the job back to the queue. Default 30 s. */
  maxWaitMs?: number;
}

export const DEFAULT_MAX_WAIT_MS = 30_000;

/** Tokens a request is expected to use before its real usage is known: prompt chars / 4 + output cap. */
export function estimateRequestTokens(req: CompletionRequest): number {
  return Math.ceil(((req.system?.length ?? 0) + req.prompt.length) / 4) + (req.maxOutputTokens ?? 1000);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Takes `points` from `limiter`, waiting across windows until `deadline`; else LlmRateLimitedError. */
async function take(limiter: RateLimiterRedis, key: string, points: number, deadline: number, what: string, signal?: AbortSignal): Promise<void> {
  for (;;) {
    try {
      await limiter.consume(key, points);
      return;
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      // A little spread so waiting processes do not all hit the next window's first millisecond.
      const wait = e.msBeforeNext + Math.floor(Math.random() * 25);
      if (Date.now() + wait > deadline) {
        // Never sent: the budget releases its reservation for this one.
        throw Object.assign(new LlmRateLimitedError(`${what}: shared ${key} limit reached; next slot in ${e.msBeforeNext} ms`, wait), { notSent: true });
      }
      await sleep(wait, signal);
    }
  }
}

export function limitedProvider(provider: LlmProvider, redis: RedisClient, opts: LimiterOptions): LlmProvider {
  const duration = opts.windowSeconds ?? 60;
  const keyPrefix = `{${opts.prefix}}:rl`;
  const base = `${provider.name}:${provider.model}`;
  const requests = opts.rpm ? new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}:req`, points: opts.rpm, duration }) : undefined;
  const tokens = opts.tpm ? new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}:tok`, points: opts.tpm, duration }) : undefined;
  const maxWait = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;

  return {
    name: provider.name,
    model: provider.model,
    async complete(req: CompletionRequest): Promise<CompletionResult> {
      const deadline = Date.now() + maxWait;
      if (requests) await take(requests, base, 1, deadline, provider.name, req.signal);
      // A single request larger than the whole budget could never fit: count it as the whole budget.
      const estimate = Math.min(estimateRequestTokens(req), opts.tpm ?? Infinity);
      if (tokens) {
        try {
          await take(tokens, base, estimate, deadline, provider.name, req.signal);
        } catch (e) {
          // Give the request slot back: no request was made.
          await requests?.reward(base, 1).catch(() => undefined);
          throw e;
        }
      }
      const res = await provider.complete(req);
      if (tokens && !res.cached) {
        const actual = res.usage.inputTokens + res.usage.outputTokens;
        // Settle the estimate against the real usage, so the window counts what was spent.
        if (actual > estimate) await tokens.penalty(base, actual - estimate).catch(() => undefined);
        else if (actual < estimate) await tokens.reward(base, estimate - actual).catch(() => undefined);
      }
      return res;
    },
  };
}
