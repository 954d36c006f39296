/**
 * A real HTTP proxy on 127.0.0.1 in front of an OpenAI-protocol fake server that answers chosen
 * requests with an HTTP error instead of forwarding them: the way to make one judge chunk, one
 * generation batch or every revision fail for good while the rest of a run goes on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { FakeLlmServer } from './fake-llm/index.js';
import type { ConfigInput } from '../../src/config/index.js';
import type { CorpusHost } from '../../src/host/corpus-host.js';
import type { RunState } from '../../src/state/run-state.js';
import { freshVault, offlineAnswerer, runToEnd, testConfig } from './pipeline.js';
import type { TestRedis } from './redis.js';
import { isJudge } from './provider-runs.js';

export interface ProxiedRequest {
  /** The user messages of the chat request, joined (the pipeline's prompt). */
  prompt: string;
  /** The HTTP status this proxy answered with itself, or null when the request was forwarded. */
  failedWith: number | null;
}

export interface FailingProxy {
  /** The base URL to give the openai SDK (with /v1). */
  baseUrl: string;
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * `decide(prompt)` returns an HTTP status to answer with (500: a transient error, retried by the
 * job; 401: a fatal one, no retry), or null to forward the request to `upstream`.
 */
export async function failingProxy(upstream: FakeLlmServer, decide: (prompt: string) => number | null): Promise<FailingProxy> {
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let prompt = '';
    try {
      const body = JSON.parse(raw) as { messages?: { role: string; content: string }[] };
      prompt = (body.messages ?? []).filter((m) => m.role === 'user').map((m) => m.content).join('\n');
    } catch {
      // not JSON: forwarded, the fake server reports it
    }
    const status = decide(prompt);
    requests.push({ prompt, failedWith: status });
    if (status !== null) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `proxy: refused with ${status}`, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: null } }));
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const up = await fetch(`${upstream.url}${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, body: raw });
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await up.arrayBuffer()));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `proxy: ${(e as Error).message}`, type: 'server_error', code: null } }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl: `${url}/v1`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/**
 * A judge behind a proxy that fails (503, every attempt) one judge chunk in two, in the order it
 * first sees them, until healed: each iteration judges some drafts and leaves a chunk failed for
 * good. (An iteration whose every chunk failed would end the run failed at once, with no second
 * iteration.) The run then ends `failed` ("judge failed for N chunks; …") until its retries land.
 */
export async function halfFailingJudge(seed: number): Promise<{ server: FakeLlmServer; proxy: FailingProxy; judge: Record<string, string>; heal: () => void }> {
  const apiKey = 'sk-test';
  const server = await FakeLlmServer.start({ protocol: 'openai', apiKey, answer: await offlineAnswerer(seed) });
  const fails = new Map<string, boolean>();
  let healed = false;
  const proxy = await failingProxy(server, (prompt) => {
    if (healed || !isJudge({ prompt })) return null;
    const key = (readPromptBlock(prompt, 'drafts') as { id: string }[]).map((d) => d.id).sort().join(',');
    if (!fails.has(key)) fails.set(key, fails.size % 2 === 0);
    return fails.get(key) ? 503 : null;
  });
  const heal = () => {
    healed = true;
  };
  return { server, proxy, judge: { judgeProvider: 'openai', judgeModel: 'judge-model', judgeBaseUrl: proxy.baseUrl, openaiApiKey: apiKey }, heal };
}

/**
 * A run on a fresh vault (300 questions, `seed`) whose judge chunks failed one in two
 * (halfFailingJudge), ended failed and healed since: a retried chunk now succeeds. Its corpus host
 * stays open, to consume the apply queue that a retried chunk's late apply needs. close() ends the
 * host, the proxy and the server.
 */
export interface FailedJudgeRun {
  vault: string;
  runId: string;
  state: RunState;
  host: CorpusHost;
  close(): Promise<void>;
}

export async function runWithFailedJudgeChunks(redis: TestRedis, seed: number, flags: ConfigInput = {}): Promise<FailedJudgeRun> {
  const vault = await freshVault(60, seed);
  const failing = await halfFailingJudge(seed);
  const { runId, state, host } = await runToEnd(redis, testConfig(redis, vault, { maxIters: 2, maxCalls: 60, maxDropRate: 1, ...failing.judge, ...flags }));
  const close = async () => {
    await host.close();
    await failing.proxy.close();
    await failing.server.close();
  };
  if (state.status !== 'failed') {
    await close();
    throw new Error(`run ${runId} ended ${state.status} (${state.stopReason}), expected failed with failed judge chunks`);
  }
  failing.heal();
  return { vault, runId, state, host, close };
}
