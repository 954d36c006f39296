/** The gemini-cli provider spawning a stand-in `gemini` executable put first on PATH. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LlmFatalError, LlmTransientError } from '../../src/errors.js';
import { GeminiCliProvider } from '../../src/llm/gemini-cli.js';
import { type FakeGeminiCli, installFakeGeminiCli } from '../helpers/fake-llm/index.js';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { generatorSettings, judgeSettings, loadConfig } from '../../src/config/index.js';
import { createProvider } from '../../src/llm/registry.js';

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
    const err = await llm.complete({ purpose: 'judge', prompt: 'p', timeoutMs: 800 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmTransientError);
    expect((err as Error).message).toMatch(/timeout/);
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

describe('gemini-cli as configuration builds it: argv, stdin and the default 300 s timeout', () => {
  /**
   * The gemini-cli provider as configuration builds it : the stand-in `gemini` found on
   * PATH gets exactly `-m MODEL --prompt PROMPT`, and the default call timeout, 300 s, is what the
   * kill logic uses (measured on a virtual clock: a real child process that never answers is alive
   * at 299.999 s and killed at 300 s).
   */
  // Captured before any test fakes the timers: real waits while the virtual clock stands still.
  const realSetTimeout = globalThis.setTimeout;
  const sleep = (ms: number) => new Promise<void>((r) => realSetTimeout(r, ms));

  async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (cond()) return true;
      await sleep(20);
    }
    return cond();
  }

  describe('gemini-cli: `gemini -m MODEL --prompt ...`', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'vl-gemini-argv-'));
      // A stand-in that records its argv and stdin verbatim (the shared stub only checks them).
      writeFileSync(
        join(dir, 'gemini'),
        `#!${process.execPath}
  const { appendFileSync } = require('node:fs');
  const chunks = [];
  process.stdin.on('data', (c) => chunks.push(c));
  process.stdin.on('end', () => {
    appendFileSync(process.env.ARGV_LOG, JSON.stringify({ argv: process.argv.slice(2), stdin: Buffer.concat(chunks).toString('utf8') }) + '\\n');
    process.stdout.write('[]');
  });
  `,
      );
      chmodSync(join(dir, 'gemini'), 0o755);
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('the `gemini` found on PATH receives exactly [-m, MODEL, --prompt, PROMPT], the prompt as one argument and no shell', async () => {
      const log = join(dir, 'argv.jsonl');
      const cfg = loadConfig({ env: {}, flags: { provider: 'gemini-cli', model: 'gemini-test-pro', judgeModel: 'gemini-test-judge' } });
      const env = { ...process.env, PATH: `${dir}${delimiter}${process.env.PATH ?? ''}`, ARGV_LOG: log };
      const gen = createProvider(generatorSettings(cfg), { config: cfg, env });
      const judge = createProvider(judgeSettings(cfg), { config: cfg, env });
      // Shell syntax, option-looking text, quotes and newlines: all of it must arrive as one argument.
      const marker = join(dir, 'shell-ran');
      const prompt = `--prompt -m other $(touch ${marker}) \`touch ${marker}\` "quoted" 'single'\n<cells>\nline; two | three`;
      await gen.complete({ purpose: 'generate', system: 'SYSTEM TEXT', prompt });
      await judge.complete({ purpose: 'judge', prompt: 'judge this' });
      const calls = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { argv: string[]; stdin: string });
      expect(calls).toEqual([
        { argv: ['-m', 'gemini-test-pro', '--prompt', `SYSTEM TEXT\n\n${prompt}`], stdin: '' },
        { argv: ['-m', 'gemini-test-judge', '--prompt', 'judge this'], stdin: '' },
      ]);
      expect(existsSync(marker)).toBe(false);
    });
  });

  describe('gemini-cli: the default timeout is 300 s', () => {
    let cli: FakeGeminiCli;
    beforeAll(async () => {
      cli = await installFakeGeminiCli();
    });
    afterAll(async () => {
      vi.useRealTimers();
      await cli.close();
    });

    it('with the default config, a `gemini` that never answers is still running at 299.999 s and is killed at 300 s (LlmTransientError naming 300000 ms)', async () => {
      const cfg = loadConfig({ env: {}, flags: { provider: 'gemini-cli' } });
      expect(cfg.callTimeoutMs).toBe(300_000);
      const llm = createProvider(generatorSettings(cfg), { config: cfg, env: cli.env });
      cli.script({ mode: 'hang' });
      const before = cli.calls.length;
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      try {
        let settled = false;
        // No per-request timeout: the provider's own, from the config, applies.
        const p = llm
          .complete({ purpose: 'generate', prompt: 'never answered' })
          .catch((e: unknown) => e)
          .finally(() => (settled = true));
        // The stand-in is running (it reported in) and hangs.
        expect(await until(() => cli.calls.length > before)).toBe(true);
        const pid = cli.calls.at(-1)!.pid;
        expect(cli.calls.at(-1)!.violations).toEqual([]);

        vi.advanceTimersByTime(299_999);
        await sleep(300);
        expect(settled).toBe(false);
        expect(alive(pid)).toBe(true);

        vi.advanceTimersByTime(1);
        const err = await p;
        expect(err).toBeInstanceOf(LlmTransientError);
        expect((err as Error).message).toMatch(/no answer within 300000 ms \(timeout\); killed/);
        expect(await until(() => !alive(pid))).toBe(true);
      } finally {
        vi.useRealTimers();
      }
    });
  });
});
