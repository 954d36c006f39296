/**
 * A second process for the shared rate-limit test: makes `count` calls at once through a limited
 * OpenAI provider and prints how many were sent and how many the limiter refused.
 * Args: redisUrl prefix baseUrl model count rpm windowSeconds maxWaitMs tag
 */
import { Redis } from 'ioredis';
import { LlmRateLimitedError } from '../../src/errors.js';
import { limitedProvider } from '../../src/llm/limiter.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import { optionsFromUrl } from '../../src/redis/index.js';

const [redisUrl, prefix, baseUrl, model, count, rpm, windowSeconds, maxWaitMs, tag] = process.argv.slice(2) as [string, string, string, string, string, string, string, string, string];
const redis = new Redis({ ...optionsFromUrl(redisUrl), maxRetriesPerRequest: 3 });
const raw = new OpenAiProvider({ apiKey: 'k', model, baseUrl });
// Ready once connected, then wait for the parent's go (stdin closes).
await redis.ping();
process.stdout.write('ready\n');
await new Promise<void>((res) => process.stdin.once('data', () => res()));
const llm = limitedProvider(raw, redis, { prefix, rpm: Number(rpm), windowSeconds: Number(windowSeconds), maxWaitMs: Number(maxWaitMs) });
const settled = await Promise.allSettled(Array.from({ length: Number(count) }, (_, i) => llm.complete({ purpose: 'generate', prompt: `${tag}${i}` })));
const refused = settled.filter((s) => s.status === 'rejected' && s.reason instanceof LlmRateLimitedError).length;
const sent = settled.filter((s) => s.status === 'fulfilled').length;
redis.disconnect();
process.stdout.write(`done sent=${sent} refused=${refused} other=${settled.length - sent - refused}\n`);
