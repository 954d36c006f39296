/**
 * In-memory implementations of the core's ports, for unit tests of the core and for reasoning
 * about a rule without Redis (the run store, its records, the vault's files, the flows). The budget follows the rules of the Lua scripts in
 * src/state/budget.ts: `maxCalls` bounds used + reserved + the judge pools; a judge call draws
 * on its iteration's pool first.
 */
import { BudgetExhaustedError } from '../errors.js';
import type { TokenUsage } from '../llm/types.js';
import type { Track } from '../corpus/taxonomy.js';
import type { DraftRecord } from '../domain/draft.js';
import type { GenerateCell } from '../domain/plan-cell.js';
import type { IterRecord, JudgeSummary, LoopSummary, RunJson } from '../domain/records.js';
import type { AppliedVerdict, UnjudgedRecord } from '../domain/verdict.js';
import type { RevisePayload } from '../queues/revise.js';
import type { BudgetCounters, BudgetPort, FlowsPort, JudgeChunkPlan, RecordsPort, RunStorePort, RunView, VaultFilesPort } from './ports.js';
import { buildIterationRecords, buildLoopSummary } from './records.js';

interface MemoryRun extends Required<BudgetCounters> {
  /** Per iteration: its judge pool and what it used. */
  iters: Map<number, { judgePool: number; callsUsed: number }>;
}

export class MemoryBudget implements BudgetPort {
  readonly runs = new Map<string, MemoryRun>();

  open(runId: string, maxCalls: number): MemoryRun {
    const run: MemoryRun = { maxCalls, callsUsed: 0, callsReserved: 0, judgePool: 0, tokensIn: 0, tokensOut: 0, tokensCached: 0, costUsd: 0, iters: new Map() };
    this.runs.set(runId, run);
    return run;
  }

  run(runId: string): MemoryRun {
    const r = this.runs.get(runId);
    if (!r) throw new Error(`run ${runId} not opened`);
    return r;
  }

  #iter(runId: string, iter: number) {
    const run = this.run(runId);
    let it = run.iters.get(iter);
    if (!it) run.iters.set(iter, (it = { judgePool: 0, callsUsed: 0 }));
    return it;
  }

  free(runId: string): number {
    const r = this.run(runId);
    return r.maxCalls - r.callsUsed - r.callsReserved - r.judgePool;
  }

  /** Sets aside up to `calls` judge calls for an iteration (what is free at most); returns how many. */
  reserveJudge(runId: string, iter: number, calls: number): number {
    const n = Math.max(0, Math.min(calls, this.free(runId)));
    this.#iter(runId, iter).judgePool += n;
    this.run(runId).judgePool += n;
    return n;
  }

  async reserveCall(runId: string): Promise<void> {
    if (this.free(runId) < 1) this.#exhausted(runId);
    this.run(runId).callsReserved++;
  }

  async reserveJudgeCall(runId: string, iter: number): Promise<void> {
    const run = this.run(runId);
    const it = this.#iter(runId, iter);
    if (it.judgePool > 0) {
      it.judgePool--;
      run.judgePool--;
      run.callsReserved++;
      return;
    }
    await this.reserveCall(runId);
  }

  async settleCall(runId: string, iter: number, made: boolean, usage: TokenUsage, costUsd: number): Promise<void> {
    const run = this.run(runId);
    run.callsReserved--;
    if (made) {
      run.callsUsed++;
      this.#iter(runId, iter).callsUsed++;
    }
    run.tokensIn += Math.round(usage.inputTokens);
    run.tokensOut += Math.round(usage.outputTokens);
    run.costUsd += costUsd;
  }

  async addCachedTokens(runId: string, _iter: number, tokens: number): Promise<void> {
    if (tokens > 0) this.run(runId).tokensCached += tokens;
  }

  #exhausted(runId: string): never {
    const r = this.run(runId);
    throw new BudgetExhaustedError(r.callsUsed + r.callsReserved + r.judgePool, r.maxCalls);
  }
}

/**
 * The run's state in memory, with the rules of src/scheduler/state.ts: hashes of strings for the
 * run and each iteration, the judge pool per iteration (granted once per tag), ids minted once per
 * cell. `open` creates a run the way RunStore.create does.
 */
