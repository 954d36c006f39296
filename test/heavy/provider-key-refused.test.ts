/**
 * A refused API key: the fake service answers as the real one does (OpenAI and Anthropic 401,
 * Gemini 400 API_KEY_INVALID), and the run ends, exit 1, with one line naming the variable to set.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FakeLlmServer, type Protocol } from '../helpers/fake-llm/index.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, runCli } from '../helpers/pipeline.js';

const children: ChildProcess[] = [];
const redis = fileRedis('key-refused', { children });

const KEY_ENV: Record<Protocol, string> = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY', gemini: 'GEMINI_API_KEY' };

const runArgs = (vault: string, protocol: Protocol, url: string, extra: string[] = []): string[] => [
  'run', '--vault', vault, '--provider', protocol, '--base-url', url, '--judge-model', `judge-${protocol}`,
  '--max-iters', '1', '--max-calls', '12', '--gen-batch-size', '4', '--gen-calls-per-iter', '2', '--judge-chunk-size', '4', '--progress', 'none',
  '--redis', redis.url, '--prefix', redis.prefix, ...extra,
];

describe('a refused key', () => {
  it.each(['openai', 'anthropic', 'gemini'] as Protocol[])('%s: a wrong key gets the service\'s refusal, and the run ends with one line naming the variable to set', async (protocol) => {
    const server = await FakeLlmServer.start({ protocol, apiKey: `key-${protocol}-right-one`, answer: () => '[]' });
    try {
      const r = await runCli(runArgs(await freshVault(60, 73), protocol, server.baseUrl), { [KEY_ENV[protocol]]: 'a-wrong-key-value' }, children);
      expect(r.code, r.out).toBe(1);
      const lines = r.out.split('\n').filter((l) => l.includes('refused the API key'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`set ${KEY_ENV[protocol]} to a valid key`);
      expect(r.out).not.toMatch(/unexpected error|\n\s+at /);
      expect(server.requests.every((q) => q.authFailure)).toBe(true);
    } finally {
      await server.close();
    }
  }, 120_000);
});
