import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, generatorSettings, judgeSettings, loadConfig } from '../../src/config/index.js';
import { LlmRateLimitedError } from '../../src/errors.js';
import { AnthropicProvider } from '../../src/llm/anthropic.js';
import { costOf, isPriced, priceTable } from '../../src/llm/cost.js';
import { retryAfterFromGoogleBody, retryAfterFromHeaders } from '../../src/llm/errors.js';
import { GeminiCliProvider } from '../../src/llm/gemini-cli.js';
import { GeminiProvider } from '../../src/llm/gemini.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import { createProvider, ProviderConfigError, selfPreferenceWarning } from '../../src/llm/registry.js';
import type { LlmProvider } from '../../src/llm/types.js';
import { FakeLlmServer, type Protocol } from '../helpers/fake-llm/index.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeAnswerSchema } from '../../src/llm/answer-schemas.js';
import { buildJudgePrompt, type JudgePromptDraft, PROMPTS_DIR } from '../../src/llm/prompts.js';

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

describe('provider settings from vault-loop.config.yaml, the judge sentence and the schema order', () => {
  /**
   * Provider settings without Redis: the provider, model, base URL, temperature and judge keys
   * read from vault-loop.config.yaml (a flag overrides them) and reaching the providers built from
   * them; the judge prompt's exact "reasoning, and only then a verdict" sentence; and `reasoning`
   * ahead of `verdict` in the structured-output schema each HTTP provider sends to its server.
   */
  const dirWith = (yaml: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'vl-evid2-'));
    writeFileSync(join(dir, CONFIG_FILE_NAME), yaml);
    return dir;
  };

  describe('provider keys in vault-loop.config.yaml', () => {
    const yaml = [
      'provider: openai',
      'model: file-gen-model',
      'baseUrl: http://127.0.0.1:9/v1',
      'temperature: 0.4',
      'judgeProvider: anthropic',
      'judgeModel: file-judge-model',
      'judgeBaseUrl: http://127.0.0.1:8',
      'judgeTemperature: 0.25',
      'requestsPerMinute: 12',
      'tokensPerMinute: 34000',
      '',
    ].join('\n');

    it('provider, model, baseUrl, temperature and judgeProvider/judgeModel/judgeBaseUrl/judgeTemperature are read from the file into the generator and judge settings', () => {
      const cwd = dirWith(yaml);
      const cfg = loadConfig({ env: {}, cwd });
      expect(generatorSettings(cfg)).toEqual({ provider: 'openai', model: 'file-gen-model', baseUrl: 'http://127.0.0.1:9/v1', temperature: 0.4, structuredOutput: 'json_schema' });
      expect(judgeSettings(cfg)).toEqual({ provider: 'anthropic', model: 'file-judge-model', baseUrl: 'http://127.0.0.1:8', temperature: 0.25, structuredOutput: 'json_schema' });
      expect(cfg.requestsPerMinute).toBe(12);
      expect(cfg.tokensPerMinute).toBe(34000);
    });

    it('the same keys in kebab-case, from the file in the vault folder', () => {
      const vault = dirWith(
        ['provider: openai', 'model: file-gen-model', 'base-url: http://127.0.0.1:9/v1', 'temperature: 0.4', 'judge-provider: anthropic', 'judge-model: file-judge-model', 'judge-base-url: http://127.0.0.1:8', 'judge-temperature: 0.25', ''].join('\n'),
      );
      const cfg = loadConfig({ env: {}, flags: { vault }, cwd: mkdtempSync(join(tmpdir(), 'vl-evid2-empty-')), trustVaultConfig: true });
      expect(judgeSettings(cfg)).toMatchObject({ provider: 'anthropic', model: 'file-judge-model', baseUrl: 'http://127.0.0.1:8', temperature: 0.25 });
      expect(generatorSettings(cfg)).toMatchObject({ provider: 'openai', model: 'file-gen-model', baseUrl: 'http://127.0.0.1:9/v1', temperature: 0.4 });
    });

    it('a flag overrides each of those file keys; the keys it does not name stay as the file says', () => {
      const cwd = dirWith(yaml);
      const overrides = {
        provider: 'gemini',
        model: 'flag-gen-model',
        baseUrl: 'http://127.0.0.1:7',
        temperature: 1.1,
        judgeProvider: 'openai',
        judgeModel: 'flag-judge-model',
        judgeBaseUrl: 'http://127.0.0.1:6/v1',
        judgeTemperature: 0.9,
      } as const;
      for (const [key, value] of Object.entries(overrides)) {
        const cfg = loadConfig({ env: {}, cwd, flags: { [key]: value } });
        const fromFile = loadConfig({ env: {}, cwd });
        expect(cfg[key as keyof typeof overrides], key).toBe(value);
        // Every other key keeps the file's value.
        for (const other of Object.keys(overrides).filter((k) => k !== key)) expect(cfg[other as keyof typeof overrides], `${key} → ${other}`).toBe(fromFile[other as keyof typeof overrides]);
      }
      // A judge key the file sets is not replaced by the generation flag's value (judge defaults apply only when unset).
      expect(judgeSettings(loadConfig({ env: {}, cwd, flags: { model: 'flag-gen-model' } })).model).toBe('file-judge-model');
    });

    describe('the providers built from the file settings call their own servers with the file values', () => {
      let gen: FakeLlmServer;
      let judge: FakeLlmServer;
      beforeAll(async () => {
        gen = await FakeLlmServer.start({ protocol: 'openai', apiKey: 'sk-file', expectModel: 'file-gen-model', answer: () => '[]' });
        judge = await FakeLlmServer.start({ protocol: 'anthropic', apiKey: 'ak-file', expectModel: 'flag-judge-model', answer: () => '[]' });
      });
      afterAll(async () => {
        await gen.close();
        await judge.close();
      });

      it('generation: the file model, base URL and temperature; judging: the file provider, base URL and temperature with the model a flag set', async () => {
        const cwd = dirWith(
          [
            'provider: openai',
            'model: file-gen-model',
            `baseUrl: ${gen.baseUrl}`,
            'temperature: 0.4',
            'judgeProvider: anthropic',
            'judgeModel: file-judge-model',
            `judgeBaseUrl: ${judge.baseUrl}`,
            'judgeTemperature: 0.25',
            'openaiApiKey: sk-file',
            'anthropicApiKey: ak-file',
            '',
          ].join('\n'),
        );
        const cfg = loadConfig({ env: {}, cwd, flags: { judgeModel: 'flag-judge-model' } });
        await createProvider(generatorSettings(cfg), { config: cfg }).complete({ purpose: 'generate', prompt: 'generate please' });
        await createProvider(judgeSettings(cfg), { config: cfg }).complete({ purpose: 'judge', prompt: 'judge please' });
        expect(gen.violations).toEqual([]);
        expect(judge.violations).toEqual([]);
        expect(gen.requests.map((r) => [r.model, r.temperature, r.prompt])).toEqual([['file-gen-model', 0.4, 'generate please']]);
        expect(judge.requests.map((r) => [r.model, r.temperature, r.prompt])).toEqual([['flag-judge-model', 0.25, 'judge please']]);
      });
    });
  });

  const draft: JudgePromptDraft = {
    id: 'cloud-0042',
    track: 'cloud',
    zone: 'design',
    level: 'L4',
    topic: 'collective-communication',
    competency_area: 'networking',
    bloom_level: 'analyze',
    title: 'Ring AllReduce on 64 GPUs',
    scenario: 'A 64-GPU job spends too long in gradient sync.',
    question: 'How long does one AllReduce of 10 GB take?',
    realistic_solution: '2(N-1)/N × 10 GB / 400 GB/s ≈ 0.05 s',
    common_mistake: 'Forgetting the factor 2.',
    napkin_math: '2 × 10 / 400 = 0.05 s',
    findings: [],
  };

  describe('the judge is asked for reasoning before the verdict', () => {
    // The stable (cached) head carries no per-call count: the number of drafts is in the last heading.
    const SENTENCE = 'For each draft listed at the end (their number is given there), check it against the criteria below, write your reasoning, and only then give a verdict.';
    const oneLine = (s: string) => s.replace(/\s+/g, ' ');

    it('prompts/judge.md has the exact sentence "…write your reasoning, and only then give a verdict.", and every judge prompt carries it', () => {
      const file = readFileSync(join(PROMPTS_DIR, 'judge.md'), 'utf8');
      expect(oneLine(file)).toContain(SENTENCE);
      const built = buildJudgePrompt([draft, { ...draft, id: 'cloud-0043' }]);
      expect(oneLine(built.prompt)).toContain(SENTENCE);
      expect(built.prompt).toContain('# Drafts (2)');
      // The answer format the prompt spells out lists "reasoning" ahead of "verdict" too.
      const answer = oneLine(built.prompt.slice(built.prompt.indexOf('# Answer')));
      expect(answer.indexOf('"reasoning"')).toBeGreaterThan(0);
      expect(answer.indexOf('"reasoning"')).toBeLessThan(answer.indexOf('"verdict"'));
    });

    const keys = (o: unknown): string[] => Object.keys((o as { properties: Record<string, unknown> }).properties);

    it('the judge answer schema lists reasoning (required) ahead of verdict', () => {
      const item = (judgeAnswerSchema().schema as { items: { properties: Record<string, unknown>; required: string[] } }).items;
      expect(keys(item).indexOf('reasoning')).toBeGreaterThanOrEqual(0);
      expect(keys(item).indexOf('reasoning')).toBeLessThan(keys(item).indexOf('verdict'));
      expect(item.required).toContain('reasoning');
    });

    const cases: { protocol: Protocol; provider: 'openai' | 'anthropic' | 'gemini'; key: 'openaiApiKey' | 'anthropicApiKey' | 'geminiApiKey' }[] = [
      { protocol: 'openai', provider: 'openai', key: 'openaiApiKey' },
      { protocol: 'anthropic', provider: 'anthropic', key: 'anthropicApiKey' },
      { protocol: 'gemini', provider: 'gemini', key: 'geminiApiKey' },
    ];
    describe.each(cases)('$provider', ({ protocol, provider, key }) => {
      let server: FakeLlmServer;
      beforeAll(async () => {
        server = await FakeLlmServer.start({ protocol, apiKey: 'k-order', expectModel: 'judge-m', answer: () => '[]' });
      });
      afterAll(async () => {
        await server.close();
      });

      it('the item schema it sends to the server has reasoning before verdict in its property order (and requires reasoning)', async () => {
        const cfg = loadConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), 'vl-evid2-')), flags: { provider, judgeModel: 'judge-m', judgeBaseUrl: server.baseUrl, [key]: 'k-order' } });
        const built = buildJudgePrompt([draft]);
        await createProvider(judgeSettings(cfg), { config: cfg }).complete({ purpose: 'judge', prompt: built.prompt, jsonSchema: built.jsonSchema });
        expect(server.violations).toEqual([]);
        const seen = server.requests.at(-1)!;
        // The schema as it arrived over the wire (the request body's JSON key order):
        // OpenAI strict json_schema and the Anthropic tool input wrap the array as {items: [...]}; Gemini takes it as is.
        const raw = seen.schema as { type: string; properties?: { items: { items: unknown } }; items?: unknown };
        const item = (raw.type === 'object' ? raw.properties!.items.items : raw.items) as { properties: Record<string, unknown>; required: string[]; propertyOrdering?: string[] };
        if (protocol === 'openai') expect((seen.body.response_format as { type: string }).type).toBe('json_schema');
        if (protocol === 'anthropic') expect((seen.body.tool_choice as { type: string }).type).toBe('tool');
        const order = keys(item);
        expect(order).toContain('reasoning');
        expect(order).toContain('verdict');
        expect(order.indexOf('reasoning')).toBeLessThan(order.indexOf('verdict'));
        expect(item.required).toContain('reasoning');
        if (protocol === 'gemini') expect(item.propertyOrdering!.indexOf('reasoning')).toBeLessThan(item.propertyOrdering!.indexOf('verdict'));
        // The prompt sent is the one with the sentence.
        expect(seen.prompt!.replace(/\s+/g, ' ')).toContain('write your reasoning, and only then give a verdict.');
      });
    });
  });
});
