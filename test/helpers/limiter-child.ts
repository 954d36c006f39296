/**
 * A second process for the shared rate-limit test: makes `count` calls through a limited
 * OpenAI provider. Args: redisUrl prefix baseUrl model count rpm windowSeconds tag
 */
import { Redis } from 'ioredis';
import { limitedProvider } from '../../src/llm/limiter.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import { optionsFromUrl } from '../../src/redis/index.js';

const [redisUrl, prefix, baseUrl, model, count, rpm, windowSeconds, tag] = process.argv.slice(2) as [string, string, string, string, string, string, string, string];
const redis = new Redis({ ...optionsFromUrl(redisUrl), maxRetriesPerRequest: 3 });
const raw = new OpenAiProvider({ apiKey: 'k', model, baseUrl });
// Warm the HTTP client outside the limiter, then wait for the parent's go (stdin closes).
await raw.complete({ purpose: 'generate', prompt: `warm-${tag}` });
process.stdout.write('ready\n');
await new Promise<void>((res) => process.stdin.once('data', () => res()));
const llm = limitedProvider(raw, redis, { prefix, rpm: Number(rpm), windowSeconds: Number(windowSeconds), maxWaitMs: 20_000 });
await Promise.all(Array.from({ length: Number(count) }, (_, i) => llm.complete({ purpose: 'generate', prompt: `${tag}${i}` })));
redis.disconnect();
process.stdout.write('done\n');
