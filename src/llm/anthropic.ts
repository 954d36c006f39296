/**
 * The `anthropic` provider: the Messages API through the official SDK. Structured output goes
 * through a forced tool call, whose input the API validates against the schema; the text returned
 * is that input as JSON, so the parser treats every provider alike.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';
import { objectRootSchema, unwrapAnswer } from './answer-schemas.js';
import { CallDeadline, errorForStatus, retryAfterFromHeaders, transientConnectionError } from './errors.js';
import { DEFAULT_TIMEOUT_MS, type ProviderSettings } from './openai.js';

export const ANTHROPIC_DEFAULT_MODEL = 'claude-sonnet-4-5';
/** The Messages API requires max_tokens; a 30-cell batch needs well over the 4 K some defaults give. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 16_000;

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
      const temperature = req.temperature ?? this.#settings.temperature;
      let wrapped = false;
      let tool: Anthropic.Messages.Tool | undefined;
      if (req.jsonSchema) {
        const root = objectRootSchema(req.jsonSchema.schema);
        wrapped = root.wrapped;
        tool = {
          name: toolName(req.jsonSchema.name),
          description: 'Return the complete answer through this tool.',
          input_schema: root.schema as Anthropic.Messages.Tool.InputSchema,
        };
      }
      const res = await this.#client.messages.create(
        {
          model: this.model,
          max_tokens: req.maxOutputTokens ?? this.#settings.maxOutputTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
          messages: [{ role: 'user', content: req.prompt }],
          ...(req.system ? { system: req.system } : {}),
          ...(temperature !== undefined ? { temperature } : {}),
          ...(tool ? { tools: [tool], tool_choice: { type: 'tool' as const, name: tool.name } } : {}),
        },
        { signal: deadline.signal },
      );
      let text: string;
      const toolUse = tool ? res.content.find((b) => b.type === 'tool_use' && b.name === tool.name) : undefined;
      if (toolUse && toolUse.type === 'tool_use') {
        const json = JSON.stringify(toolUse.input);
        text = wrapped ? unwrapAnswer(json) : json;
      } else {
        // No tool call (e.g. cut off by max_tokens before it began): hand over whatever text came.
        text = res.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      }
      return {
        text,
        usage: { inputTokens: res.usage?.input_tokens ?? 0, outputTokens: res.usage?.output_tokens ?? 0 },
        model: res.model || this.model,
        latencyMs: Math.round(performance.now() - started),
        cached: false,
        ...(res.stop_reason === 'max_tokens' ? { truncated: true } : {}),
      };
    } catch (err) {
      throw deadline.translate(this.name, err, (e) => mapAnthropicError(this.name, e, mod));
    } finally {
      deadline.dispose();
    }
  }
}

/** Tool names must match ^[a-zA-Z0-9_-]{1,64}$. */
function toolName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'answer';
}

export function mapAnthropicError(provider: string, e: unknown, mod: Sdk | undefined): Error {
  if (mod && e instanceof mod.default.APIConnectionError) return transientConnectionError(provider, e);
  if (mod && e instanceof mod.default.APIError && typeof e.status === 'number') {
    return errorForStatus(provider, e.status, e.message, retryAfterFromHeaders(e.headers));
  }
  return e instanceof Error ? e : new Error(String(e));
}
