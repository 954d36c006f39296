/**
 * Run state in Redis, under the configured prefix's hash tag:
 *   {p}:runs                      ZSET runId → start time (ms)
 *   {p}:run:<id>                  HASH status, iter, calls used / reserved, tokens, cost, stop reason, …
 *   {p}:run:<id>:iter:<n>         HASH plan, timings, counters of one iteration
 *   {p}:run:<id>:drafts           HASH draftId → where the draft was written (path, hash, iteration, chunk)
 *   {p}:run:<id>:verdicts         HASH draftId → the applied verdict record
 *   {p}:run:<id>:cellids          HASH "<iter>-<cell>" → minted draft id (retries reuse it)
 *   {p}:ids:<vaultKey>:<track>    counter of the highest id per track
 *   {p}:lock:<vaultKey>           the corpus host's lock on a vault (see lock.ts; keyed on the vault's identity)
 * The budget's Lua scripts are in budget.ts, the id scripts in ids.ts; RunStore runs them.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/index.js';
import type { Track } from '../corpus/taxonomy.js';
import { BudgetExhaustedError } from '../errors.js';
import { freeCalls, releaseJudgePool, reserveCall, reserveCalls, reserveJudgeCall, reserveJudgePool, settleCall } from './budget.js';
import { mintDraftId, raiseIdCounter } from './ids.js';
import type { BudgetCounters } from '../core/ports.js';
import type { DraftRecord } from '../domain/draft.js';
import type { AppliedVerdict, UnjudgedRecord } from '../domain/verdict.js';

export const RUN_STATUSES = ['running', 'paused', 'stopping', 'completed', 'stopped', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'stopped', 'failed'];

export { freeCalls } from './budget.js';

export interface RunState extends BudgetCounters {
  runId: string;
  status: RunStatus;
  iter: number;
  phase: string;
  vault: string;
  stopReason: string | null;
  stopRequested: boolean;
  /** Why the run cannot go on without the user (a refused API key), in one line naming what to set. */
  fatalError?: string;
  startedAt: string;
  finishedAt: string | null;
  /** The run's stored configuration (secrets removed). */
  config: Record<string, unknown>;
  generator: { provider: string; model: string };
  judge: { provider: string; model: string };
}

export const vaultKey = (vaultDir: string): string => createHash('sha256').update(vaultDir).digest('hex').slice(0, 16);

export class Keys {
  constructor(readonly prefix: string) {}
  get base(): string {
    return `{${this.prefix}}`;
  }
  runs = (): string => `${this.base}:runs`;
  run = (runId: string): string => `${this.base}:run:${runId}`;
  iter = (runId: string, iter: number): string => `${this.base}:run:${runId}:iter:${iter}`;
  drafts = (runId: string): string => `${this.base}:run:${runId}:drafts`;
  verdicts = (runId: string): string => `${this.base}:run:${runId}:verdicts`;
  cellIds = (runId: string): string => `${this.base}:run:${runId}:cellids`;
  unjudged = (runId: string): string => `${this.base}:run:${runId}:unjudged`;
  idCounter = (vault: string, track: Track): string => `${this.base}:ids:${vaultKey(vault)}:${track}`;
  /** `identity`: identityKey() of the vault (its real path, device and inode). */
  lock = (identity: string): string => `${this.base}:lock:${vaultKey(identity)}`;
  events = (runId: string): string => `${this.base}:run:${runId}:events`;
}

function num(v: string | undefined, d = 0): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : d;
}

export class RunStore {
  readonly keys: Keys;
  constructor(readonly redis: RedisClient, prefix: string) {
    this.keys = new Keys(prefix);
  }

  async create(init: {
    runId: string;
    vault: string;
    maxCalls: number;
    config: Record<string, unknown>;
    generator: { provider: string; model: string };
    judge: { provider: string; model: string };
  }): Promise<void> {
    const now = new Date().toISOString();
    await this.redis
      .multi()
      .hset(this.keys.run(init.runId), {
        status: 'running',
        iter: 0,
        phase: 'starting',
        vault: init.vault,
        maxCalls: init.maxCalls,
        callsUsed: 0,
        callsReserved: 0,
        judgePool: 0,
        tokensIn: 0,
        tokensOut: 0,
        costUsd: 0,
        startedAt: now,
        config: JSON.stringify(init.config),
        generator: JSON.stringify(init.generator),
        judge: JSON.stringify(init.judge),
      })
      .zadd(this.keys.runs(), Date.now(), init.runId)
      .exec();
  }

