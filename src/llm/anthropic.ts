/**
 * The `anthropic` provider: the Messages API through the official SDK. Structured output goes
 * through a forced tool call, whose input the API validates against the schema; the text returned
 * is that input as JSON, so the parser treats every provider alike.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';
import { ANTHROPIC_DEFAULT_MAX_TOKENS, anthropicMessageBody, anthropicMessageResult } from './wire.js';
import { CallDeadline, errorForStatus, retryAfterFromHeaders, transientConnectionError } from './errors.js';
import { DEFAULT_TIMEOUT_MS, type ProviderSettings } from './openai.js';

export const ANTHROPIC_DEFAULT_MODEL = 'claude-sonnet-4-5';
export { ANTHROPIC_DEFAULT_MAX_TOKENS };

type Sdk = typeof import('@anthropic-ai/sdk');
let sdk: Promise<Sdk> | undefined;
/** The SDK loads on the first call, so a command that makes none does not pay for it. */
const loadSdk = (): Promise<Sdk> => (sdk ??= import('@anthropic-ai/sdk'));

export class AnthropicProvider implements LlmProvider {
  readonly name = 'anthropic';
  readonly model: string;
  #client: Anthropic | undefined;
  readonly #settings: ProviderSettings;

  constructor(settings: ProviderSettings) {
    this.model = settings.model;
    this.#settings = settings;
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    const deadline = new CallDeadline(req.timeoutMs ?? this.#settings.timeoutMs ?? DEFAULT_TIMEOUT_MS, req.signal);
    const started = performance.now();
    let mod: Sdk | undefined;
    try {
      mod = await loadSdk();
      this.#client ??= new mod.default({
        apiKey: this.#settings.apiKey,
        baseURL: this.#settings.baseUrl ?? null,
        maxRetries: 0,
        timeout: (this.#settings.timeoutMs ?? DEFAULT_TIMEOUT_MS) + 5_000,
      });
      deadline.throwIfCancelled();
      const wire = anthropicMessageBody(req, { ...this.#settings, model: this.model });
      const res = await this.#client.messages.create(wire.body, { signal: deadline.signal });
      return anthropicMessageResult(res, wire, this.model, Math.round(performance.now() - started));
    } catch (err) {
      throw deadline.translate(this.name, err, (e) => mapAnthropicError(this.name, e, mod));
    } finally {
      deadline.dispose();
    }
  }
}

export function mapAnthropicError(provider: string, e: unknown, mod: Sdk | undefined): Error {
  if (mod && e instanceof mod.default.APIConnectionError) return transientConnectionError(provider, e);
  if (mod && e instanceof mod.default.APIError && typeof e.status === 'number') {
    return errorForStatus(provider, e.status, e.message, retryAfterFromHeaders(e.headers));
  }
  return e instanceof Error ? e : new Error(String(e));
}
