/** Which key a provider gets: the configured one always; the placeholder only for a local server with none. */
import { describe, expect, it } from 'vitest';
import { createProvider, isLocalUrl, ProviderConfigError } from '../../src/llm/registry.js';
import { errorForStatus } from '../../src/llm/errors.js';
import { LlmAuthError } from '../../src/errors.js';

const deps = (openaiApiKey?: string) => ({ config: { callTimeoutMs: 1000, ...(openaiApiKey ? { openaiApiKey } : {}) } });

describe('API keys', () => {
  it('a local server (loopback, localhost) may go without a key; a remote one may not', () => {
    expect(isLocalUrl('http://127.0.0.1:8080/v1')).toBe(true);
    expect(isLocalUrl('http://localhost:11434/v1')).toBe(true);
    expect(isLocalUrl('http://[::1]:8000/v1')).toBe(true);
    expect(isLocalUrl('https://openrouter.ai/api/v1')).toBe(false);
    expect(isLocalUrl('http://127.0.0.1.nip.io/v1')).toBe(false);
    expect(() => createProvider({ provider: 'openai', baseUrl: 'https://openrouter.ai/api/v1' }, deps())).toThrow(new ProviderConfigError('provider openai needs an API key: set OPENAI_API_KEY (or openaiApiKey in vault-loop.config.yaml)'));
    expect(createProvider({ provider: 'openai', baseUrl: 'http://127.0.0.1:8080/v1' }, deps()).name).toBe('openai');
  });

  it('a refused key (401; Gemini 400 API_KEY_INVALID) becomes one line naming the variable', () => {
    const e = errorForStatus('gemini', 400, '{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}');
    expect(e).toBeInstanceOf(LlmAuthError);
    expect(e.message).toMatch(/^gemini refused the API key \(HTTP 400\): set GEMINI_API_KEY to a valid key/);
    expect(errorForStatus('anthropic', 401, 'invalid x-api-key').message).toContain('set ANTHROPIC_API_KEY');
    expect(errorForStatus('openai', 400, 'bad request')).not.toBeInstanceOf(LlmAuthError);
  });
});
