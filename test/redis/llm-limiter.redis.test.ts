/**
 * The shared rate limit on a real Redis: two limiters on separate connections (two processes)
 * in front of real providers, requests counted where they land, on a fake server.
 *
 * No assertion depends on how fast the machine is: a window is 10 minutes long, so a test never
 * sees one end by itself, and the test ends it when it wants the next one (it deletes or shortens
 * the window's key in Redis, which is all a window's end is to the limiter). What is asserted are
 * counts: how many requests reached the server, how many the limiter refused.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmRateLimitedError } from '../../src/errors.js';
import { limitedProvider } from '../../src/llm/limiter.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import type { LlmProvider } from '../../src/llm/types.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

const N = 4;
/** Longer than any test takes on any machine: a window ends only when the test ends it. */
const WINDOW_S = 600;
/** Shorter than a window: a call that finds its window full is refused at once, not held. */
const MAX_WAIT_MS = 10_000;

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
  const sentTo = (model: string) => server.requests.filter((q) => q.model === model).length;
  /** The request window's counter in Redis for a model (rate-limiter-flexible's fixed-window key). */
  const requestKey = (prefix: string, model: string) => `{${prefix}}:rl:req:openai:${model}`;

  /** `perInstance` calls through each of a and b at once: how many were sent and how many refused. */
  async function burst(a: LlmProvider, b: LlmProvider, perInstance: number): Promise<{ sent: number; refused: number }> {
    const calls = [];
    for (let i = 0; i < perInstance; i++) calls.push(a.complete({ purpose: 'generate', prompt: `a${i}` }), b.complete({ purpose: 'generate', prompt: `b${i}` }));
    const settled = await Promise.allSettled(calls);
    const other = settled.filter((s) => s.status === 'rejected' && !(s.reason instanceof LlmRateLimitedError));
    expect(other).toEqual([]);
    return { sent: settled.filter((s) => s.status === 'fulfilled').length, refused: settled.filter((s) => s.status === 'rejected').length };
  }

  it('two instances on separate connections let N requests through per window together, and N again in the next window', async () => {
    const opts = { prefix: r.prefix, rpm: N, windowSeconds: WINDOW_S, maxWaitMs: MAX_WAIT_MS };
    const a = limitedProvider(provider('shared'), r.client, opts);
    const b = limitedProvider(provider('shared'), second, opts);
    expect(await burst(a, b, 6)).toEqual({ sent: N, refused: 12 - N });
    expect(sentTo('shared')).toBe(N);
    // The window is full for both: one more call from either is refused, and never sent.
    await expect(b.complete({ purpose: 'generate', prompt: 'late' })).rejects.toBeInstanceOf(LlmRateLimitedError);
    expect(sentTo('shared')).toBe(N);
    // The window ends: the next one again takes N from both together.
    expect(await r.client.del(requestKey(r.prefix, 'shared'))).toBe(1);
    expect(await burst(a, b, 6)).toEqual({ sent: N, refused: 12 - N });
    expect(sentTo('shared')).toBe(2 * N);
  });

  it('two processes sharing one limiter let N requests through per window together (counted on the server)', async () => {
    const kids = ['p', 'q'].map((tag) =>
      spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/helpers/limiter-child.ts'), r.url, r.prefix, server.baseUrl, 'two-procs', '6', String(N), String(WINDOW_S), String(MAX_WAIT_MS), tag], {
        stdio: ['pipe', 'pipe', 'inherit'],
        cwd: PROJECT_ROOT,
      }),
    );
    const outs = kids.map((k) => {
      let out = '';
      k.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const exit = new Promise<number | null>((res) => k.once('close', (code) => res(code)));
      return { out: () => out, exit };
    });
    // Both are connected before either starts, so their calls overlap.
    await Promise.all(kids.map((k) => new Promise<void>((res) => k.stdout!.on('data', () => /ready/.test(outs[kids.indexOf(k)]!.out()) && res()))));
    for (const k of kids) k.stdin!.end('go\n');
    expect(await Promise.all(outs.map((o) => o.exit))).toEqual([0, 0]);
    const counts = outs.map((o) => /done sent=(\d+) refused=(\d+) other=(\d+)/.exec(o.out())!.slice(1).map(Number));
    expect(counts.reduce((s, [sent]) => s + sent!, 0)).toBe(N);
    expect(counts.reduce((s, [, refused]) => s + refused!, 0)).toBe(12 - N);
    expect(counts.map(([, , other]) => other)).toEqual([0, 0]);
    expect(sentTo('two-procs')).toBe(N);
  });

  it('control: limiters that do not share a key (different prefixes) let 2N through in one window', async () => {
    const a = limitedProvider(provider('unshared'), r.client, { prefix: `${r.prefix}-a`, rpm: N, windowSeconds: WINDOW_S, maxWaitMs: MAX_WAIT_MS });
    const b = limitedProvider(provider('unshared'), second, { prefix: `${r.prefix}-b`, rpm: N, windowSeconds: WINDOW_S, maxWaitMs: MAX_WAIT_MS });
    expect(await burst(a, b, 6)).toEqual({ sent: 2 * N, refused: 12 - 2 * N });
    expect(sentTo('unshared')).toBe(2 * N);
  });

  it('a call that finds the window full waits for the next window when that is within maxWaitMs, and is counted in it', async () => {
    const opts = { prefix: r.prefix, rpm: 1, windowSeconds: WINDOW_S, maxWaitMs: 60_000 };
    const llm = limitedProvider(provider('patient'), r.client, opts);
    await llm.complete({ purpose: 'generate', prompt: 'first' });
    const key = requestKey(r.prefix, 'patient');
    expect(await r.client.get(key)).toBe('1');
    // The window now ends soon (its key expires in 300 ms): the second call waits for the next one.
    expect(await r.client.pexpire(key, 300)).toBe(1);
    await llm.complete({ purpose: 'generate', prompt: 'second' });
    expect(sentTo('patient')).toBe(2);
    // Sent in a new window of its own: the counter holds it alone, with a whole window ahead.
    expect(await r.client.get(key)).toBe('1');
    expect(await r.client.pttl(key)).toBeGreaterThan(60_000);
  });

  it('a wait longer than maxWaitMs becomes LlmRateLimitedError with the delay', async () => {
    const llm = limitedProvider(provider('impatient'), r.client, { prefix: r.prefix, rpm: 1, windowSeconds: WINDOW_S, maxWaitMs: 100 });
    await llm.complete({ purpose: 'generate', prompt: 'first' });
    const err = await llm.complete({ purpose: 'generate', prompt: 'second' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmRateLimitedError);
    expect((err as LlmRateLimitedError).retryAfterMs).toBeGreaterThan(60_000);
    expect(sentTo('impatient')).toBe(1);
  });

  it('counts tokens: a token budget spent by one instance holds back the other', async () => {
    // Each call is estimated at 1 + 1000 tokens (tiny prompt + default output cap), then settled to the real usage (~15).
    const opts = { prefix: r.prefix, tpm: 1500, windowSeconds: WINDOW_S, maxWaitMs: 100 };
    const a = limitedProvider(provider('tokens'), r.client, opts);
    const b = limitedProvider(provider('tokens'), second, opts);
    await a.complete({ purpose: 'generate', prompt: 'x', maxOutputTokens: 1400 });
    // The estimate was settled down to real usage, so a small call still fits…
    await b.complete({ purpose: 'generate', prompt: 'y', maxOutputTokens: 100 });
    // …but one that may use 1400 more does not.
    await expect(b.complete({ purpose: 'generate', prompt: 'z', maxOutputTokens: 1480 })).rejects.toBeInstanceOf(LlmRateLimitedError);
    expect(sentTo('tokens')).toBe(2);
  });
});
