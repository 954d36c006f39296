/**
 * Builds the runtime context of a worker process from its config: the per-run provider stack
 * (response cache → budget → shared rate limit → provider), prompts and parsers, the
 * deterministic checks, the renderer, and — on the corpus host — the control steps' vault access.
 */
import { analyzeVault, renderReportMarkdown } from '../analysis/index.js';
import { NearDupIndex } from '../checks/neardup.js';
import { generateCodec, judgeCodec, reviseCodec } from '../core/codecs.js';
import { generatorSettings, judgeSettings, type Config } from '../config/index.js';
import { asQuestionDoc, listQuestionFiles, loadQuestionFile } from '../corpus/loader.js';
import { statSync } from 'node:fs';
import { scanMaxIds } from '../corpus/ids.js';
import { Applicability, TRACKS, type Track } from '../corpus/taxonomy.js';
import { safeVaultPath, writeQuestion } from '../corpus/writer.js';
import { cachedProvider } from '../llm/cache.js';
import { costOf, priceTable } from '../llm/cost.js';
import { limitedProvider } from '../llm/limiter.js';
import { createOfflineProvider } from '../llm/offline/index.js';
import { createProvider, resolvedModel, type ProviderChoice } from '../llm/registry.js';
import type { CompletionRequest, LlmProvider } from '../llm/types.js';
import type { Queues } from '../queues/index.js';
import { bullConnection, type RedisClient, type RedisTarget } from '../redis/index.js';
import type { BullFlows } from '../scheduler/flows.js';
import { findLeftoverDrafts } from '../scheduler/leftovers.js';
import type { RunStore } from '../state/run-state.js';
import { diskRecords, diskVaultFiles, type StepDeps } from '../scheduler/steps.js';
import type { Logger } from '../util/log.js';
import { renderVisual } from '../visuals/index.js';
import { LlmAuthError } from '../errors.js';
import { budgetedProvider } from '../core/budgeted-provider.js';
import { AnthropicBatchClient } from '../llm/batch/anthropic.js';
import { OpenAiBatchClient } from '../llm/batch/openai.js';
import type { BatchClient } from '../llm/batch/types.js';
import { batchJobId } from '../state/job-ids.js';
import type { BatchStage } from '../queues/batch.js';
import { BatchStore } from '../scheduler/batches.js';
import { BATCH_COLLECT_MS, type BatchDeps } from '../workers/batch.processor.js';
import { batchedProvider } from '../workers/batched-provider.js';
import { usesBatches } from '../llm/batch/types.js';
import type { GenerateDeps } from '../core/generate-batch.js';
import { parseRunConfig, type RunConfig } from '../domain/run-config.js';
import type { GenerateCell, PromptCell } from '../domain/plan-cell.js';
import type { JudgeDeps } from '../core/judge-chunk.js';
import type { ReviseDeps } from '../core/revise-batch.js';
import type { RuntimeContext, WorkerTimings } from '../workers/runtime.js';

export interface ContextOptions {
  cfg: Config;
  target: RedisTarget;
  redis: RedisClient;
  store: RunStore;
  queues: Queues;
  log: Logger;
  timings?: WorkerTimings;
  corpus?: { vault: string; flows: BullFlows };
  /** Observes every call that reaches a provider (tests count calls with it). */
  onProviderCall?: (req: CompletionRequest, provider: string) => void;
  /** Runs around every job body (the at-least-once test runs each twice). */
  aroundJob?: RuntimeContext['aroundJob'];
}

/**
 * A refused API key fails every call alike: the first one stops the run and leaves the message
 * (naming the variable to set) on the run for the CLI, instead of failing cell after cell.
 */
function stopOnRefusedKey(provider: LlmProvider, record: (message: string) => Promise<void>): LlmProvider {
  return {
    name: provider.name,
    model: provider.model,
    async complete(req) {
      try {
        return await provider.complete(req);
      } catch (e) {
        if (e instanceof LlmAuthError) await record(e.message).catch(() => {});
        throw e;
      }
    },
  };
}

