/**
 * What the pages, the JSON API and /metrics show, read from Redis (live numbers) and from the run's
 * records on disk (the coverage report). Reads only: the dashboard never writes run state itself,
 * it calls the same RunStore methods and retry function the CLI uses.
 */
import { BatchStore, summarizeBatches, type BatchSummary } from '../src/scheduler/batches.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LEVELS, TRACKS, ZONES } from '../src/corpus/taxonomy.js';
import type { Queues } from '../src/queues/index.js';
import { pendingLateWork } from '../src/services/late-work.js';
import { passCost, readJson, runDir, runPrejudgeCallsSaved, type PassCost } from '../src/scheduler/records.js';
import { iterFolders } from '../src/scheduler/run-folders.js';
import { TERMINAL_STATUSES, type RunState, type RunStore } from '../src/state/run-state.js';
import type { CoverageReport, TrackZoneLevelGap } from '../src/analysis/types.js';

export type RunSummary = Omit<RunState, 'config'> & { durationMs: number | null };

export interface IterationRow {
  iter: number;
  topCell: [string, string, string] | null;
  topPriority: number | null;
  planSize: number;
  generated: number;
  verdicts: { PASS: number; NEEDS_FIX: number; DROP: number };
  unjudged: number;
  /** Provider calls of this iteration, and of the run up to and including it. */
  callsUsed: number;
  callsUsedTotal: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  startedAt: string | null;
  finishedAt: string | null;
  closed: boolean;
}

export interface FailedChunk {
  jobId: string;
  iter: number;
  chunk: number;
  drafts: number;
  attemptsMade: number;
  /** The first line of the failure only: never a stack trace. */
  failedReason: string;
}

export interface RunDetail {
  run: RunSummary;
  iterations: IterationRow[];
  verdicts: { PASS: number; NEEDS_FIX: number; DROP: number };
  unjudged: number;
  failedJudgeChunks: FailedChunk[];
  /** Retried judge chunks and late applies of this ended run not applied to the vault yet. */
  pendingLate: { judge: string[]; apply: string[] };
  /** Batch mode: the run's provider batches not ended yet (age, items) and how many ended. */
  batches: { inFlight: BatchSummary[]; ended: number };
  /** Calls and cost per PASS draft (what an accepted question cost), and the pre-judge's savings. */
  perPass: PassCost;
  prejudgeCallsSaved: number;
}

export interface CoverageGrid {
  /** The iteration whose report.json this is (null: no report yet). */
  iter: number | null;
  zones: readonly string[];
  levels: readonly string[];
  maxPriority: number;
  tracks: { track: string; cells: { zone: string; level: string; priority: number; actual: number; expected: number }[] }[];
}

export const isTerminal = (s: RunState['status']): boolean => TERMINAL_STATUSES.includes(s);

export function summarize(run: RunState, now = Date.now()): RunSummary {
  const { config: _config, ...rest } = run;
  const start = Date.parse(run.startedAt);
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return { ...rest, durationMs: Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null };
}

export async function listRuns(store: RunStore, limit = 50): Promise<RunSummary[]> {
  const ids = await store.list(limit);
  const runs = await Promise.all(ids.map((id) => store.get(id)));
  return runs.filter((r): r is RunState => r !== null).map((r) => summarize(r));
}

export async function failedJudgeChunks(queues: Queues, runId: string): Promise<FailedChunk[]> {
  const jobs = await queues.judge.getFailed(0, -1);
  return jobs
    .filter((j) => j && j.data.runId === runId)
    .map((j) => ({
      jobId: String(j.id),
      iter: j.data.iter,
      chunk: j.data.chunk,
      drafts: j.data.drafts.length,
      attemptsMade: j.attemptsMade,
      failedReason: (j.failedReason ?? '').split('\n')[0]!.slice(0, 300),
    }))
    .sort((a, b) => a.iter - b.iter || a.chunk - b.chunk);
}

