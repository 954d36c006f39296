/**
 * The core's ports in memory (src/core/memory.ts) wired for one run, with the offline provider
 * behind the run's budget and the real prompts, parsers and checks (src/core/codecs.ts): what the
 * corpus host and the workers give the core, with no Redis and no disk.
 */
import type { CoverageReport } from '../../src/analysis/types.js';
import { sha256 } from '../../src/corpus/loader.js';
import { Applicability, LEVELS, TOPIC_AREA, TRACKS, ZONES, type Track } from '../../src/corpus/taxonomy.js';
import { questionRelPath, serializeQuestion } from '../../src/corpus/writer.js';
import { budgetedProvider } from '../../src/core/budgeted-provider.js';
import { generateCodec, judgeCodec, reviseCodec } from '../../src/core/codecs.js';
import type { StepDeps } from '../../src/core/control.js';
import type { GenerateDeps } from '../../src/core/generate-batch.js';
import type { JudgeDeps } from '../../src/core/judge-chunk.js';
import { MemoryFlows, MemoryRecords, MemoryRunStore, MemoryVaultFiles } from '../../src/core/memory.js';
import type { ReviseDeps } from '../../src/core/revise-batch.js';
import type { PlanCell } from '../../src/domain/plan-cell.js';
import type { RunConfig } from '../../src/domain/run-config.js';
import { createOfflineProvider, type OfflineProviderOptions } from '../../src/llm/offline/index.js';
import type { CompletionRequest, LlmProvider } from '../../src/llm/types.js';
import { checkpointStep } from '../../src/core/checkpoint.js';
import { dispatchStep } from '../../src/core/dispatch.js';
import { generateBatch } from '../../src/core/generate-batch.js';
import { judgeChunk } from '../../src/core/judge-chunk.js';
import { planStep } from '../../src/core/plan.js';
import type { RunView } from '../../src/core/ports.js';
import { applyChunk } from '../../src/core/prune.js';
import { reviseBatch } from '../../src/core/revise-batch.js';
import { redispatchStep } from '../../src/core/revision.js';
import type { RevisePayload } from '../../src/queues/revise.js';

export const VAULT = '/vault';
/** A fixed clock: records and drafts carry the same times on every run of a test. */
export const NOW = new Date('2026-01-02T03:04:05.000Z');

export function runConfig(over: Partial<RunConfig> = {}): RunConfig {
  return {
    maxIters: 1,
    maxCalls: 20,
    genBatchSize: 3,
    genCallsPerIter: 2,
    judgeChunkSize: 3,
    gapThreshold: 0.01,
    maxDropRate: 0.9,
    visualEachIter: false,
    strategy: 'balanced',
    dryRun: false,
    seed: 7,
    allowPythonVisuals: false,
    provider: 'offline',
    temperature: 0,
    judgeTemperature: 0,
    callTimeoutMs: 10_000,
    cacheTtlSeconds: 0,
    requestsPerMinute: 0,
    tokensPerMinute: 0,
    offlineLatencyMs: 0,
    offlineDefectRate: 0,
    ...over,
  };
}

/** `n` plan cells of distinct tracks, zones and levels, their topics applicable, highest priority first. */
export function planCells(n: number): PlanCell[] {
  const app = Applicability.builtin();
  return Array.from({ length: n }, (_, i) => {
    const track = TRACKS[i % TRACKS.length]!;
    const topic = app.topicsFor(track)[i]!;
    return { track, topic, zone: ZONES[i % ZONES.length]!, level: LEVELS[i % LEVELS.length]!, with_visual: false, priority: 10 - i, current_count: 0, competency_area: TOPIC_AREA.get(topic)! };
  });
}

export interface MemoryPorts {
  store: MemoryRunStore;
  files: MemoryVaultFiles;
  records: MemoryRecords;
  flows: MemoryFlows;
  deps: StepDeps;
  /** Every request that reached the offline provider. */
  calls: CompletionRequest[];
  generateDeps: GenerateDeps & ReturnType<typeof generateCodec>;
  judgeDeps: JudgeDeps;
  reviseDeps: ReviseDeps;
}

/**
 * @param wrap puts a fake in front of the offline provider, behind the budget (so what it answers
 *   or throws is counted as a real provider's would be).
 */
