/** The gemini-cli provider spawning a stand-in `gemini` executable put first on PATH. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmFatalError, LlmTransientError } from '../../src/errors.js';
import { GeminiCliProvider } from '../../src/llm/gemini-cli.js';
import { installFakeGeminiCli, type FakeGeminiCli } from '../helpers/fake-llm/index.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

describe('gemini-cli provider', () => {
  let cli: FakeGeminiCli;
  let llm: GeminiCliProvider;
  beforeAll(async () => {
    cli = await installFakeGeminiCli((call) => JSON.stringify([{ echo: call.prompt?.slice(-12) }]));
    llm = new GeminiCliProvider({ model: 'gemini-3.1-pro-preview', env: cli.env });
  });
  afterAll(async () => {
    await cli.close();
  });

  it('runs `gemini -m MODEL --prompt PROMPT` with empty stdin and returns stdout', async () => {
    const res = await llm.complete({ purpose: 'generate', system: 'SYS', prompt: 'the prompt <cells>' });
    const call = cli.calls.at(-1)!;
    expect(call.violations).toEqual([]);
    expect(call.model).toBe('gemini-3.1-pro-preview');
    expect(call.prompt).toBe('SYS\n\nthe prompt <cells>');
    expect(JSON.parse(res.text)).toEqual([{ echo: 'ompt <cells>' }]);
    expect(res.model).toBe('gemini-3.1-pro-preview');
    expect(res.usage.inputTokens).toBe(Math.ceil('SYS\n\nthe prompt <cells>'.length / 4));
    expect(res.usage.outputTokens).toBeGreaterThan(0);
  });

  it('a non-zero exit → LlmTransientError with the stderr excerpt', async () => {
    cli.script({ mode: 'fail', code: 3, stderr: 'Quota exceeded for gemini-3.1-pro-preview' });
    const err = await llm.complete({ purpose: 'judge', prompt: 'p' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmTransientError);
    expect((err as Error).message).toMatch(/exited with 3: Quota exceeded/);
  });

  it('a hang is killed at the timeout → LlmTransientError, and the process is gone', async () => {
    cli.script({ mode: 'hang' });
    const t0 = Date.now();
    const err = await llm.complete({ purpose: 'judge', prompt: 'p', timeoutMs: 800 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmTransientError);
    expect((err as Error).message).toMatch(/timeout/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await until(() => !alive(cli.calls.at(-1)!.pid))).toBe(true);
  });

  it('abort kills the process and rejects with the abort reason', async () => {
    cli.script({ mode: 'hang' });
    const ac = new AbortController();
    const before = cli.calls.length;
    const p = llm.complete({ purpose: 'judge', prompt: 'p', signal: ac.signal, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(await until(() => cli.calls.length > before)).toBe(true);
    ac.abort(new Error('shutting down'));
    const err = await p;
    expect((err as Error).message).toBe('shutting down');
    expect(await until(() => !alive(cli.calls.at(-1)!.pid))).toBe(true);
  });

  it('a missing executable is fatal and says so', async () => {
    const none = new GeminiCliProvider({ model: 'm', command: 'gemini-does-not-exist-here', env: cli.env });
    const err = await none.complete({ purpose: 'judge', prompt: 'p' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmFatalError);
    expect((err as Error).message).toMatch(/not found on PATH/);
  });
});