export async function runDetail(store: RunStore, queues: Queues, runId: string): Promise<RunDetail | null> {
  const run = await store.get(runId);
  if (!run) return null;
  const [verdictMap, unjudgedMap, draftMap, failed] = await Promise.all([store.verdicts(runId), store.unjudged(runId), store.drafts(runId), failedJudgeChunks(queues, runId)]);
  const pending = (await pendingLateWork(queues, store, { runIds: [runId] }))[0];
  const verdicts = [...verdictMap.values()];
  const iterations: IterationRow[] = [];
  let total = 0;
  for (let i = 0; i <= run.iter; i++) {
    const h = await store.iterGet(runId, i);
    if (Object.keys(h).length === 0) continue;
    const mine = verdicts.filter((v) => v.iter === i);
    const count = (x: string) => mine.filter((v) => v.verdict === x).length;
    const calls = Number(h.callsUsed ?? 0);
    total += calls;
    iterations.push({
      iter: i,
      topCell: h.topCell ? (JSON.parse(h.topCell) as [string, string, string]) : null,
      topPriority: h.topPriority !== undefined ? Number(h.topPriority) : null,
      planSize: Number(h.planSize ?? 0),
      generated: [...draftMap.values()].filter((d) => d.iter === i).length,
      verdicts: { PASS: count('PASS'), NEEDS_FIX: count('NEEDS_FIX'), DROP: count('DROP') },
      unjudged: [...unjudgedMap.values()].filter((u) => u.iter === i).length,
      callsUsed: calls,
      callsUsedTotal: total,
      tokensIn: Number(h.tokensIn ?? 0),
      tokensOut: Number(h.tokensOut ?? 0),
      costUsd: Number(h.costUsd ?? 0),
      startedAt: h.startedAt ?? null,
      finishedAt: h.finishedAt ?? null,
      closed: h.closed === '1',
    });
  }
  const count = (x: string) => verdicts.filter((v) => v.verdict === x).length;
  return {
    run: summarize(run),
    iterations,
    verdicts: { PASS: count('PASS'), NEEDS_FIX: count('NEEDS_FIX'), DROP: count('DROP') },
    unjudged: unjudgedMap.size,
    failedJudgeChunks: failed,
    pendingLate: { judge: pending?.judge ?? [], apply: pending?.apply ?? [] },
    batches: summarizeBatches(await new BatchStore(store.redis, store.keys).list(runId), Date.now()),
    perPass: passCost(count('PASS'), run.callsUsed, run.costUsd),
    prejudgeCallsSaved: run.vault ? runPrejudgeCallsSaved(run.vault, runId) : 0,
  };
}

/** The zone × level gaps of each track from the run's latest iter_NN/report.json. */
export function coverageGrid(vault: string, runId: string): CoverageGrid {
  const empty: CoverageGrid = { iter: null, zones: ZONES, levels: LEVELS, maxPriority: 0, tracks: [] };
  if (!vault) return empty;
  const dir = runDir(vault, runId);
  const latest = iterFolders(dir)
    .filter((it) => existsSync(join(dir, it.name, 'report.json')))
    .at(-1);
  if (!latest) return empty;
  const report = readJson<CoverageReport>(join(dir, latest.name, 'report.json'));
  const gaps: TrackZoneLevelGap[] = report?.track_zone_level_gaps ?? [];
  const byKey = new Map(gaps.map((g) => [`${g.track}|${g.zone}|${g.level}`, g]));
  const tracks = [...TRACKS, ...new Set(gaps.map((g) => g.track).filter((t) => !(TRACKS as readonly string[]).includes(t)))].filter((t) => gaps.some((g) => g.track === t));
  return {
    iter: latest.n,
    zones: ZONES,
    levels: LEVELS,
    maxPriority: Math.max(0, ...gaps.map((g) => g.priority)),
    tracks: tracks.map((track) => ({
      track,
      cells: ZONES.flatMap((zone) =>
        LEVELS.map((level) => {
          const g = byKey.get(`${track}|${zone}|${level}`);
          return { zone, level, priority: g?.priority ?? 0, actual: g?.actual ?? 0, expected: g?.expected ?? 0 };
        }),
      ),
    })),
  };
}

/** A short fingerprint of what the run page shows: the live view reloads when it changes. */
export function fingerprint(d: RunDetail): string {
  const r = d.run;
  return [r.status, r.phase, r.iter, r.callsUsed, r.callsReserved, r.tokensIn, r.tokensOut, r.stopReason ?? '', d.verdicts.PASS, d.verdicts.NEEDS_FIX, d.verdicts.DROP, d.unjudged, d.failedJudgeChunks.map((f) => f.jobId).join(','), d.pendingLate.judge.length, d.pendingLate.apply.length].join('|');
}