  /** Claims a run id in Redis (false when another run, of any vault, has it). */
  async claimRunId(runId: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.run(runId), 'claimedAt', new Date().toISOString())) === 1;
  }

  async exists(runId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.run(runId))) === 1;
  }

  async get(runId: string): Promise<RunState | null> {
    const h = await this.redis.hgetall(this.keys.run(runId));
    if (!h.status) return null;
    return {
      runId,
      status: h.status as RunStatus,
      iter: num(h.iter),
      phase: h.phase ?? '',
      vault: h.vault ?? '',
      maxCalls: num(h.maxCalls),
      callsUsed: num(h.callsUsed),
      callsReserved: num(h.callsReserved),
      judgePool: num(h.judgePool),
      tokensIn: num(h.tokensIn),
      tokensOut: num(h.tokensOut),
      tokensCached: num(h.tokensCached),
      costUsd: num(h.costUsd),
      stopReason: h.stopReason || null,
      stopRequested: h.stopRequested === '1',
      ...(h.fatalError ? { fatalError: h.fatalError } : {}),
      startedAt: h.startedAt ?? '',
      finishedAt: h.finishedAt || null,
      config: h.config ? (JSON.parse(h.config) as Record<string, unknown>) : {},
      generator: h.generator ? JSON.parse(h.generator) : { provider: '?', model: '?' },
      judge: h.judge ? JSON.parse(h.judge) : { provider: '?', model: '?' },
    };
  }

  /** Newest first. */
  async list(limit = 100): Promise<string[]> {
    return await this.redis.zrevrange(this.keys.runs(), 0, limit - 1);
  }

  async set(runId: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.run(runId), fields);
  }

  async setStatus(runId: string, status: RunStatus, extra: Record<string, string | number> = {}): Promise<void> {
    await this.redis.hset(this.keys.run(runId), { status, ...extra });
    await this.redis.publish(this.keys.events(runId), JSON.stringify({ status }));
  }

  async requestStop(runId: string): Promise<void> {
    await this.redis.hset(this.keys.run(runId), { stopRequested: '1' });
    const s = await this.get(runId);
    if (s && !TERMINAL_STATUSES.includes(s.status)) await this.setStatus(runId, 'stopping');
  }

  /** Records the first error no retry can fix (kept: later ones repeat it) and asks the run to stop. */
  async recordFatal(runId: string, message: string): Promise<void> {
    await this.redis.hsetnx(this.keys.run(runId), 'fatalError', message);
    await this.requestStop(runId);
  }

  async pause(runId: string): Promise<void> {
    const s = await this.get(runId);
    if (s && (s.status === 'running')) await this.setStatus(runId, 'paused');
  }

  async resume(runId: string): Promise<void> {
    const s = await this.get(runId);
    if (s && s.status === 'paused') await this.setStatus(runId, 'running');
  }

  /** Reserve one provider call outside the judge pool; throws BudgetExhaustedError when none is left. */
  async reserveCall(runId: string): Promise<void> {
    if (!(await reserveCall(this.redis, this.keys, runId))) await this.#exhausted(runId);
  }

  /** Reserve one judge call of an iteration: from its judge pool first, else from what is free. */
  async reserveJudgeCall(runId: string, iter: number): Promise<void> {
    if (!(await reserveJudgeCall(this.redis, this.keys, runId, iter))) await this.#exhausted(runId);
  }

  async #exhausted(runId: string): Promise<never> {
    const s = await this.get(runId);
    throw new BudgetExhaustedError((s?.callsUsed ?? 0) + (s?.callsReserved ?? 0) + (s?.judgePool ?? 0), s?.maxCalls ?? 0);
  }

  /**
   * Sets aside up to `calls` judge calls for an iteration (once per `tag`: a step run twice gets
   * the first answer). Returns how many were granted (fewer when less is free).
   */
  async reserveJudge(runId: string, iter: number, tag: string, calls: number): Promise<number> {
    return await reserveJudgePool(this.redis, this.keys, runId, iter, tag, calls);
  }

  /** Gives back the iteration's judge pool beyond `keep` calls (an iteration that came out smaller). */
  async releaseJudge(runId: string, iter: number, keep = 0): Promise<number> {
    return await releaseJudgePool(this.redis, this.keys, runId, iter, keep);
  }

  async settleCall(runId: string, iter: number, made: boolean, usage: { inputTokens: number; outputTokens: number }, costUsd: number): Promise<void> {
    await settleCall(this.redis, this.keys, runId, iter, made, usage, costUsd);
  }

  /**
   * Batch mode: reserves up to `n` calls in one step (as many as fit), exactly once per
   * `guardKey`/`guardField` (a crash-retry gets the stored number back); each is settled with
   * settleCall like a single reservation.
   */
  async reserveCalls(runId: string, iter: number, stage: 'generate' | 'judge', n: number, guardKey: string, guardField: string): Promise<number> {
    return await reserveCalls(this.redis, this.keys, runId, iter, stage, n, guardKey, guardField);
  }

  /** Input tokens the provider served from its prompt cache (part of tokensIn). */
  async addCachedTokens(runId: string, iter: number, tokens: number): Promise<void> {
    if (tokens <= 0) return;
    await this.redis.multi().hincrby(this.keys.run(runId), 'tokensCached', tokens).hincrby(this.keys.iter(runId, iter), 'tokensCached', tokens).exec();
  }

  async remainingCalls(runId: string): Promise<number> {
    const s = await this.get(runId);
    return s ? freeCalls(s) : 0;
  }

  async raiseIdCounter(vault: string, track: Track, atLeast: number): Promise<number> {
    return await raiseIdCounter(this.redis, this.keys.idCounter(vault, track), atLeast);
  }

  async mintId(runId: string, vault: string, track: Track, cellKey: string): Promise<string> {
    return await mintDraftId(this.redis, this.keys.cellIds(runId), this.keys.idCounter(vault, track), cellKey, track);
  }

  async iterGet(runId: string, iter: number): Promise<Record<string, string>> {
    return await this.redis.hgetall(this.keys.iter(runId, iter));
  }

  async iterSet(runId: string, iter: number, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.iter(runId, iter), fields);
  }

  /** Set a field only if absent; returns the stored value (ours or the earlier one). */
  async iterSetOnce(runId: string, iter: number, field: string, value: string): Promise<string> {
    await this.redis.hsetnx(this.keys.iter(runId, iter), field, value);
    return (await this.redis.hget(this.keys.iter(runId, iter), field)) ?? value;
  }

  async putDraft(runId: string, id: string, rec: DraftRecord): Promise<void> {
    await this.redis.hset(this.keys.drafts(runId), id, JSON.stringify(rec));
  }

  /** Several drafts in one round trip. */
  async putDrafts(runId: string, recs: DraftRecord[]): Promise<void> {
    if (recs.length === 0) return;
    await this.redis.hset(this.keys.drafts(runId), Object.fromEntries(recs.map((r) => [r.id, JSON.stringify(r)])));
  }

  async drafts(runId: string): Promise<Map<string, DraftRecord>> {
    const h = await this.redis.hgetall(this.keys.drafts(runId));
    return new Map(Object.entries(h).map(([k, v]) => [k, JSON.parse(v) as DraftRecord]));
  }

  async putVerdict(runId: string, id: string, rec: AppliedVerdict): Promise<void> {
    await this.redis.hset(this.keys.verdicts(runId), id, JSON.stringify(rec));
  }

  async verdicts(runId: string): Promise<Map<string, AppliedVerdict>> {
    const h = await this.redis.hgetall(this.keys.verdicts(runId));
    return new Map(Object.entries(h).map(([k, v]) => [k, JSON.parse(v) as AppliedVerdict]));
  }

  /** The verdicts of these drafts only (one HMGET), for a step that needs no other. */
  async verdictsOf(runId: string, ids: string[]): Promise<Map<string, AppliedVerdict>> {
    if (ids.length === 0) return new Map();
    const vals = await this.redis.hmget(this.keys.verdicts(runId), ...ids);
    const out = new Map<string, AppliedVerdict>();
    ids.forEach((id, i) => {
      const v = vals[i];
      if (v) out.set(id, JSON.parse(v) as AppliedVerdict);
    });
    return out;
  }

  async putUnjudged(runId: string, id: string, rec: UnjudgedRecord): Promise<void> {
    await this.redis.hset(this.keys.unjudged(runId), id, JSON.stringify(rec));
  }

  async clearUnjudged(runId: string, id: string): Promise<void> {
    await this.redis.hdel(this.keys.unjudged(runId), id);
  }

  async unjudged(runId: string): Promise<Map<string, UnjudgedRecord>> {
    const h = await this.redis.hgetall(this.keys.unjudged(runId));
    return new Map(Object.entries(h).map(([k, v]) => [k, JSON.parse(v) as UnjudgedRecord]));
  }
}

export type { DraftRecord } from '../domain/draft.js';
export type { AppliedVerdict, UnjudgedRecord, VerdictHistoryEntry } from '../domain/verdict.js';
