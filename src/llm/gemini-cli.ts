/**
 * The `gemini-cli` provider: what the original did, `gemini -m MODEL --prompt PROMPT` with empty
 * stdin and a 300 s timeout. Unlike the original, a failing call is one transient job failure,
 * not the end of the process. The CLI reports no token usage, so usage is estimated (chars / 4).
 */
import { spawn } from 'node:child_process';
import { LlmFatalError, LlmTransientError } from '../errors.js';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';
import { abortReason, excerpt } from './errors.js';

export const GEMINI_CLI_DEFAULT_MODEL = 'gemini-3.1-pro-preview';
export const GEMINI_CLI_DEFAULT_TIMEOUT_MS = 300_000;
/** Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN); fail clearly before spawn does. */
const MAX_PROMPT_BYTES = 128 * 1024 - 1;
/** After SIGTERM, how long the CLI gets to exit before SIGKILL. */
const KILL_GRACE_MS = 2_000;

export interface GeminiCliSettings {
  model: string;
  /** The executable; default `gemini` found on PATH. */
  command?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

export class GeminiCliProvider implements LlmProvider {
  readonly name = 'gemini-cli';
  readonly model: string;
  readonly #settings: GeminiCliSettings;

  constructor(settings: GeminiCliSettings) {
    this.model = settings.model;
    this.#settings = settings;
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    if (req.signal?.aborted) throw abortReason(req.signal);
    const prompt = req.system ? `${req.system}\n\n${req.prompt}` : req.prompt;
    if (Buffer.byteLength(prompt) > MAX_PROMPT_BYTES) {
      throw new LlmFatalError(`gemini-cli: prompt is ${Buffer.byteLength(prompt)} bytes, over the 128 KiB argument limit; use smaller batches or the gemini provider`);
    }
    const command = this.#settings.command ?? 'gemini';
    const timeoutMs = req.timeoutMs ?? this.#settings.timeoutMs ?? GEMINI_CLI_DEFAULT_TIMEOUT_MS;
    const started = performance.now();

    return await new Promise<CompletionResult>((resolve, reject) => {
      // Own process group, so a timeout or abort also ends whatever the CLI started.
      const child = spawn(command, ['-m', this.model, '--prompt', prompt], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: this.#settings.env ?? process.env,
        detached: true,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      let failure: Error | undefined;
      let killTimer: NodeJS.Timeout | undefined;

      const kill = (why: Error) => {
        if (failure) return;
        failure = why;
        signalGroup('SIGTERM');
        killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      const signalGroup = (sig: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, sig);
        } catch {
          // Already gone.
        }
      };
      const timer = setTimeout(() => kill(new LlmTransientError(`gemini-cli: no answer within ${timeoutMs} ms (timeout); killed`)), timeoutMs);
      const onAbort = () => kill(abortReason(req.signal!));
      req.signal?.addEventListener('abort', onAbort, { once: true });

      const finish = (e: Error | undefined, result?: CompletionResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        req.signal?.removeEventListener('abort', onAbort);
        if (e) reject(e);
        else resolve(result!);
      };

      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) => {
        finish(
          e.code === 'ENOENT'
            ? new LlmFatalError(`gemini-cli: "${command}" not found on PATH; install @google/gemini-cli or choose another provider`)
            : new LlmTransientError(`gemini-cli: could not run "${command}": ${e.message}`),
        );
      });
      child.on('close', (code, signal) => {
        if (failure) return finish(failure);
        const stdout = Buffer.concat(out).toString('utf8');
        if (code !== 0) {
          const stderr = Buffer.concat(err).toString('utf8');
          return finish(new LlmTransientError(`gemini-cli: exited with ${code ?? signal}: ${excerpt(stderr.slice(-2000) || stdout.slice(-500), 500)}`));
        }
        finish(undefined, {
          text: stdout,
          usage: { inputTokens: estimateTokens(prompt), outputTokens: estimateTokens(stdout) },
          model: this.model,
          latencyMs: Math.round(performance.now() - started),
          cached: false,
        });
      });
    });
  }
}
