export type { CompletionRequest, CompletionResult, LlmProvider, TokenUsage } from './types.js';
export { OpenAiProvider, OPENAI_DEFAULT_MODEL, type OpenAiSettings, type ProviderSettings, type StructuredOutput } from './openai.js';
export { GeminiProvider, GEMINI_DEFAULT_MODEL } from './gemini.js';
export { AnthropicProvider, ANTHROPIC_DEFAULT_MODEL } from './anthropic.js';
export { GeminiCliProvider, GEMINI_CLI_DEFAULT_MODEL, type GeminiCliSettings } from './gemini-cli.js';
export {
  createProvider,
  DEFAULT_MODELS,
  ProviderConfigError,
  resolvedModel,
  selfPreferenceWarning,
  withSharedServices,
  type ProviderChoice,
  type ProviderDeps,
  type SharedServicesOptions,
} from './registry.js';
export { cachedProvider, cacheHash, cacheKey, type CachedProvider, type CacheOptions } from './cache.js';
export { limitedProvider, estimateRequestTokens, type LimiterOptions } from './limiter.js';
export { costOf, isPriced, priceOf, priceTable, DEFAULT_PRICES, type ModelPrice, type PriceTable } from './cost.js';
export {
  buildGeneratePrompt,
  buildJudgePrompt,
  buildRepairPrompt,
  buildRevisePrompt,
  promptHashes,
  readPromptBlock,
  toPromptCell,
  type BuiltPrompt,
  type GeneratePromptOptions,
  type JudgePromptDraft,
  type RevisionInput,
} from './prompts.js';
export type { PromptCell, PromptCellInput } from '../domain/plan-cell.js';
export {
  extractItems,
  extractJson,
  normalizeLevel,
  parseGenerateAnswer,
  parseJudgeAnswer,
  parseReviseAnswer,
  type GenerateParse,
  type GeneratedItem,
  type JudgeParse,
  type JudgeVerdict,
  type RevisedItem,
  type ReviseParse,
} from './parse.js';
export { generateAnswerSchema, judgeAnswerSchema, reviseAnswerSchema } from './answer-schemas.js';
export { retryAfterFromHeaders, DEFAULT_RETRY_AFTER_MS } from './errors.js';
