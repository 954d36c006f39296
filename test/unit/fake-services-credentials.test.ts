/**
 * The fake services check the credential (and Anthropic's version header) on every request, the
 * batch endpoints included, and refuse a missing or wrong one with the service's own status and
 * body: OpenAI 401 (no key: "You didn't provide an API key…"; wrong: code invalid_api_key),
 * Anthropic 401 authentication_error (400 without anthropic-version), Gemini 403
 * PERMISSION_DENIED without a key and 400 API_KEY_INVALID with a wrong one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBatchServer, FakeLlmServer, type Protocol } from '../helpers/fake-llm/index.js';

const KEY = 'the-right-key-0123';
const servers: Partial<Record<Protocol, FakeLlmServer>> = {};
const batches: Partial<Record<'openai' | 'anthropic', FakeBatchServer>> = {};
beforeAll(async () => {
  for (const protocol of ['openai', 'anthropic', 'gemini'] as const) servers[protocol] = await FakeLlmServer.start({ protocol, apiKey: KEY, answer: () => '[]' });
  for (const protocol of ['openai', 'anthropic'] as const) batches[protocol] = await FakeBatchServer.start({ protocol, apiKey: KEY, answer: () => '[]' });
});
afterAll(async () => {
  for (const s of Object.values(servers)) await s.close();
  for (const s of Object.values(batches)) await s.close();
});

const CALL: Record<Protocol, { path: string; body: unknown; key: (k: string) => Record<string, string>; version?: Record<string, string> }> = {
  openai: { path: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content: 'p' }] }, key: (k) => ({ authorization: `Bearer ${k}` }) },
  anthropic: { path: '/v1/messages', body: { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'p' }] }, key: (k) => ({ 'x-api-key': k }), version: { 'anthropic-version': '2023-06-01' } },
  gemini: { path: '/v1beta/models/m:generateContent', body: { contents: [{ role: 'user', parts: [{ text: 'p' }] }] }, key: (k) => ({ 'x-goog-api-key': k }) },
};

async function post(url: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

describe('the fake services refuse a missing or wrong credential as the services do', () => {
  it.each(['openai', 'anthropic', 'gemini'] as Protocol[])('%s live endpoint', async (protocol) => {
    const c = CALL[protocol];
    const url = `${servers[protocol]!.url}${c.path}`;
    const ok = await post(url, c.body, { ...c.key(KEY), ...c.version });
    expect(ok.status).toBe(200);
    const none = await post(url, c.body, { ...c.version });
    const wrong = await post(url, c.body, { ...c.key('not-needed'), ...c.version });
    if (protocol === 'openai') {
      expect(none).toMatchObject({ status: 401, body: { error: { type: 'invalid_request_error', code: null, message: expect.stringMatching(/^You didn't provide an API key/) } } });
      expect(wrong).toMatchObject({ status: 401, body: { error: { type: 'invalid_request_error', code: 'invalid_api_key', message: expect.stringMatching(/^Incorrect API key provided: not\*+eded\. /) } } });
    } else if (protocol === 'anthropic') {
      expect(none).toMatchObject({ status: 401, body: { type: 'error', error: { type: 'authentication_error' } } });
      expect(wrong).toMatchObject({ status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } });
      // The SDK's other way to send the key is accepted; the version header is required on every request.
      expect((await post(url, c.body, { authorization: `Bearer ${KEY}`, ...c.version })).status).toBe(200);
      expect(await post(url, c.body, c.key(KEY))).toMatchObject({ status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } } });
    } else {
      expect(none).toMatchObject({ status: 403, body: { error: { code: 403, status: 'PERMISSION_DENIED' } } });
      expect(wrong).toMatchObject({ status: 400, body: { error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }, expect.anything()] } } });
    }
  });

  it.each(['openai', 'anthropic'] as const)('%s batch endpoints', async (protocol) => {
    const s = batches[protocol]!;
    // baseUrl: the OpenAI one ends in /v1, as the SDK takes it.
    const list = protocol === 'openai' ? `${s.baseUrl}/batches` : `${s.baseUrl}/v1/messages/batches`;
    const get = async (headers: Record<string, string>) => {
      const r = await fetch(list, { headers });
      return { status: r.status, body: await r.json() };
    };
    const version = CALL[protocol].version ?? {};
    expect((await get({ ...CALL[protocol].key(KEY), ...version })).status).toBe(200);
    const none = await get({ ...version });
    const wrong = await get({ ...CALL[protocol].key('not-needed'), ...version });
    if (protocol === 'openai') {
      expect(none).toMatchObject({ status: 401, body: { error: { message: expect.stringMatching(/^You didn't provide an API key/) } } });
      expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'invalid_api_key' } } });
    } else {
      expect(none).toMatchObject({ status: 401, body: { type: 'error', error: { type: 'authentication_error' } } });
      expect(wrong).toMatchObject({ status: 401, body: { type: 'error', error: { type: 'authentication_error' } } });
      expect(await get(CALL[protocol].key(KEY))).toMatchObject({ status: 400, body: { type: 'error', error: { type: 'invalid_request_error' } } });
    }
  });
});
