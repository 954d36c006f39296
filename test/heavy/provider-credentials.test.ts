/**
 * Credentials on every request: with a key configured, every request a provider makes (generate,
 * repair, judge; in-process workers and `vault-loop worker` processes) carries exactly that key,
 * never the local placeholder, and the fake service checks it as the real one does. A refused
 * key ends the run with one line naming the variable to set.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LOCAL_PLACEHOLDER_KEY } from '../../src/llm/registry.js';
import { FakeLlmServer, type Protocol, type SeenRequest } from '../helpers/fake-llm/index.js';
import { kindOf } from '../helpers/provider-runs.js';
import { fileRedis } from '../helpers/redis.js';
import { freshVault, offlineAnswerer, runCli, startCli } from '../helpers/pipeline.js';

const children: ChildProcess[] = [];
const redis = fileRedis('credentials', { children });

const KEY_ENV: Record<Protocol, string> = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY', gemini: 'GEMINI_API_KEY' };

/** The credential a request carried, read the way each service reads it. */
function credentialOf(protocol: Protocol, r: SeenRequest): string | undefined {
  if (protocol === 'gemini') return r.headers['x-goog-api-key'] as string | undefined;
  if (protocol === 'anthropic') return (r.headers['x-api-key'] as string | undefined) ?? r.headers.authorization?.replace(/^Bearer /, '');
  return r.headers.authorization?.replace(/^Bearer /, '');
}

const runArgs = (vault: string, protocol: Protocol, url: string, extra: string[] = []): string[] => [
  'run', '--vault', vault, '--provider', protocol, '--base-url', url, '--judge-model', `judge-${protocol}`,
  '--max-iters', '1', '--max-calls', '12', '--gen-batch-size', '4', '--gen-calls-per-iter', '2', '--judge-chunk-size', '4', '--progress', 'none',
  '--redis', redis.url, '--prefix', redis.prefix, ...extra,
];

describe('the configured key on every request', () => {
  it.each(['openai', 'anthropic', 'gemini'] as Protocol[])('%s: generate, repair and judge (in-process; openai also in a worker process) all carry the key, never the placeholder', async (protocol) => {
    const key = `key-${protocol}-0123456789`;
    // The first generation answer is cut short, so the generator asks for a repair too.
    const offline = await offlineAnswerer(71);
    let generations = 0;
    const server = await FakeLlmServer.start({ protocol, apiKey: key, answer: async (req) => (kindOf(req) === 'generate' && generations++ === 0 ? '[{"broken' : await offline(req)) });
    try {
      const env = { [KEY_ENV[protocol]]: key };
      const inProcess = await runCli(runArgs(await freshVault(120, 71), protocol, server.baseUrl), env, children);
      expect(inProcess.code, inProcess.out).toBe(0);
      // A `vault-loop worker` process builds its providers from its own config: checked once, on openai.
      if (protocol === 'openai') {
        const worker = startCli(['worker', '--queues', 'generate,judge,render', '--redis', redis.url, '--prefix', redis.prefix], env, children);
        try {
          const separate = await runCli(runArgs(await freshVault(120, 72), protocol, server.baseUrl, ['--no-workers']), env, children);
          expect(separate.code, separate.out).toBe(0);
        } finally {
          worker.child.kill('SIGTERM');
          await worker.exit;
        }
      }
      const kinds = new Set(server.requests.map(kindOf));
      expect(kinds).toEqual(new Set(['generate', 'repair', 'judge']));
      expect(server.violations).toEqual([]);
      for (const r of server.requests) {
        expect(credentialOf(protocol, r), `${kindOf(r)} request`).toBe(key);
        expect(JSON.stringify(r.headers)).not.toContain(LOCAL_PLACEHOLDER_KEY);
      }
      if (protocol === 'anthropic') for (const r of server.requests) expect(r.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    } finally {
      await server.close();
    }
  }, 180_000);
});