export function memoryPorts(runId: string, cfg: RunConfig, plan: PlanCell[], offline: Partial<OfflineProviderOptions> = {}, wrap: (p: LlmProvider) => LlmProvider = (p) => p): MemoryPorts {
  const store = new MemoryRunStore();
  store.open(runId, { maxCalls: cfg.maxCalls, startedAt: NOW.toISOString() });
  const files = new MemoryVaultFiles();
  const records = new MemoryRecords(store, VAULT);
  const flows = new MemoryFlows();
  const calls: CompletionRequest[] = [];
  const base = wrapOffline(wrap, { seed: cfg.seed, defectRate: cfg.offlineDefectRate, ...(cfg.offlineDefectKinds ? { defectKinds: cfg.offlineDefectKinds } : {}), ...offline });
  const provider = async (rid: string, iter: number) => ({
    provider: budgetedProvider(base, { store, runId: rid, iter, costOf: () => 0, onCall: (req) => calls.push(req) }),
    temperature: 0,
    timeoutMs: cfg.callTimeoutMs,
  });
  const log = { info: () => {} };
  const deps: StepDeps = {
    vault: VAULT,
    store,
    flows,
    records,
    files,
    analyze: async () => ({ report: { recommended_plan: plan } as unknown as CoverageReport, markdown: '# report\n' }),
    scanMaxIds: async () => Object.fromEntries(TRACKS.map((t) => [t, 0])) as Record<Track, number>,
    writeDraft: async (doc) => {
      const relPath = questionRelPath(doc);
      const text = serializeQuestion(doc);
      await files.write(relPath, text);
      return { relPath, fileHash: sha256(Buffer.from(text, 'utf8')) };
    },
    vaultNearest: () => null,
    loadNearDup: async () => {},
    now: () => NOW,
    log: () => {},
  };
  return {
    store,
    files,
    records,
    flows,
    deps,
    calls,
    generateDeps: { provider, ...generateCodec(log), now: () => NOW },
    judgeDeps: { provider, ...judgeCodec(Applicability.builtin()) },
    reviseDeps: { provider, ...reviseCodec(log), now: () => NOW },
  };
}

const wrapOffline = (wrap: (p: LlmProvider) => LlmProvider, o: Parameters<typeof createOfflineProvider>[0]): LlmProvider => wrap(createOfflineProvider(o));

export interface InMemoryRunHooks {
  /** Before the revise jobs of a round run (after the checkpoint planned them). */
  beforeRevise?: (items: RevisePayload[]) => Promise<void> | void;
  /** After an iteration's generate jobs ran, before its dispatch. */
  afterGenerate?: (iter: number) => Promise<void> | void;
}

/**
 * A whole run through the core, as the workers and the control queue would run it one job at a
 * time: the plan step, then every flow it adds in order (generate batches → dispatch; judge chunks
 * → apply → checkpoint; revise batches → redispatch; the next plan), until no flow is left. A judge
 * chunk that throws fails for good (its apply records the drafts unjudged), as after its last attempt.
 */
export async function runInMemory(p: MemoryPorts, runId: string, cfg: RunConfig, hooks: InMemoryRunHooks = {}): Promise<RunView> {
  const { deps } = p;
  await planStep(runId, 0, cfg, deps);
  for (let next = 0; next < p.flows.added.length; next++) {
    const f = p.flows.added[next]!;
    if (f.kind === 'plan') await planStep(runId, f.iter, cfg, deps);
    else if (f.kind === 'generate') {
      const generated = [];
      const failures = [];
      for (let i = 0; i < f.cells.length; i += cfg.genBatchSize) {
        const batch = f.cells.slice(i, i + cfg.genBatchSize);
        const outcomes = await generateBatch(batch, p.generateDeps.toPromptCells(batch), p.generateDeps);
        for (const [k, o] of outcomes.entries()) {
          if (o.ok) generated.push(o.result);
          else failures.push({ cellIndex: batch[k]!.cellIndex, error: `${o.error.name}: ${o.error.message}` });
        }
      }
      await hooks.afterGenerate?.(f.iter);
      await dispatchStep(runId, f.iter, cfg, { results: generated, failures }, deps);
    } else if (f.kind === 'judge') {
      for (const c of f.chunks) {
        const payload = { runId, iter: f.iter, chunk: c.chunk, round: f.round, drafts: c.drafts };
        const judged = await judgeChunk(payload, new Map(), p.judgeDeps).catch((e: Error) => e);
        const drafts = c.drafts.map((d) => ({ id: d.id, path: d.path, fileHash: d.fileHash, track: String(d.doc.track) }));
        const applyDeps = { store: p.store, files: p.files, now: () => NOW };
        if (judged instanceof Error) await applyChunk({ ...payload, drafts }, null, judged.message, applyDeps);
        else await applyChunk({ ...payload, drafts }, judged.verdicts, null, applyDeps, judged.svgs);
      }
      await checkpointStep(runId, f.iter, f.round, cfg, deps);
    } else {
      await hooks.beforeRevise?.(f.items);
      const revised = [];
      const failures = [];
      for (let i = 0; i < f.items.length; i += cfg.genBatchSize) {
        const batch = f.items.slice(i, i + cfg.genBatchSize);
        for (const [k, o] of (await reviseBatch(batch, p.reviseDeps)).entries()) {
          if (o.ok) revised.push(o.result);
          else failures.push({ id: batch[k]!.draft.id, error: o.error.message });
        }
      }
      await redispatchStep(runId, f.iter, f.round, cfg, { results: revised, failures }, deps);
    }
  }
  return (await p.store.get(runId))!;
}