export class MemoryRunStore implements RunStorePort {
  readonly runs = new Map<string, Record<string, string>>();
  readonly iters = new Map<string, Record<string, string>>();
  readonly counters = new Map<string, number>();
  readonly cellIds = new Map<string, string>();
  readonly draftsOf = new Map<string, Map<string, DraftRecord>>();
  readonly verdictsByRun = new Map<string, Map<string, AppliedVerdict>>();
  readonly unjudgedOf = new Map<string, Map<string, UnjudgedRecord>>();

  open(runId: string, init: { maxCalls: number; startedAt: string; judge?: { provider: string; model: string } }): void {
    const judge = init.judge ?? { provider: 'offline', model: 'offline-v1' };
    this.runs.set(runId, { status: 'running', iter: '0', phase: 'starting', maxCalls: String(init.maxCalls), callsUsed: '0', callsReserved: '0', judgePool: '0', tokensIn: '0', tokensOut: '0', costUsd: '0', startedAt: init.startedAt, judge: JSON.stringify(judge) });
  }

  #run(runId: string): Record<string, string> {
    const r = this.runs.get(runId);
    if (!r) throw new Error(`run ${runId} not opened`);
    return r;
  }

  #iter(runId: string, iter: number): Record<string, string> {
    const key = `${runId}:${iter}`;
    let h = this.iters.get(key);
    if (!h) this.iters.set(key, (h = {}));
    return h;
  }

  #of<V>(maps: Map<string, Map<string, V>>, runId: string): Map<string, V> {
    let m = maps.get(runId);
    if (!m) maps.set(runId, (m = new Map()));
    return m;
  }

  async get(runId: string): Promise<RunView | null> {
    const h = this.runs.get(runId);
    if (!h) return null;
    const n = (k: string) => Number(h[k] ?? 0);
    return {
      status: h.status as RunView['status'],
      maxCalls: n('maxCalls'),
      callsUsed: n('callsUsed'),
      callsReserved: n('callsReserved'),
      judgePool: n('judgePool'),
      tokensIn: n('tokensIn'),
      tokensOut: n('tokensOut'),
      tokensCached: n('tokensCached'),
      costUsd: n('costUsd'),
      stopReason: h.stopReason || null,
      stopRequested: h.stopRequested === '1',
      startedAt: h.startedAt ?? '',
      finishedAt: h.finishedAt || null,
      judge: JSON.parse(h.judge ?? '{"provider":"?","model":"?"}') as RunView['judge'],
    };
  }

  /** Free calls: neither made, nor in flight, nor in a judge pool. */
  #free(runId: string): number {
    const h = this.#run(runId);
    return Number(h.maxCalls) - Number(h.callsUsed) - Number(h.callsReserved) - Number(h.judgePool);
  }

  #add(h: Record<string, string>, field: string, d: number): void {
    h[field] = String(Number(h[field] ?? 0) + d);
  }

  async set(runId: string, fields: Record<string, string | number>): Promise<void> {
    const h = this.#run(runId);
    for (const [k, v] of Object.entries(fields)) h[k] = String(v);
  }

  async setStatus(runId: string, status: RunView['status']): Promise<void> {
    this.#run(runId).status = status;
  }

  async reserveCall(runId: string): Promise<void> {
    if (this.#free(runId) < 1) await this.#exhausted(runId);
    this.#add(this.#run(runId), 'callsReserved', 1);
  }

  async reserveJudgeCall(runId: string, iter: number): Promise<void> {
    const it = this.#iter(runId, iter);
    if (Number(it.judgePool ?? 0) > 0) {
      this.#add(it, 'judgePool', -1);
      this.#add(this.#run(runId), 'judgePool', -1);
      this.#add(this.#run(runId), 'callsReserved', 1);
      return;
    }
    await this.reserveCall(runId);
  }

  async #exhausted(runId: string): Promise<never> {
    const s = (await this.get(runId))!;
    throw new BudgetExhaustedError(s.callsUsed + s.callsReserved + s.judgePool, s.maxCalls);
  }

  async settleCall(runId: string, iter: number, made: boolean, usage: TokenUsage, costUsd: number): Promise<void> {
    const run = this.#run(runId);
    const it = this.#iter(runId, iter);
    this.#add(run, 'callsReserved', -1);
    if (made) {
      this.#add(run, 'callsUsed', 1);
      this.#add(it, 'callsUsed', 1);
    }
    for (const h of [run, it]) {
      this.#add(h, 'tokensIn', Math.round(usage.inputTokens));
      this.#add(h, 'tokensOut', Math.round(usage.outputTokens));
      this.#add(h, 'costUsd', costUsd);
    }
  }

  async addCachedTokens(runId: string, iter: number, tokens: number): Promise<void> {
    if (tokens <= 0) return;
    this.#add(this.#run(runId), 'tokensCached', tokens);
    this.#add(this.#iter(runId, iter), 'tokensCached', tokens);
  }

  async reserveJudge(runId: string, iter: number, tag: string, calls: number): Promise<number> {
    const it = this.#iter(runId, iter);
    const prev = it[`judgeTag:${tag}`];
    if (prev !== undefined) return Number(prev);
    const n = Math.max(0, Math.min(Math.floor(calls), this.#free(runId)));
    this.#add(it, 'judgePool', n);
    this.#add(this.#run(runId), 'judgePool', n);
    it[`judgeTag:${tag}`] = String(n);
    return n;
  }

  async releaseJudge(runId: string, iter: number, keep = 0): Promise<number> {
    const it = this.#iter(runId, iter);
    const mine = Number(it.judgePool ?? 0);
    if (mine <= keep) return 0;
    const d = mine - keep;
    this.#add(it, 'judgePool', -d);
    this.#add(this.#run(runId), 'judgePool', -d);
    return d;
  }

  async raiseIdCounter(vault: string, track: Track, atLeast: number): Promise<number> {
    const key = `${vault}:${track}`;
    const n = Math.max(this.counters.get(key) ?? 0, atLeast);
    this.counters.set(key, n);
    return n;
  }

  async mintId(runId: string, vault: string, track: Track, cellKey: string): Promise<string> {
    const key = `${runId}:${cellKey}`;
    const existing = this.cellIds.get(key);
    if (existing) return existing;
    const n = (this.counters.get(`${vault}:${track}`) ?? 0) + 1;
    this.counters.set(`${vault}:${track}`, n);
    const id = `${track}-${String(n).padStart(4, '0')}`;
    this.cellIds.set(key, id);
    return id;
  }

  async iterGet(runId: string, iter: number): Promise<Record<string, string>> {
    return { ...this.#iter(runId, iter) };
  }

  async iterSet(runId: string, iter: number, fields: Record<string, string | number>): Promise<void> {
    const it = this.#iter(runId, iter);
    for (const [k, v] of Object.entries(fields)) it[k] = String(v);
  }

  async iterSetOnce(runId: string, iter: number, field: string, value: string): Promise<string> {
    const it = this.#iter(runId, iter);
    it[field] ??= value;
    return it[field];
  }

  // Stored as JSON and read back, as in Redis: a caller never shares an object with the store.
  async putDraft(runId: string, id: string, rec: DraftRecord): Promise<void> {
    this.#of(this.draftsOf, runId).set(id, structuredClone(rec));
  }

  async putDrafts(runId: string, recs: DraftRecord[]): Promise<void> {
    for (const r of recs) await this.putDraft(runId, r.id, r);
  }

  async drafts(runId: string): Promise<Map<string, DraftRecord>> {
    return structuredClone(this.#of(this.draftsOf, runId));
  }

  async putVerdict(runId: string, id: string, rec: AppliedVerdict): Promise<void> {
    this.#of(this.verdictsByRun, runId).set(id, structuredClone(rec));
  }

  async verdicts(runId: string): Promise<Map<string, AppliedVerdict>> {
    return structuredClone(this.#of(this.verdictsByRun, runId));
  }

  async verdictsOf(runId: string, ids: string[]): Promise<Map<string, AppliedVerdict>> {
    const all = this.#of(this.verdictsByRun, runId);
    return new Map(ids.filter((id) => all.has(id)).map((id) => [id, structuredClone(all.get(id)!)]));
  }

  async putUnjudged(runId: string, id: string, rec: UnjudgedRecord): Promise<void> {
    this.#of(this.unjudgedOf, runId).set(id, structuredClone(rec));
  }

  async clearUnjudged(runId: string, id: string): Promise<void> {
    this.#of(this.unjudgedOf, runId).delete(id);
  }

  async unjudged(runId: string): Promise<Map<string, UnjudgedRecord>> {
    return structuredClone(this.#of(this.unjudgedOf, runId));
  }
}

/** The vault's files in memory, by vault-relative path. */
export class MemoryVaultFiles implements VaultFilesPort {
  readonly files = new Map<string, Buffer>();

  async read(relPath: string): Promise<Buffer | null> {
    return this.files.get(relPath) ?? null;
  }

  async write(relPath: string, text: string): Promise<void> {
    this.files.set(relPath, Buffer.from(text, 'utf8'));
  }

  exists(relPath: string): boolean {
    return this.files.has(relPath);
  }

  async remove(relPath: string): Promise<void> {
    this.files.delete(relPath);
  }
}

/**
 * The run's record files in memory (path under the run's folder → JSON value or text), built by
 * the same builders as the files on disk (src/core/records.ts).
 */
export class MemoryRecords implements RecordsPort {
  readonly files = new Map<string, unknown>();

  constructor(
    private readonly store: RunStorePort,
    private readonly vault: string,
  ) {}

  static iterName = (iter: number): string => `iter_${String(iter).padStart(2, '0')}`;
  #at = (runId: string, iter: number, name: string) => `${runId}/${MemoryRecords.iterName(iter)}/${name}`;

  async writeIterText(runId: string, iter: number, name: string, text: string): Promise<void> {
    this.files.set(this.#at(runId, iter, name), text);
  }

  async writeIterJson(runId: string, iter: number, name: string, value: unknown): Promise<void> {
    this.files.set(this.#at(runId, iter, name), structuredClone(value));
  }

  readIterRecord(runId: string, iter: number): IterRecord | null {
    return (this.files.get(this.#at(runId, iter, 'iter_record.json')) as IterRecord | undefined) ?? null;
  }

  judgeSummaries(runId: string): JudgeSummary[] {
    const out: JudgeSummary[] = [];
    for (let i = 0; [...this.files.keys()].some((k) => k.startsWith(`${runId}/${MemoryRecords.iterName(i)}/`)); i++) {
      const js = this.files.get(this.#at(runId, i, 'judge_summary.json')) as JudgeSummary | undefined;
      if (js) out.push(js);
    }
    return out;
  }

  async writeIterationRecords(runId: string, iter: number): Promise<IterRecord> {
    const { summary, record, writeSummary, writeRecord } = await buildIterationRecords(this.store, runId, iter);
    if (writeSummary) this.files.set(this.#at(runId, iter, 'judge_summary.json'), summary);
    if (writeRecord) this.files.set(this.#at(runId, iter, 'iter_record.json'), record);
    return record;
  }

  async writeLoopSummary(runId: string, status?: string): Promise<LoopSummary> {
    const history: IterRecord[] = [];
    for (let i = 0; [...this.files.keys()].some((k) => k.startsWith(`${runId}/${MemoryRecords.iterName(i)}/`)); i++) {
      const rec = this.readIterRecord(runId, i);
      if (rec) history.push(rec);
    }
    const summary = await buildLoopSummary(this.store, this.vault, runId, history, status);
    this.files.set(`${runId}/loop_summary.json`, summary);
    return summary;
  }

  readRunJson(runId: string): RunJson | null {
    return (this.files.get(`${runId}/run.json`) as RunJson | undefined) ?? null;
  }

  async writeRunJson(runId: string, value: RunJson): Promise<void> {
    this.files.set(`${runId}/run.json`, structuredClone(value));
  }
}

/** The flows the control steps added, in order. */
export class MemoryFlows implements FlowsPort {
  readonly added: ({ kind: 'generate'; runId: string; iter: number; cells: GenerateCell[] } | { kind: 'judge'; runId: string; iter: number; chunks: JudgeChunkPlan[]; round: number } | { kind: 'revise'; runId: string; iter: number; round: number; items: RevisePayload[] } | { kind: 'plan'; runId: string; iter: number })[] = [];

  async addGenerate(runId: string, iter: number, cells: GenerateCell[]): Promise<void> {
    this.added.push({ kind: 'generate', runId, iter, cells });
  }

  async addJudge(runId: string, iter: number, chunks: JudgeChunkPlan[], _allowPython: boolean, round = 0): Promise<void> {
    this.added.push({ kind: 'judge', runId, iter, chunks, round });
  }

  async addRevise(runId: string, iter: number, round: number, items: RevisePayload[]): Promise<void> {
    this.added.push({ kind: 'revise', runId, iter, round, items });
  }

  async addPlan(runId: string, iter: number): Promise<void> {
    this.added.push({ kind: 'plan', runId, iter });
  }
}
