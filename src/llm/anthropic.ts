/**
 * The `anthropic` provider: the Messages API through the official SDK. Structured output goes
 * through a forced tool call, whose input the API validates against the schema; the text returned
 * is that input as JSON, so the parser treats every provider alike.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';
import { ANTHROPIC_DEFAULT_MAX_TOKENS, anthropicMessageBody, anthropicMessageResult } from './wire.js';
import { lazyImport, mapStainlessError, StainlessProvider } from './sdk.js';

export const ANTHROPIC_DEFAULT_MODEL = 'claude-sonnet-4-5';
export { ANTHROPIC_DEFAULT_MAX_TOKENS };

type Sdk = typeof import('@anthropic-ai/sdk');
export const loadAnthropicSdk = lazyImport<Sdk>(() => import('@anthropic-ai/sdk'));

export class AnthropicProvider extends StainlessProvider<Sdk, Anthropic> implements LlmProvider {
  readonly name = 'anthropic';
  protected readonly loadSdk = loadAnthropicSdk;

  protected async send(client: Anthropic, req: CompletionRequest, signal: AbortSignal, started: number): Promise<CompletionResult> {
    const wire = anthropicMessageBody(req, { ...this.settings, model: this.model });
    const res = await client.messages.create(wire.body, { signal });
    return anthropicMessageResult(res, wire, this.model, Math.round(performance.now() - started));
  }
}

/** SDK errors → the error family (status, headers and connection failures). */
export function mapAnthropicError(provider: string, e: unknown, mod: Sdk | undefined): Error {
  return mapStainlessError(provider, e, mod?.default);
}
