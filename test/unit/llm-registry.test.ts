import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { LlmRateLimitedError } from '../../src/errors.js';
import { AnthropicProvider } from '../../src/llm/anthropic.js';
import { costOf, isPriced, priceTable } from '../../src/llm/cost.js';
import { retryAfterFromGoogleBody, retryAfterFromHeaders } from '../../src/llm/errors.js';
import { GeminiCliProvider } from '../../src/llm/gemini-cli.js';
import { GeminiProvider } from '../../src/llm/gemini.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import { createProvider, ProviderConfigError, selfPreferenceWarning } from '../../src/llm/registry.js';
import type { LlmProvider } from '../../src/llm/types.js';
import { FakeLlmServer } from '../helpers/fake-llm/index.js';

const noKeys = loadConfig({ env: {}, cwd: '/nonexistent-vl' });

describe('createProvider', () => {
  it('builds each provider with its default model and the key from config', () => {
    const cfg = loadConfig({ env: { OPENAI_API_KEY: 'o', GEMINI_API_KEY: 'g', ANTHROPIC_API_KEY: 'a' }, cwd: '/nonexistent-vl' });
    const o = createProvider({ provider: 'openai' }, { config: cfg });
    expect(o).toBeInstanceOf(OpenAiProvider);
    expect(o.model).toBe('gpt-4.1-mini');
    expect(createProvider({ provider: 'gemini', model: 'gemini-2.5-pro' }, { config: cfg }).model).toBe('gemini-2.5-pro');
    expect(createProvider({ provider: 'gemini' }, { config: cfg })).toBeInstanceOf(GeminiProvider);
    expect(createProvider({ provider: 'anthropic' }, { config: cfg })).toBeInstanceOf(AnthropicProvider);
    const cli = createProvider({ provider: 'gemini-cli' }, { config: noKeys });
    expect(cli).toBeInstanceOf(GeminiCliProvider);
    expect(cli.model).toBe('gemini-3.1-pro-preview');
  });

  it('a missing key is one clear error naming the environment variable', () => {
    expect(() => createProvider({ provider: 'openai' }, { config: noKeys })).toThrow(/OPENAI_API_KEY/);
    expect(() => createProvider({ provider: 'gemini' }, { config: noKeys })).toThrow(/GEMINI_API_KEY/);
    expect(() => createProvider({ provider: 'anthropic' }, { config: noKeys })).toThrow(ProviderConfigError);
    // A local OpenAI-compatible server needs no key.
    expect(createProvider({ provider: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.1' }, { config: noKeys }).model).toBe('llama3.1');
  });

  it('offline goes through the injected factory until src/llm/offline is wired', () => {
    expect(() => createProvider({ provider: 'offline' }, { config: noKeys })).toThrow(/offline/);
    const fake: LlmProvider = { name: 'offline', model: 'offline', complete: async () => ({ text: '[]', usage: { inputTokens: 0, outputTokens: 0 }, model: 'offline', latencyMs: 0, cached: false }) };
    expect(createProvider({ provider: 'offline' }, { config: noKeys, createOffline: () => fake })).toBe(fake);
  });

  it('selfPreferenceWarning fires only when judge provider and model equal the generator', () => {
    expect(selfPreferenceWarning({ provider: 'gemini' }, { provider: 'gemini', model: 'gemini-2.5-flash' })).toMatch(/judge is the generator/);
    expect(selfPreferenceWarning({ provider: 'gemini' }, { provider: 'gemini', model: 'gemini-2.5-pro' })).toBeNull();
    expect(selfPreferenceWarning({ provider: 'openai', model: 'x' }, { provider: 'anthropic', model: 'x' })).toBeNull();
    expect(selfPreferenceWarning({ provider: 'offline' }, { provider: 'offline' })).toBeNull();
  });
});

describe('a gemini provider from the registry against the fake server', () => {
  let server: FakeLlmServer;
  beforeAll(async () => {
    server = await FakeLlmServer.start({ protocol: 'gemini', apiKey: 'gk', expectModel: 'gemini-2.5-flash' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('reads the RetryInfo delay from a Google 429 body', async () => {
    const cfg = loadConfig({ env: { GEMINI_API_KEY: 'gk' }, cwd: '/nonexistent-vl' });
    const llm = createProvider({ provider: 'gemini', baseUrl: server.url }, { config: cfg });
    server.script({
      type: 'error',
      status: 429,
      body: JSON.stringify({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' }] } }),
    });
    const err = (await llm.complete({ purpose: 'generate', prompt: 'p' }).catch((e: unknown) => e)) as LlmRateLimitedError;
    expect(err).toBeInstanceOf(LlmRateLimitedError);
    expect(err.retryAfterMs).toBe(37_000);
    expect(server.violations).toEqual([]);
  });
});

describe('retry-after parsing', () => {
  it('seconds, ms, HTTP-date, garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterFromHeaders({ 'Retry-After-Ms': '250' }, now)).toBe(250);
    expect(retryAfterFromHeaders({ 'retry-after': 'Thu, 01 Jan 2026 00:00:09 GMT' }, now)).toBe(9000);
    expect(retryAfterFromHeaders({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterFromGoogleBody('{"retryDelay": "1.5s"}')).toBe(1500);
  });
});

describe('costOf', () => {
  it('prices known models (dated ids too), 0 for offline and unknown', () => {
    expect(costOf('gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBeCloseTo(0.75);
    expect(costOf('claude-sonnet-4-5-20250929', { inputTokens: 2000, outputTokens: 1000 })).toBeCloseTo(0.021);
    expect(costOf('models/gemini-2.5-flash', { inputTokens: 1_000_000, outputTokens: 0 })).toBeCloseTo(0.3);
    // The longest matching key wins: flash-lite is not priced as flash.
    expect(costOf('gemini-2.5-flash-lite-001', { inputTokens: 1_000_000, outputTokens: 0 })).toBeCloseTo(0.1);
    expect(costOf('offline', { inputTokens: 5000, outputTokens: 5000 })).toBe(0);
    expect(costOf('my-local-llama', { inputTokens: 5000, outputTokens: 5000 })).toBe(0);
    expect(isPriced('my-local-llama')).toBe(false);
    expect(isPriced('offline')).toBe(true);
  });

  it('the table is configurable', () => {
    const t = priceTable({ 'my-local-llama': { input: 1, output: 2 } });
    expect(costOf('my-local-llama', { inputTokens: 1_000_000, outputTokens: 500_000 }, t)).toBeCloseTo(2);
  });
});
