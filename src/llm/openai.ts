/**
 * The `openai` provider: chat completions through the official SDK. A configurable base URL makes
 * it the provider for every OpenAI-compatible server too (Ollama, vLLM, llama.cpp, LM Studio,
 * OpenRouter), which is why structured output can be turned down to json_object or none.
 */
import type OpenAI from 'openai';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';
import { openAiChatBody, openAiChatResult } from './wire.js';
import { CallDeadline, errorForStatus, retryAfterFromHeaders, transientConnectionError } from './errors.js';
import type { StructuredOutput } from '../config/index.js';

export type { StructuredOutput };

export interface ProviderSettings {
  apiKey: string;
  model: string;
  baseUrl?: string;
  /** Default temperature; a request's own temperature wins. */
  temperature?: number;
  /** Default call timeout in ms; a request's own timeoutMs wins. */
  timeoutMs?: number;
  /** Default output token cap. */
  maxOutputTokens?: number;
}

export interface OpenAiSettings extends ProviderSettings {
  /** What the server supports: strict json_schema (OpenAI, vLLM, recent Ollama), json_object, or none. */
  structuredOutput?: StructuredOutput;
}

export const OPENAI_DEFAULT_MODEL = 'gpt-4.1-mini';
export const DEFAULT_TIMEOUT_MS = 300_000;

type Sdk = typeof import('openai');
let sdk: Promise<Sdk> | undefined;
/** The SDK loads on the first call, so a command that makes none does not pay for it. */
const loadSdk = (): Promise<Sdk> => (sdk ??= import('openai'));

export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai';
  readonly model: string;
  #client: OpenAI | undefined;
  readonly #settings: OpenAiSettings;

  constructor(settings: OpenAiSettings) {
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
        // Retries belong to the queue (with its budget and backoff), never to the SDK.
        maxRetries: 0,
        // Our CallDeadline aborts first; this only guards against a deadline that never fires.
        timeout: (this.#settings.timeoutMs ?? DEFAULT_TIMEOUT_MS) + 5_000,
      });
      deadline.throwIfCancelled();
      const { body, wrapped } = openAiChatBody(req, { ...this.#settings, model: this.model });
      const res = await this.#client.chat.completions.create(body, { signal: deadline.signal });
      return openAiChatResult(res, wrapped, this.model, Math.round(performance.now() - started));
    } catch (err) {
      throw deadline.translate(this.name, err, (e) => mapOpenAiError(this.name, e, mod));
    } finally {
      deadline.dispose();
    }
  }
}

/** SDK errors → the error family (status, headers and connection failures). */
export function mapOpenAiError(provider: string, e: unknown, mod: Sdk | undefined): Error {
  if (mod && e instanceof mod.default.APIConnectionError) return transientConnectionError(provider, e);
  if (mod && e instanceof mod.default.APIError && typeof e.status === 'number') {
    return errorForStatus(provider, e.status, e.message, retryAfterFromHeaders(e.headers));
  }
  return e instanceof Error ? e : new Error(String(e));
}
