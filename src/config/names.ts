/** The config's enumerations that the CLI's help lists: kept apart from the zod schema so `--help` does not load zod. */
export { PROVIDER_NAMES, STRUCTURED_OUTPUTS, type ProviderName, type StructuredOutput } from '../domain/providers.js';
