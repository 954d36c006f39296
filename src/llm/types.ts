/**
 * The provider interface used by generate and judge: a prompt in; text, token usage, model id,
 * latency and whether it came from the cache out. Honours an AbortSignal and a timeout.
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface CompletionRequest {
  /** What the call is for: shapes structured output and the offline provider's answer. */
  purpose: 'generate' | 'judge' | 'revise' | 'repair';
  system?: string;
  prompt: string;
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
}
