/**
 * Request bodies and answer readers of the OpenAI chat-completions and Anthropic Messages wire
 * formats: one owner for both the live providers (src/llm/openai.ts, anthropic.ts) and the batch
 * clients (src/llm/batch/), whose JSONL lines carry exactly the body a live call would send and
 * whose results carry exactly the response a live call would get.
 */
import type OpenAI from 'openai';
import type Anthropic from '@anthropic-ai/sdk';
import { objectRootSchema, unwrapAnswer, WRAP_KEY } from './answer-schemas.js';
import type { CompletionRequest, CompletionResult, TokenUsage } from './types.js';
import type { StructuredOutput } from '../config/index.js';

export interface OpenAiBodySettings {
  model: string;
  temperature?: number;
  maxOutputTokens?: number;
  structuredOutput?: StructuredOutput;
}

export interface WireBody<B> {
  body: B;
  /** The answer comes wrapped under one key (object-root APIs); the reader unwraps it. */
  wrapped: boolean;
}

export function openAiChatBody(req: CompletionRequest, s: OpenAiBodySettings): WireBody<OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming> {
  const mode = s.structuredOutput ?? 'json_schema';
  const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [];
  let wrapped = false;
  let responseFormat: OpenAI.Chat.Completions.ChatCompletionCreateParams['response_format'];
  let system = req.system;
  if (req.jsonSchema && mode === 'json_schema') {
    const root = objectRootSchema(req.jsonSchema.schema);
    wrapped = root.wrapped;
    responseFormat = { type: 'json_schema', json_schema: { name: req.jsonSchema.name, schema: root.schema, strict: true } };
  } else if (req.jsonSchema && mode === 'json_object') {
    // json_object mode can only return an object, so the array is asked for under one key.
    wrapped = req.jsonSchema.schema.type === 'array';
    responseFormat = { type: 'json_object' };
    const note = wrapped
      ? `Answer with one JSON object {"${WRAP_KEY}": [...]} whose "${WRAP_KEY}" array is the answer described below.`
      : 'Answer with one JSON object.';
    system = system ? `${system}\n\n${note}` : note;
  }
  // OpenAI caches prompt prefixes by itself (≥ 1024 tokens, same leading bytes): the stable part
  // already comes first in the prompt, so nothing is marked here.
  if (system) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: req.prompt });
  const maxTokens = req.maxOutputTokens ?? s.maxOutputTokens;
  const temperature = req.temperature ?? s.temperature;
  return {
    wrapped,
    body: {
      model: s.model,
      messages,
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { max_completion_tokens: maxTokens } : {}),
      ...(responseFormat ? { response_format: responseFormat } : {}),
    },
  };
}

export function openAiUsage(u: OpenAI.Completions.CompletionUsage | undefined | null): TokenUsage {
  const cached = u?.prompt_tokens_details?.cached_tokens ?? 0;
  return { inputTokens: u?.prompt_tokens ?? 0, outputTokens: u?.completion_tokens ?? 0, ...(cached > 0 ? { cachedInputTokens: cached } : {}) };
}

export function openAiChatResult(res: OpenAI.Chat.Completions.ChatCompletion, wrapped: boolean, fallbackModel: string, latencyMs: number): CompletionResult {
  const choice = res.choices?.[0];
  const content = choice?.message?.content ?? '';
  return {
    text: wrapped ? unwrapAnswer(content) : content,
    usage: openAiUsage(res.usage),
    model: res.model || fallbackModel,
    latencyMs,
    cached: false,
    ...(choice?.finish_reason === 'length' ? { truncated: true } : {}),
  };
}

/** The Messages API requires max_tokens; a 30-cell batch needs well over the 4 K some defaults give. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 16_000;

export interface AnthropicBodySettings {
  model: string;
  temperature?: number;
  maxOutputTokens?: number;
}

export interface AnthropicWireBody extends WireBody<Anthropic.Messages.MessageCreateParamsNonStreaming> {
  /** The forced tool whose input is the answer (structured output). */
  toolName?: string;
}

export function anthropicMessageBody(req: CompletionRequest, s: AnthropicBodySettings): AnthropicWireBody {
  const temperature = req.temperature ?? s.temperature;
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
  // The stable head of the prompt is its own block marked for the prompt cache; the cache covers
  // everything before the mark (tools, system, this block), so the per-call rest follows it.
  const prefix = req.cachePrefix && req.cachePrefix.length < req.prompt.length && req.prompt.startsWith(req.cachePrefix) ? req.cachePrefix : undefined;
  const content: string | Anthropic.Messages.TextBlockParam[] = prefix
    ? [
        { type: 'text', text: prefix, cache_control: { type: 'ephemeral' } },
        { type: 'text', text: req.prompt.slice(prefix.length) },
      ]
    : req.prompt;
  return {
    wrapped,
    ...(tool ? { toolName: tool.name } : {}),
    body: {
      model: s.model,
      max_tokens: req.maxOutputTokens ?? s.maxOutputTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content }],
      ...(req.system ? { system: req.system } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(tool ? { tools: [tool], tool_choice: { type: 'tool' as const, name: tool.name } } : {}),
    },
  };
}

export function anthropicUsage(u: Partial<Anthropic.Messages.Usage> | undefined | null): TokenUsage {
  // The API reports input_tokens without the cached and cache-written ones: inputTokens is their sum.
  const read = u?.cache_read_input_tokens ?? 0;
  const written = u?.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: (u?.input_tokens ?? 0) + read + written,
    outputTokens: u?.output_tokens ?? 0,
    ...(read > 0 ? { cachedInputTokens: read } : {}),
    ...(written > 0 ? { cacheWriteTokens: written } : {}),
  };
}

export function anthropicMessageResult(res: Anthropic.Messages.Message, wire: Pick<AnthropicWireBody, 'wrapped' | 'toolName'>, fallbackModel: string, latencyMs: number): CompletionResult {
  let text: string;
  const toolUse = wire.toolName ? res.content.find((b) => b.type === 'tool_use' && b.name === wire.toolName) : undefined;
  if (toolUse && toolUse.type === 'tool_use') {
    const json = JSON.stringify(toolUse.input);
    text = wire.wrapped ? unwrapAnswer(json) : json;
  } else {
    // No tool call (e.g. cut off by max_tokens before it began): hand over whatever text came.
    text = res.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
  }
  return {
    text,
    usage: anthropicUsage(res.usage),
    model: res.model || fallbackModel,
    latencyMs,
    cached: false,
    ...(res.stop_reason === 'max_tokens' ? { truncated: true } : {}),
  };
}

/** Tool names must match ^[a-zA-Z0-9_-]{1,64}$. */
function toolName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'answer';
}
