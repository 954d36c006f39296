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
import type { CompletionRequest } from '../../src/llm/types.js';

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

export function memoryPorts(runId: string, cfg: RunConfig, plan: PlanCell[], offline: Partial<OfflineProviderOptions> = {}): MemoryPorts {
  const store = new MemoryRunStore();
  store.open(runId, { maxCalls: cfg.maxCalls, startedAt: NOW.toISOString() });
  const files = new MemoryVaultFiles();
  const records = new MemoryRecords(store, VAULT);
  const flows = new MemoryFlows();
  const calls: CompletionRequest[] = [];
  const base = createOfflineProvider({ seed: cfg.seed, defectRate: cfg.offlineDefectRate, ...(cfg.offlineDefectKinds ? { defectKinds: cfg.offlineDefectKinds } : {}), ...offline });
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
