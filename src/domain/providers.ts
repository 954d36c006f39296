/** The provider names and structured-output modes a configuration (and a stored run configuration) names. No zod here: the CLI's help lists them without loading it. */
export const PROVIDER_NAMES = ['offline', 'openai', 'gemini', 'anthropic', 'gemini-cli'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
/** What an OpenAI-compatible server supports for structured output (see src/llm/openai.ts). */
export const STRUCTURED_OUTPUTS = ['json_schema', 'json_object', 'none'] as const;
export type StructuredOutput = (typeof STRUCTURED_OUTPUTS)[number];
