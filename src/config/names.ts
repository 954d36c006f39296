/** The config's enumerations that the CLI's help lists: kept apart from the zod schema so `--help` does not load zod. */
export const PROVIDER_NAMES = ['offline', 'openai', 'gemini', 'anthropic', 'gemini-cli'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
/** What an OpenAI-compatible server supports for structured output (see src/llm/openai.ts). */
export const STRUCTURED_OUTPUTS = ['json_schema', 'json_object', 'none'] as const;
export type StructuredOutput = (typeof STRUCTURED_OUTPUTS)[number];
