/**
 * The shared rate limit on a real Redis: two limiters on separate connections (two processes)
 * in front of real providers, requests counted where they land, on a fake server.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmRateLimitedError } from '../../src/errors.js';
import { limitedProvider } from '../../src/llm/limiter.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import type { LlmProvider } from '../../src/llm/types.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

const N = 4;
const WINDOW_MS = 1000;
// Localhost delivery lag between taking a slot in Redis and the request reaching the server
// (connections are warmed up first, so the lag is a few ms).
const TOLERANCE_MS = 100;

/** Largest k-window overrun: max over k of (arrivals before first + k·W − tol) − k·N. */
function worstExcess(arrivals: number[]): { excess: number; firstWindow: number } {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const first = sorted[0]!;
  let excess = -Infinity;
  const windows = Math.ceil((sorted.at(-1)! - first) / WINDOW_MS) + 1;
  for (let k = 1; k <= windows; k++) {
    const count = sorted.filter((t) => t < first + k * WINDOW_MS - TOLERANCE_MS).length;
    excess = Math.max(excess, count - k * N);
  }
  return { excess, firstWindow: sorted.filter((t) => t < first + WINDOW_MS - TOLERANCE_MS).length };
}

describe('limitedProvider', () => {
  let r: TestRedis;
  let server: FakeLlmServer;
  let second: Redis;
  beforeAll(async () => {
    r = await useTestRedis('llm-limiter');
    second = new Redis({ ...r.options, maxRetriesPerRequest: 3 });
    server = await FakeLlmServer.start({ protocol: 'openai', apiKey: 'k', answer: () => '[]' });
  });
  afterAll(async () => {
    await server.close();
    second.disconnect();
    await r.cleanup();
  });

  const provider = (model: string) => new OpenAiProvider({ apiKey: 'k', model, baseUrl: server.baseUrl });
  let rawA: LlmProvider;
  let rawB: LlmProvider;

  async function burst(a: LlmProvider, b: LlmProvider, perInstance: number, model: string): Promise<number[]> {
    // Warm the HTTP clients (first-call setup would delay the first window's arrivals) without the limiter.
    await Promise.all([rawA.complete({ purpose: 'generate', prompt: 'warm' }), rawB.complete({ purpose: 'generate', prompt: 'warm' })]);
    const calls = [];
    for (let i = 0; i < perInstance; i++) {
      calls.push(a.complete({ purpose: 'generate', prompt: `a${i}` }), b.complete({ purpose: 'generate', prompt: `b${i}` }));
    }
    await Promise.all(calls);
    return server.requests.filter((q) => q.model === model && q.prompt !== 'warm').map((q) => q.receivedAt);
  }

  it('two instances on separate connections never exceed N requests per window together', async () => {
    const opts = { prefix: r.prefix, rpm: N, windowSeconds: WINDOW_MS / 1000, maxWaitMs: 10_000 };
    rawA = provider('shared');
    rawB = provider('shared');
    const a = limitedProvider(rawA, r.client, opts);
    const b = limitedProvider(rawB, second, opts);
    const arrivals = await burst(a, b, 6, 'shared');
    expect(arrivals).toHaveLength(12);
    const { excess, firstWindow } = worstExcess(arrivals);
    expect(excess).toBeLessThanOrEqual(0);
    expect(firstWindow).toBe(N);
    // 12 requests at 4 per window need at least three windows.
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThanOrEqual(2 * WINDOW_MS - TOLERANCE_MS);
  });

  it('two processes sharing one limiter never exceed N requests per window together (counted on the server)', async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const { PROJECT_ROOT } = await import('../helpers/fixtures.js');
    const kids = ['p', 'q'].map((tag) =>
      spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/helpers/limiter-child.ts'), r.url, r.prefix, server.baseUrl, 'two-procs', '6', String(N), String(WINDOW_MS / 1000), tag], {
        stdio: ['pipe', 'pipe', 'inherit'],
        cwd: PROJECT_ROOT,
      }),
    );
    const lines = kids.map((k) => {
      let out = '';
      k.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return () => out;
    });
    const until = async (word: string) => {
      for (let i = 0; i < 600 && !lines.every((l) => l().includes(word)); i++) await new Promise((res) => setTimeout(res, 50));
      expect(lines.map((l) => l().includes(word))).toEqual([true, true]);
    };
    await until('ready');
    for (const k of kids) k.stdin!.end('go\n');
    await until('done');
    const arrivals = server.requests.filter((q) => q.model === 'two-procs' && !q.prompt?.startsWith('warm')).map((q) => q.receivedAt);
    expect(arrivals).toHaveLength(12);
    const { excess, firstWindow } = worstExcess(arrivals);
    expect(excess).toBeLessThanOrEqual(0);
    expect(firstWindow).toBe(N);
  });

  it('control: limiters that do not share a key (different prefixes) let 2N through in the first window', async () => {
    rawA = provider('unshared');
    rawB = provider('unshared');
    const a = limitedProvider(rawA, r.client, { prefix: `${r.prefix}-a`, rpm: N, windowSeconds: 1, maxWaitMs: 10_000 });
    const b = limitedProvider(rawB, second, { prefix: `${r.prefix}-b`, rpm: N, windowSeconds: 1, maxWaitMs: 10_000 });
    const arrivals = await burst(a, b, N, 'unshared');
    expect(worstExcess(arrivals).firstWindow).toBe(2 * N);
  });

  it('a wait longer than maxWaitMs becomes LlmRateLimitedError with the delay', async () => {
    const llm = limitedProvider(provider('impatient'), r.client, { prefix: r.prefix, rpm: 1, windowSeconds: 5, maxWaitMs: 100 });
    await llm.complete({ purpose: 'generate', prompt: 'first' });
    const err = await llm.complete({ purpose: 'generate', prompt: 'second' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmRateLimitedError);
    expect((err as LlmRateLimitedError).retryAfterMs).toBeGreaterThan(4000);
    expect(server.requests.filter((q) => q.model === 'impatient')).toHaveLength(1);
  });

  it('counts tokens: a token budget spent by one instance holds back the other', async () => {
    // Each call is estimated at 1 + 1000 tokens (tiny prompt + default output cap), then settled to the real usage (~15).
    const opts = { prefix: r.prefix, tpm: 1500, windowSeconds: 5, maxWaitMs: 100 };
    const a = limitedProvider(provider('tokens'), r.client, opts);
    const b = limitedProvider(provider('tokens'), second, opts);
    await a.complete({ purpose: 'generate', prompt: 'x', maxOutputTokens: 1400 });
    // The estimate was settled down to real usage, so a small call still fits…
    await b.complete({ purpose: 'generate', prompt: 'y', maxOutputTokens: 100 });
    // …but one that may use 1400 more does not.
    await expect(b.complete({ purpose: 'generate', prompt: 'z', maxOutputTokens: 1480 })).rejects.toBeInstanceOf(LlmRateLimitedError);
    expect(server.requests.filter((q) => q.model === 'tokens')).toHaveLength(2);
  });
});