export function createRuntimeContext(o: ContextOptions): RuntimeContext {
  const { cfg, store, redis, log } = o;
  const baseProviders = new Map<string, LlmProvider>();

  const baseProvider = (choice: ProviderChoice, rc: RunConfig): LlmProvider => {
    const key = JSON.stringify([choice, rc.offlineLatencyMs, rc.offlineDefectRate, rc.offlineDefectKinds, rc.seed]);
    let p = baseProviders.get(key);
    if (!p) {
      p = createProvider(choice, {
        config: { openaiApiKey: cfg.openaiApiKey, geminiApiKey: cfg.geminiApiKey, anthropicApiKey: cfg.anthropicApiKey, callTimeoutMs: rc.callTimeoutMs },
        createOffline: (c) =>
          createOfflineProvider({
            seed: rc.seed,
            latencyMs: rc.offlineLatencyMs,
            defectRate: rc.offlineDefectRate,
            ...(rc.offlineDefectKinds ? { defectKinds: rc.offlineDefectKinds } : {}),
            ...(c.model ? { model: c.model } : {}),
          }),
      });
      baseProviders.set(key, p);
    }
    return p;
  };

  const batches = new BatchStore(redis, store.keys);
  const enqueueCollector = async (runId: string, iter: number, stage: BatchStage, seq: number): Promise<void> => {
    await o.queues.batch.add('batch', { runId, iter, stage, seq }, { jobId: batchJobId(runId, iter, stage, seq), delay: BATCH_COLLECT_MS });
  };
  const batchClients = new Map<string, BatchClient>();
  const batchDeps = (): BatchDeps => ({
    store,
    batches,
    client: async (runId, stage) => {
      const run = await store.get(runId);
      if (!run) throw new Error(`run ${runId} does not exist`);
      const rc = parseRunConfig(runId, run.config);
      const choice: ProviderChoice = stage === 'generate' ? generatorSettings(rc) : judgeSettings(rc);
      const key = JSON.stringify([choice, rc.callTimeoutMs]);
      let c = batchClients.get(key);
      if (!c) {
        const model = resolvedModel(choice);
        const common = { model, timeoutMs: rc.callTimeoutMs, ...(choice.baseUrl ? { baseUrl: choice.baseUrl } : {}), ...(choice.temperature !== undefined ? { temperature: choice.temperature } : {}) };
        if (choice.provider === 'openai') {
          c = new OpenAiBatchClient({ ...common, apiKey: cfg.openaiApiKey ?? '', ...(choice.structuredOutput ? { structuredOutput: choice.structuredOutput } : {}) });
        } else if (choice.provider === 'anthropic') {
          c = new AnthropicBatchClient({ ...common, apiKey: cfg.anthropicApiKey ?? '' });
        } else {
          throw new Error(`provider ${choice.provider} has no batch API`);
        }
        batchClients.set(key, c);
      }
      return c;
    },
    costOf: async (runId, model, usage) => {
      const run = await store.get(runId);
      return costOf(model, usage, priceTable((run ? parseRunConfig(runId, run.config).prices : undefined) ?? {}), 'batch');
    },
    pollMs: async (runId) => {
      const run = await store.get(runId);
      return (run ? parseRunConfig(runId, run.config).batchPollMs : undefined) ?? 60_000;
    },
    now: () => Date.now(),
    log: (msg, extra) => log.info(extra ?? {}, msg),
  });

  const providerFor = async (runId: string, iter: number, role: 'generate' | 'judge') => {
    const run = await store.get(runId);
    if (!run) throw new Error(`run ${runId} does not exist`);
    const rc = parseRunConfig(runId, run.config);
    const choice: ProviderChoice = role === 'generate' ? generatorSettings(rc) : judgeSettings(rc);
    const base = stopOnRefusedKey(baseProvider(choice, rc), (message) => store.recordFatal(runId, message));
    const limited = rc.requestsPerMinute > 0 || rc.tokensPerMinute > 0 ? limitedProvider(base, redis, { prefix: cfg.prefix, rpm: rc.requestsPerMinute, tpm: rc.tokensPerMinute }) : base;
    const budgeted = budgetedProvider(limited, {
      store,
      runId,
      iter,
      // The run's own price overrides (stored with its config), so every worker prices alike.
      costOf: (model, usage) => costOf(model, usage, priceTable(rc.prices ?? {})),
      ...(o.onProviderCall ? { onCall: (req: CompletionRequest) => o.onProviderCall!(req, base.name) } : {}),
    });
    const batched = usesBatches(rc, choice.provider)
      ? batchedProvider(budgeted, {
          batches,
          runId,
          iter,
          stage: role,
          enqueueCollector,
          // Waiting jobs only read Redis: a few seconds between looks, however long the batch takes.
          recheckMs: Math.min(rc.batchPollMs ?? 60_000, 5_000),
        })
      : budgeted;
    const provider = cachedProvider(batched, redis, { prefix: cfg.prefix, ttlSeconds: rc.cacheTtlSeconds, onError: (e) => log.warn({ err: e.message }, 'cache write failed') });
    return { provider, temperature: choice.temperature ?? 0.7, timeoutMs: rc.callTimeoutMs };
  };

  const generateDeps = (): Omit<GenerateDeps, 'signal'> & { toPromptCells(cells: GenerateCell[]): PromptCell[] } => ({
    provider: (runId, iter) => providerFor(runId, iter, 'generate'),
    ...generateCodec(log),
    now: () => new Date(),
  });

  const applicabilityCache = new Map<string, Applicability>();
  const judgeDeps = async (runId: string): Promise<Omit<JudgeDeps, 'signal'>> => {
    const run = await store.get(runId);
    let applicability = applicabilityCache.get(runId);
    if (!applicability) {
      const stored = run ? parseRunConfig(runId, run.config).applicability : undefined;
      applicability = stored
        ? new Applicability(new Map(Object.entries(stored).map(([t, tr]) => [t, new Set(tr as Track[])])), `run ${runId}`)
        : Applicability.builtin();
      applicabilityCache.set(runId, applicability);
    }
    const app = applicability;
    return {
      provider: (rid, iter) => providerFor(rid, iter, 'judge'),
      ...judgeCodec(app),
      onUnknownVerdict: (id) => log.warn({ runId, id }, 'judge returned a verdict for an unknown id; ignored'),
    };
  };

  const reviseDeps = (): Omit<ReviseDeps, 'signal'> => ({
    provider: (runId, iter) => providerFor(runId, iter, 'generate'),
    ...reviseCodec(log),
    now: () => new Date(),
  });

  const ctx: RuntimeContext = {
    connection: bullConnection(o.target),
    prefix: cfg.prefix,
    redis,
    store,
    queues: o.queues,
    log,
    concurrency: cfg.workers,
    genBatchCapacity: cfg.genBatchSize,
    batchWindowMs: cfg.batchWindowMs,
    ...(o.timings ? { timings: o.timings } : {}),
    ...(o.aroundJob ? { aroundJob: o.aroundJob } : {}),
    generateDeps,
    judgeDeps,
    batchDeps,
    reviseDeps,
    render: async (p) => {
      const r = await renderVisual({ id: p.draftId, track: p.track, kind: p.visual.kind, source: p.visual.source, allowPython: p.allowPython, sandbox: cfg.pythonSandbox });
      return r.ok ? { draftId: p.draftId, ok: true, svg: r.svg, warnings: r.warnings } : { draftId: p.draftId, ok: false, error: r.error, warnings: [] };
    },
  };
  if (o.corpus) ctx.corpus = { vault: o.corpus.vault, stepDeps: corpusStepDeps(o.corpus.vault, o.corpus.flows, store, log) };
  return ctx;
}

