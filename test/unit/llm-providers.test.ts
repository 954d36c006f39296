/**
 * Each HTTP provider (real SDK) against its fake server speaking the real wire protocol:
 * the request carries model, schema and prompt; text, usage and the server's model id come back;
 * faults map onto the error family.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmAuthError, LlmFatalError, LlmRateLimitedError, LlmTransientError } from '../../src/errors.js';
import { AnthropicProvider } from '../../src/llm/anthropic.js';
import { generateAnswerSchema, judgeAnswerSchema } from '../../src/llm/answer-schemas.js';
import { GeminiProvider } from '../../src/llm/gemini.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import type { LlmProvider } from '../../src/llm/types.js';
import { FakeLlmServer, fakeUsage, type Protocol } from '../helpers/fake-llm/index.js';

const KEY = 'sk-test-123';
const ANSWER = JSON.stringify([{ id: 'cloud-0001', verdict: 'PASS', note: 'brackets ] [ in a string' }]);

const cases: { protocol: Protocol; model: string; make: (baseUrl: string) => LlmProvider }[] = [
  { protocol: 'openai', model: 'gpt-test', make: (baseUrl) => new OpenAiProvider({ apiKey: KEY, model: 'gpt-test', baseUrl, temperature: 0.3 }) },
  { protocol: 'gemini', model: 'gemini-test', make: (baseUrl) => new GeminiProvider({ apiKey: KEY, model: 'gemini-test', baseUrl, temperature: 0.3 }) },
  { protocol: 'anthropic', model: 'claude-test', make: (baseUrl) => new AnthropicProvider({ apiKey: KEY, model: 'claude-test', baseUrl, temperature: 0.3 }) },
];

describe.each(cases)('$protocol provider', ({ protocol, model, make }) => {
  let server: FakeLlmServer;
  let llm: LlmProvider;
  beforeAll(async () => {
    server = await FakeLlmServer.start({ protocol, apiKey: KEY, expectModel: model, answer: () => ANSWER });
    llm = make(server.baseUrl);
  });
  afterAll(async () => {
    await server.close();
  });

  it('sends model, prompt, system and schema; returns the text, usage and the server-reported model', async () => {
    const schema = judgeAnswerSchema();
    const res = await llm.complete({ purpose: 'judge', system: 'You are a judge.', prompt: 'Judge these <drafts>[]</drafts>', jsonSchema: schema });
    const seen = server.requests.at(-1)!;
    expect(server.violations).toEqual([]);
    expect(seen.model).toBe(model);
    expect(seen.prompt).toContain('<drafts>');
    expect(seen.system).toBe('You are a judge.');
    expect(seen.temperature).toBe(0.3);
    // The array schema reaches the server: as is (Gemini), or wrapped in an object root (OpenAI strict, Anthropic tool).
    const sent = JSON.stringify(seen.schema);
    expect(sent).toContain('"verdict"');
    expect(sent).toContain('"math_correct"');
    if (protocol === 'openai') expect((seen.body.response_format as { json_schema: { strict: boolean } }).json_schema.strict).toBe(true);
    if (protocol === 'gemini') expect((seen.schema as { items: { propertyOrdering: string[] } }).items.propertyOrdering.indexOf('reasoning')).toBeLessThan(
      (seen.schema as { items: { propertyOrdering: string[] } }).items.propertyOrdering.indexOf('verdict'),
    );
    expect(JSON.parse(res.text)).toEqual(JSON.parse(ANSWER));
    const u = fakeUsage(`You are a judge.Judge these <drafts>[]</drafts>`, ANSWER);
    expect(res.usage).toEqual({ inputTokens: u.input, outputTokens: u.output });
    expect(res.model).toBe(`${model}-fake-001`);
    expect(res.cached).toBe(false);
    expect(res.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('a request temperature overrides the default; no schema means plain text', async () => {
    server.script({ type: 'answer', text: 'plain words' });
    const res = await llm.complete({ purpose: 'generate', prompt: 'hello', temperature: 1.1 });
    expect(server.requests.at(-1)!.temperature).toBe(1.1);
    expect(server.requests.at(-1)!.schema).toBeUndefined();
    expect(res.text).toBe('plain words');
  });

  it('429 with retry-after seconds → LlmRateLimitedError with that delay', async () => {
    server.script({ type: 'error', status: 429, headers: { 'retry-after': '7' } });
    const err = await llm.complete({ purpose: 'generate', prompt: 'p' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmRateLimitedError);
    expect((err as LlmRateLimitedError).retryAfterMs).toBe(7000);
  });

  it('429 with an HTTP-date retry-after, or retry-after-ms, or none', async () => {
    const when = new Date(Date.now() + 30_000).toUTCString();
    server.script(
      { type: 'error', status: 429, headers: { 'retry-after': when } },
      { type: 'error', status: 429, headers: { 'retry-after-ms': '1500' } },
      { type: 'error', status: 429 },
    );
    const a = (await llm.complete({ purpose: 'generate', prompt: 'p' }).catch((e: unknown) => e)) as LlmRateLimitedError;
    expect(a.retryAfterMs).toBeGreaterThan(25_000);
    expect(a.retryAfterMs).toBeLessThanOrEqual(30_000);
    const b = (await llm.complete({ purpose: 'generate', prompt: 'p' }).catch((e: unknown) => e)) as LlmRateLimitedError;
    expect(b.retryAfterMs).toBe(1500);
    const c = (await llm.complete({ purpose: 'generate', prompt: 'p' }).catch((e: unknown) => e)) as LlmRateLimitedError;
    expect(c).toBeInstanceOf(LlmRateLimitedError);
    expect(c.retryAfterMs).toBe(1000);
  });

  it('500 → LlmTransientError, and the SDK does not retry on its own', async () => {
    const before = server.requests.length;
    server.script({ type: 'error', status: 500 }, { type: 'error', status: 503 });
    await expect(llm.complete({ purpose: 'generate', prompt: 'p' })).rejects.toBeInstanceOf(LlmTransientError);
    expect(server.requests.length).toBe(before + 1);
    await expect(llm.complete({ purpose: 'generate', prompt: 'p' })).rejects.toBeInstanceOf(LlmTransientError);
  });

  it('400, 401, 403, 404 → LlmFatalError', async () => {
    for (const status of [400, 401, 403, 404]) {
      server.script({ type: 'error', status, message: `nope ${status}` });
      const err = await llm.complete({ purpose: 'generate', prompt: 'p' }).catch((e: unknown) => e);
      expect(err, String(status)).toBeInstanceOf(LlmFatalError);
      expect((err as Error).message).toContain(String(status));
    }
  });

  it('a wrong API key is refused by the server and is fatal', async () => {
    const other = protocol === 'openai'
      ? new OpenAiProvider({ apiKey: 'wrong', model, baseUrl: server.baseUrl })
      : protocol === 'gemini'
        ? new GeminiProvider({ apiKey: 'wrong', model, baseUrl: server.baseUrl })
        : new AnthropicProvider({ apiKey: 'wrong', model, baseUrl: server.baseUrl });
    await expect(other.complete({ purpose: 'generate', prompt: 'p' })).rejects.toBeInstanceOf(LlmAuthError);
    expect(server.requests.at(-1)!.authFailure?.status).toBe(protocol === 'gemini' ? 400 : 401);
  });

  it('a hang → LlmTransientError within the timeout', async () => {
    server.script({ type: 'hang' });
    const t0 = Date.now();
    const err = await llm.complete({ purpose: 'generate', prompt: 'p', timeoutMs: 300 }).catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(LlmTransientError);
    expect((err as Error).message).toMatch(/timeout/);
    expect(took).toBeGreaterThanOrEqual(290);
  });

  it('the caller aborting rejects with the abort reason, not a provider error', async () => {
    server.script({ type: 'hang' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('job cancelled')), 100);
    const err = await llm.complete({ purpose: 'generate', prompt: 'p', signal: ac.signal, timeoutMs: 5000 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('job cancelled');
    expect(err).not.toBeInstanceOf(LlmTransientError);
  });

  it('a dropped connection → LlmTransientError', async () => {
    server.script({ type: 'reset' });
    await expect(llm.complete({ purpose: 'generate', prompt: 'p' })).rejects.toBeInstanceOf(LlmTransientError);
  });

  it('a truncated answer comes back as text flagged truncated (the parser reports it)', async () => {
    server.script({ type: 'truncated', keepChars: 20 });
    const res = await llm.complete({ purpose: 'generate', prompt: 'p', jsonSchema: generateAnswerSchema(false) });
    expect(res.truncated).toBe(true);
    expect(res.text.length).toBeLessThanOrEqual(20);
  });

  it('malformed JSON from a non-compliant server is passed through untouched', async () => {
    server.script({ type: 'answer', text: '[{"cell_index": 0, "title": "x",]' });
    const res = await llm.complete({ purpose: 'generate', prompt: 'p', jsonSchema: generateAnswerSchema(false) });
    expect(res.text).toBe('[{"cell_index": 0, "title": "x",]');
  });
});

describe('openai provider structured-output modes', () => {
  let server: FakeLlmServer;
  beforeAll(async () => {
    server = await FakeLlmServer.start({ protocol: 'openai', apiKey: KEY, answer: () => JSON.stringify({ items: [{ a: 1 }] }) });
  });
  afterAll(async () => {
    await server.close();
  });

  it('json_object: asks for {"items": [...]} and unwraps it', async () => {
    const llm = new OpenAiProvider({ apiKey: KEY, model: 'local', baseUrl: server.baseUrl, structuredOutput: 'json_object' });
    const res = await llm.complete({ purpose: 'judge', prompt: 'p', jsonSchema: judgeAnswerSchema() });
    const seen = server.requests.at(-1)!;
    expect(seen.body.response_format).toEqual({ type: 'json_object' });
    expect(seen.system).toMatch(/"items"/);
    expect(JSON.parse(res.text)).toEqual([{ a: 1 }]);
  });

  it('none: sends no response_format', async () => {
    const llm = new OpenAiProvider({ apiKey: KEY, model: 'local', baseUrl: server.baseUrl, structuredOutput: 'none' });
    await llm.complete({ purpose: 'judge', prompt: 'p', jsonSchema: judgeAnswerSchema() });
    expect(server.requests.at(-1)!.body.response_format).toBeUndefined();
  });
});
