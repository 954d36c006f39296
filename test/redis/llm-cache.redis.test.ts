/** The response cache on a real Redis, in front of the real openai provider talking to a fake server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmTransientError } from '../../src/errors.js';
import { cachedProvider, cacheHash, cacheKey } from '../../src/llm/cache.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';
import { useTestRedis, type TestRedis } from '../helpers/redis.js';

describe('cachedProvider', () => {
  let r: TestRedis;
  let server: FakeLlmServer;
  let n = 0;
  beforeAll(async () => {
    r = await useTestRedis('llm-cache');
    server = await FakeLlmServer.start({ protocol: 'openai', apiKey: 'k', answer: () => `[{"n": ${++n}}]` });
  });
  afterAll(async () => {
    await server.close();
    await r.cleanup();
  });

  const make = (ttlSeconds = 60) => cachedProvider(new OpenAiProvider({ apiKey: 'k', model: 'm1', baseUrl: server.baseUrl }), r.client, { prefix: r.prefix, ttlSeconds });

  it('serves the second identical call from the cache without calling the provider', async () => {
    const llm = make();
    const before = server.requests.length;
    const a = await llm.complete({ purpose: 'generate', prompt: 'same prompt', temperature: 0.2 });
    const b = await llm.complete({ purpose: 'generate', prompt: 'same prompt', temperature: 0.2 });
    expect(server.requests.length).toBe(before + 1);
    expect(a.cached).toBe(false);
    expect(b.cached).toBe(true);
    expect(b.text).toBe(a.text);
    expect(b.usage).toEqual(a.usage);
    expect(b.model).toBe(a.model);
    // Stored under the {prefix} hash tag, with the TTL.
    const key = cacheKey(r.prefix, cacheHash(llm, { purpose: 'generate', prompt: 'same prompt', temperature: 0.2 }));
    expect(key.startsWith(`{${r.prefix}}:cache:`)).toBe(true);
    const ttl = await r.client.ttl(key);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('a different prompt, temperature, schema or model is a different entry', async () => {
    const llm = make();
    const before = server.requests.length;
    await llm.complete({ purpose: 'generate', prompt: 'p2' });
    await llm.complete({ purpose: 'generate', prompt: 'p2', temperature: 0.9 });
    await llm.complete({ purpose: 'generate', prompt: 'p2', jsonSchema: { name: 's', schema: { type: 'object' } } });
    const other = cachedProvider(new OpenAiProvider({ apiKey: 'k', model: 'm2', baseUrl: server.baseUrl }), r.client, { prefix: r.prefix, ttlSeconds: 60 });
    await other.complete({ purpose: 'generate', prompt: 'p2' });
    expect(server.requests.length).toBe(before + 4);
  });

  it('never caches errors or truncated answers', async () => {
    const llm = make();
    const before = server.requests.length;
    server.script({ type: 'error', status: 500 });
    await expect(llm.complete({ purpose: 'judge', prompt: 'flaky' })).rejects.toBeInstanceOf(LlmTransientError);
    const ok = await llm.complete({ purpose: 'judge', prompt: 'flaky' });
    expect(ok.cached).toBe(false);
    server.script({ type: 'truncated', keepChars: 3 });
    const cut = await llm.complete({ purpose: 'judge', prompt: 'long' });
    expect(cut.truncated).toBe(true);
    const again = await llm.complete({ purpose: 'judge', prompt: 'long' });
    expect(again.cached).toBe(false);
    expect(server.requests.length).toBe(before + 4);
  });

  it('forget() drops an entry; ttl 0 disables the cache', async () => {
    const llm = make();
    const req = { purpose: 'generate' as const, prompt: 'forget me' };
    await llm.complete(req);
    expect((await llm.complete(req)).cached).toBe(true);
    await llm.forget(req);
    expect((await llm.complete(req)).cached).toBe(false);

    const off = make(0);
    const before = server.requests.length;
    await off.complete({ purpose: 'generate', prompt: 'nocache' });
    const second = await off.complete({ purpose: 'generate', prompt: 'nocache' });
    expect(second.cached).toBe(false);
    expect(server.requests.length).toBe(before + 2);
  });
});
