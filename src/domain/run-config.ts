/**
 * The run configuration: what a run was started with (the configuration minus secrets and
 * machine-specific keys), stored in run.json and with the run's state, and read back by every
 * step and worker through `parseRunConfig`. The fields each side reads are declared here once;
 * whatever else the stored configuration holds passes through.
 */
import { z } from 'zod';
import { PROVIDER_NAMES, STRUCTURED_OUTPUTS } from './providers.js';

const PriceSchema = z.looseObject({ input: z.number(), output: z.number(), cachedInput: z.number().optional(), cacheWrite: z.number().optional() });

export const RunConfigSchema = z.looseObject({
  maxIters: z.number(),
  maxCalls: z.number(),
  genBatchSize: z.number(),
  genCallsPerIter: z.number(),
  judgeChunkSize: z.number(),
  gapThreshold: z.number(),
  maxDropRate: z.number(),
  visualEachIter: z.boolean(),
  strategy: z.enum(['reference', 'balanced']),
  dryRun: z.boolean(),
  seed: z.number(),
  /** In place of the run id in cell variants (reproducible prompts); absent: the run id. */
  variantSalt: z.string().optional(),
  allowPythonVisuals: z.boolean(),
  /** Revise NEEDS_FIX drafts before the checkpoint, up to maxRevisions rounds. */
  revise: z.boolean().optional(),
  maxRevisions: z.number().optional(),
  /** A revision run (`vault-loop revise`): revise the NEEDS_FIX drafts this earlier run left. */
  reviseFrom: z.string().optional(),
  /** Generation and judge calls go through the provider's batch API (openai, anthropic). */
  batchMode: z.boolean().optional(),
  /** A judging run (`vault-loop judge`): judge what earlier runs left unjudged, generate nothing. */
  judgeOnly: z.boolean().optional(),

  // What the stateless side (providers, limits, cache) reads.
  provider: z.enum(PROVIDER_NAMES),
  model: z.string().optional(),
  baseUrl: z.string().optional(),
  temperature: z.number(),
  structuredOutput: z.enum(STRUCTURED_OUTPUTS).optional(),
  judgeProvider: z.enum(PROVIDER_NAMES).optional(),
  judgeModel: z.string().optional(),
  judgeBaseUrl: z.string().optional(),
  judgeTemperature: z.number(),
  judgeStructuredOutput: z.enum(STRUCTURED_OUTPUTS).optional(),
  callTimeoutMs: z.number(),
  cacheTtlSeconds: z.number(),
  requestsPerMinute: z.number(),
  tokensPerMinute: z.number(),
  offlineLatencyMs: z.number(),
  offlineDefectRate: z.number(),
  offlineDefectKinds: z.array(z.enum(['wrong-arithmetic', 'malformed-area', 'near-copy', 'form'])).optional(),
  prices: z.record(z.string(), PriceSchema.extend({ batch: PriceSchema.optional() })).optional(),
  batchPollMs: z.number().optional(),
  /** The vault's topic × track applicability when the run started (stateless workers share it). */
  applicability: z.record(z.string(), z.array(z.string())).optional(),
});
export type RunConfig = z.infer<typeof RunConfigSchema>;

/** A run's stored configuration, checked: a field of the wrong type is named with its run. */
export function parseRunConfig(runId: string, stored: unknown): RunConfig {
  const r = RunConfigSchema.safeParse(stored);
  if (r.success) return r.data;
  const first = r.error.issues[0]!;
  throw new Error(`run ${runId}: stored configuration at ${first.path.join('.') || '(top level)'}: ${first.message}`);
}
