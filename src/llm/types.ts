/**
 * The provider interface used by generate and judge: a prompt in; text, token usage, model id,
 * latency and whether it came from the cache out. Honours an AbortSignal and a timeout.
 */
export interface TokenUsage {
  /** Every input token, cached ones included. */
  inputTokens: number;
  outputTokens: number;
  /**
   * Input tokens read from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic
   * `cache_read_input_tokens`, Gemini `cachedContentTokenCount`): part of inputTokens, billed at
   * the cached rate.
   */
  cachedInputTokens?: number;
  /** Anthropic only: input tokens written to the cache (`cache_creation_input_tokens`), billed above the input rate. */
  cacheWriteTokens?: number;
}

export interface CompletionRequest {
  /** What the call is for: shapes structured output and the offline provider's answer. */
  purpose: 'generate' | 'judge' | 'revise' | 'repair';
  system?: string;
  prompt: string;
  /**
   * The stable head of `prompt` (instructions, taxonomy, rubric; the same for every call of a
   * kind): providers with explicit prompt caching mark it cacheable. `prompt` starts with it.
   */
  cachePrefix?: string;
  /** JSON schema of the expected answer (structured output where the provider supports it). */
  jsonSchema?: { name: string; schema: Record<string, unknown> };
  temperature?: number;
  maxOutputTokens?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface CompletionResult {
  text: string;
  usage: TokenUsage;
  /** The model id the provider reports (or the configured one). */
  model: string;
  latencyMs: number;
  cached: boolean;
  /** True when the provider says the answer was cut at the output-token limit (JSON likely incomplete). */
  truncated?: boolean;
}

export interface LlmProvider {
  /** e.g. `offline`, `openai`, `gemini`, `anthropic`, `gemini-cli`. */
  readonly name: string;
  readonly model: string;
  complete(req: CompletionRequest): Promise<CompletionResult>;
  /**
   * Drops a stored answer to `req` (the answer cache, src/llm/cache.ts), e.g. one that failed to
   * parse, so a retry asks again. Absent on a provider that stores no answers.
   */
  forget?(req: CompletionRequest): Promise<void>;
}
