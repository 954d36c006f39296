/**
 * The `openai` provider: chat completions through the official SDK. A configurable base URL makes
 * it the provider for every OpenAI-compatible server too (Ollama, vLLM, llama.cpp, LM Studio,
 * OpenRouter), which is why structured output can be turned down to json_object or none.
 */
import type OpenAI from 'openai';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';
import { openAiChatBody, openAiChatResult } from './wire.js';
import type { StructuredOutput } from '../config/index.js';
import { lazyImport, mapStainlessError, StainlessProvider, type ProviderSettings } from './sdk.js';

export type { StructuredOutput };
export { DEFAULT_TIMEOUT_MS, type ProviderSettings } from './sdk.js';

export interface OpenAiSettings extends ProviderSettings {
  /** What the server supports: strict json_schema (OpenAI, vLLM, recent Ollama), json_object, or none. */
  structuredOutput?: StructuredOutput;
}

export const OPENAI_DEFAULT_MODEL = 'gpt-4.1-mini';

type Sdk = typeof import('openai');
export const loadOpenAiSdk = lazyImport<Sdk>(() => import('openai'));

export class OpenAiProvider extends StainlessProvider<Sdk, OpenAI, OpenAiSettings> implements LlmProvider {
  readonly name = 'openai';
  protected readonly loadSdk = loadOpenAiSdk;

  protected async send(client: OpenAI, req: CompletionRequest, signal: AbortSignal, started: number): Promise<CompletionResult> {
    const { body, wrapped } = openAiChatBody(req, { ...this.settings, model: this.model });
    const res = await client.chat.completions.create(body, { signal });
    return openAiChatResult(res, wrapped, this.model, Math.round(performance.now() - started));
  }
}

/** SDK errors → the error family (status, headers and connection failures). */
export function mapOpenAiError(provider: string, e: unknown, mod: Sdk | undefined): Error {
  return mapStainlessError(provider, e, mod?.default);
}
