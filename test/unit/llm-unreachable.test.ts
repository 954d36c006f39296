/**
 * A request that never reached a server is typed as such (LlmUnreachableError, checked with
 * instanceof) and is not charged; a server's own error answer is. Real SDKs, real sockets: a
 * closed local port for "refused", a name that cannot resolve for "DNS failure".
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LlmNotSentRateLimitError, LlmRateLimitedError, LlmTransientError, LlmUnreachableError, neverSent } from '../../src/errors.js';
import { connectionCode, transientConnectionError } from '../../src/llm/errors.js';
import { GeminiProvider } from '../../src/llm/gemini.js';
import { OpenAiProvider } from '../../src/llm/openai.js';
import { freePort } from '../../src/redis/index.js';

/** A port that was free a moment ago and that nothing listens on. */
let port: number;
beforeAll(async () => {
  port = await freePort();
});

const req = { purpose: 'judge' as const, prompt: 'hello' };

describe('connection failures that never reached a server', () => {
  it('openai at a closed local port: LlmUnreachableError (ECONNREFUSED), never sent', async () => {
    const p = new OpenAiProvider({ model: 'm', apiKey: 'k', baseUrl: `http://127.0.0.1:${port}/v1`, timeoutMs: 20_000 });
    const e = await p.complete(req).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(LlmUnreachableError);
    expect(e).toBeInstanceOf(LlmTransientError);
    expect((e as LlmUnreachableError).networkCode).toBe('ECONNREFUSED');
    expect((e as Error).message).toContain('provider unreachable');
    expect(neverSent(e)).toBe(true);
  });

  it('gemini at a closed local port: LlmUnreachableError, never sent', async () => {
    const p = new GeminiProvider({ model: 'gemini-2.5-flash', apiKey: 'k', baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 20_000 });
    const e = await p.complete(req).then(() => null, (x: unknown) => x);
    expect(e, String(e)).toBeInstanceOf(LlmUnreachableError);
    expect(neverSent(e)).toBe(true);
  });

  it('a host name that does not resolve (no DNS, no network): never sent', async () => {
    const p = new OpenAiProvider({ model: 'm', apiKey: 'k', baseUrl: 'http://vault-loop-no-such-host.invalid/v1', timeoutMs: 20_000 });
    const e = await p.complete(req).then(() => null, (x: unknown) => x);
    expect(e, String(e)).toBeInstanceOf(LlmUnreachableError);
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain((e as LlmUnreachableError).networkCode);
  });

  it('the code is found along the cause chain, and a reset after connecting may have been sent', () => {
    const wrapped = new Error('Connection error.', { cause: new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }) });
    expect(connectionCode(wrapped)).toBe('ECONNREFUSED');
    const aggregate = new Error('x', { cause: new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })]) });
    expect(connectionCode(aggregate)).toBe('ECONNREFUSED');
    const reset = transientConnectionError('openai', new Error('x', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }));
    expect(reset).toBeInstanceOf(LlmTransientError);
    expect(reset).not.toBeInstanceOf(LlmUnreachableError);
    expect(neverSent(reset)).toBe(false);
  });

  it('the shared rate limiter giving up is a rate limit that was never sent; a server 429 was sent', () => {
    const local = new LlmNotSentRateLimitError('shared limit', 100);
    expect(local).toBeInstanceOf(LlmRateLimitedError);
    expect(neverSent(local)).toBe(true);
    expect(neverSent(new LlmRateLimitedError('429', 100))).toBe(false);
    expect(neverSent(Object.assign(new Error('x'), { notSent: true }))).toBe(false);
  });
});
