/**
 * Credentials on every request: with a key configured, every request a provider makes (generate,
 * repair, judge, revise; in-process workers, `vault-loop worker` processes, and the temporary host
 * of `vault-loop retry` with no run alive) carries exactly that key, never the local placeholder,
 * and the fake service checks it (and Anthropic's version header) on every request as the real
 * one does, answering a missing or wrong one with the service's own error.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LOCAL_PLACEHOLDER_KEY } from '../../src/llm/registry.js';
import { FakeLlmServer, type Protocol, type SeenRequest } from '../helpers/fake-llm/index.js';
import { isJudge, kindOf } from '../helpers/provider-runs.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
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

const runArgs = (vault: string, protocol: Protocol, url: string, extra: string[] = [], command = 'run'): string[] => [
  command, '--vault', vault, '--provider', protocol, '--base-url', url, '--judge-model', `judge-${protocol}`,
  '--max-iters', '1', '--max-calls', '12', '--gen-batch-size', '4', '--gen-calls-per-iter', '2', '--judge-chunk-size', '4', '--progress', 'none',
  '--redis', redis.url, '--prefix', redis.prefix, ...extra,
];

/** Every request the server saw carried the key, as the service reads it, and never the placeholder. */
function expectKeyEverywhere(protocol: Protocol, server: FakeLlmServer, key: string): void {
  expect(server.violations).toEqual([]);
  for (const r of server.requests) {
    expect(credentialOf(protocol, r), `${kindOf(r)} request`).toBe(key);
    expect(JSON.stringify(r.headers)).not.toContain(LOCAL_PLACEHOLDER_KEY);
    if (protocol === 'anthropic') expect(r.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  }
}

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
      expectKeyEverywhere(protocol, server, key);
    } finally {
      await server.close();
    }
  }, 180_000);

  it.each(['openai', 'anthropic', 'gemini'] as Protocol[])("%s: the retry command's temporary host (no run alive) and `vault-loop revise` carry the key too", async (protocol) => {
    const key = `key-${protocol}-9876543210`;
    // One judge chunk fails (500, every attempt) until the service is fixed: the run ends failed.
    let victim: string | undefined;
    let fixed = false;
    // Until revising starts, each judge chunk gets at least one NEEDS_FIX verdict: `revise` has work.
    const offline = await offlineAnswerer(73);
    let revising = false;
    const answer = async (req: SeenRequest): Promise<string> => {
      const text = await offline(req);
      if (revising || !isJudge(req)) return text;
      const verdicts = JSON.parse(text) as { verdict: string; issues: string[]; fix_suggestion: string }[];
      if (verdicts.length > 0 && !verdicts.some((v) => v.verdict === 'NEEDS_FIX')) Object.assign(verdicts[0]!, { verdict: 'NEEDS_FIX', issues: ['the answer names no trade-off'], fix_suggestion: 'Name the trade-off the design makes.' });
      return JSON.stringify(verdicts);
    };
    const server = await FakeLlmServer.start({
      protocol,
      apiKey: key,
      answer,
      react: (req) => {
        if (fixed || !isJudge(req)) return null;
        const chunk = (readPromptBlock(req.prompt!, 'drafts') as { id: string }[]).map((d) => d.id).join(',');
        victim ??= chunk;
        return chunk === victim ? { type: 'error', status: 500, message: 'internal error' } : null;
      },
    });
    try {
      const env = { [KEY_ENV[protocol]]: key };
      const vault = await freshVault(120, 73);
      const run = await runCli(runArgs(vault, protocol, server.baseUrl, ['--max-calls', '30', '--max-drop-rate', '1']), env, children);
      expect(run.code, run.out).toBe(1);
      expect(run.out).toMatch(/stopped: judge failed for 1 chunk/);
      const runId = /run (\S+): failed/.exec(run.out)![1]!;

      // Fixed; no run is alive: the retry command judges the chunk on a host of its own.
      fixed = true;
      const beforeRetry = server.requests.length;
      const retry = await runCli(['retry', '--queue', 'judge', '--run', runId, '--redis', redis.url, '--prefix', redis.prefix], env, children);
      expect(retry.code, retry.out).toBe(0);
      expect(retry.out).toMatch(/no vault-loop run holds it/);
      expect(retry.out).toContain(`applied: the records of run ${runId} are rewritten`);
      const retried = server.requests.slice(beforeRetry);
      expect(retried.map(kindOf)).toContain('judge');

      // The run's NEEDS_FIX drafts, revised and judged again by a revision run.
      revising = true;
      const beforeRevise = server.requests.length;
      const revise = await runCli(runArgs(vault, protocol, server.baseUrl, ['--run', runId, '--max-calls', '30', '--max-drop-rate', '1'], 'revise'), env, children);
      expect(revise.code, revise.out).toBe(0);
      const revised = server.requests.slice(beforeRevise);
      expect(new Set(revised.map(kindOf))).toEqual(new Set(['revise', 'judge']));
      expectKeyEverywhere(protocol, server, key);
    } finally {
      await server.close();
    }
  }, 240_000);
});