/** The control steps' access to the vault. */
export function corpusStepDeps(vault: string, flows: BullFlows, store: RunStore, log: Logger): StepDeps {
  let nearDup: { index: NearDupIndex; files: Map<string, { size: number; mtimeMs: number; id: string | null }> } | null = null;
  let inflight: Promise<void> | null = null;
  return {
    vault,
    store,
    flows,
    records: diskRecords(vault, store),
    files: diskVaultFiles(vault),
    analyze: async ({ strategy, total, visual }) => {
      const { report, records } = await analyzeVault(vault, { strategy, total, visual, publishedOnly: false, includeAreas: [] });
      return { report, markdown: renderReportMarkdown(report, records) };
    },
    scanMaxIds: async () => {
      const ids = await scanMaxIds(vault);
      return Object.fromEntries(TRACKS.map((t) => [t, ids[t] ?? 0])) as Record<Track, number>;
    },
    writeDraft: async (doc) => {
      const r = await writeQuestion(vault, doc);
      return { relPath: r.relPath, fileHash: r.fileHash };
    },
    vaultNearest: (doc) => {
      // The vault as it is at this dispatch (earlier drafts included; a draft is never compared
      // with itself).
      if (!nearDup) throw new Error('near-duplicate index not loaded');
      return nearDup.index.nearest(doc, { excludeId: String(doc.id) });
    },
    prefetchNearDup: () => {
      // Started by the plan step, so the index is built while generation waits on the provider.
      inflight ??= refreshNearDup().finally(() => (inflight = null));
      inflight.catch((e: Error) => log.warn({ err: e.message }, 'near-duplicate prefetch failed'));
    },
    loadNearDup: async () => {
      if (inflight) await inflight.catch(() => {});
      await refreshNearDup();
    },
    leftoverDrafts: async (exceptRunId) => await findLeftoverDrafts(store, vault, { exceptRunId, judgePending: (runId, iter, chunk) => flows.judgePending(runId, iter, chunk) }),
    readDraft: async (relPath) => {
      try {
        return asQuestionDoc((await loadQuestionFile(vault, relPath)).doc);
      } catch {
        return null;
      }
    },
    now: () => new Date(),
    log: (msg, extra) => log.info(extra ?? {}, msg),
  };

  /**
   * The near-duplicate index, kept for the host's life and brought up to date from the files that
   * changed (size, mtime) since the last refresh: a dispatch does not re-read the whole vault.
   */
  async function refreshNearDup(): Promise<void> {
    nearDup ??= { index: new NearDupIndex(), files: new Map() };
    const seen = new Set<string>();
    for (const rel of await listQuestionFiles(vault)) {
      seen.add(rel);
      let st;
      try {
        st = statSync(safeVaultPath(vault, rel));
      } catch {
        continue;
      }
      const known = nearDup.files.get(rel);
      if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) continue;
      const f = await loadQuestionFile(vault, rel);
      if (known?.id) nearDup.index.remove(known.id);
      const id = f.doc && typeof f.doc.id === 'string' ? f.doc.id : null;
      if (id) nearDup.index.add(id, f.doc!);
      nearDup.files.set(rel, { size: st.size, mtimeMs: st.mtimeMs, id });
    }
    for (const [rel, known] of nearDup.files) {
      if (seen.has(rel)) continue;
      if (known.id) nearDup.index.remove(known.id);
      nearDup.files.delete(rel);
    }
  }
}

