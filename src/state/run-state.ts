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
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis/index.js';
import type { Track } from '../corpus/taxonomy.js';
import { BudgetExhaustedError } from '../errors.js';
import type { BudgetCounters } from '../core/ports.js';
import type { DraftRecord } from '../domain/draft.js';
import type { AppliedVerdict, UnjudgedRecord } from '../domain/verdict.js';

export const RUN_STATUSES = ['running', 'paused', 'stopping', 'completed', 'stopped', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'stopped', 'failed'];

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

/*
 * The budget. `maxCalls` bounds used + reserved (in flight) + the judge pool. The judge pool
 * (`judgePool` on the run, and per iteration on its hash) holds the judge calls an iteration's
 * drafts will need, set aside by the plan step before any generate call: generation and its
 * repairs can only take what is outside it, so a tight budget never buys drafts nobody judges.
 */
const FREE = `
local function free(run)
  local max = tonumber(redis.call('HGET', run, 'maxCalls') or '0')
  local used = tonumber(redis.call('HGET', run, 'callsUsed') or '0')
  local res = tonumber(redis.call('HGET', run, 'callsReserved') or '0')
  local pool = tonumber(redis.call('HGET', run, 'judgePool') or '0')
  return max - used - res - pool
end
`;

// Reserve one call outside the judge pool. Returns 1 on success, 0 when exhausted.
const RESERVE = `${FREE}
if free(KEYS[1]) < 1 then return 0 end
redis.call('HINCRBY', KEYS[1], 'callsReserved', 1)
return 1`;

// Reserve one judge call of iteration KEYS[2]: from its pool first, else like any other call.
const RESERVE_JUDGE_CALL = `${FREE}
local mine = tonumber(redis.call('HGET', KEYS[2], 'judgePool') or '0')
if mine > 0 then
  redis.call('HINCRBY', KEYS[2], 'judgePool', -1)
  redis.call('HINCRBY', KEYS[1], 'judgePool', -1)
  redis.call('HINCRBY', KEYS[1], 'callsReserved', 1)
  return 1
end
if free(KEYS[1]) < 1 then return 0 end
redis.call('HINCRBY', KEYS[1], 'callsReserved', 1)
return 1`;

// Add up to ARGV[2] calls to iteration KEYS[2]'s judge pool, once per tag ARGV[1] (a step run
// twice gets the first answer). Returns how many were granted.
const RESERVE_JUDGE_POOL = `${FREE}
local tag = 'judgeTag:' .. ARGV[1]
local prev = redis.call('HGET', KEYS[2], tag)
if prev then return tonumber(prev) end
local n = math.max(0, math.min(tonumber(ARGV[2]), free(KEYS[1])))
redis.call('HINCRBY', KEYS[2], 'judgePool', n)
redis.call('HINCRBY', KEYS[1], 'judgePool', n)
redis.call('HSET', KEYS[2], tag, n)
return n`;

// Shrink iteration KEYS[2]'s judge pool to at most ARGV[1] calls (never grows it). Returns the
// number of calls given back to the run.
const RELEASE_JUDGE_POOL = `
local mine = tonumber(redis.call('HGET', KEYS[2], 'judgePool') or '0')
local keep = tonumber(ARGV[1])
if mine <= keep then return 0 end
local d = mine - keep
redis.call('HINCRBY', KEYS[2], 'judgePool', -d)
redis.call('HINCRBY', KEYS[1], 'judgePool', -d)
return d`;

// Settle a reservation: the call was made (count it) or not (release it).
const SETTLE = `
redis.call('HINCRBY', KEYS[1], 'callsReserved', -1)
if ARGV[1] == '1' then
  redis.call('HINCRBY', KEYS[1], 'callsUsed', 1)
  redis.call('HINCRBY', KEYS[2], 'callsUsed', 1)
end
redis.call('HINCRBY', KEYS[1], 'tokensIn', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'tokensOut', ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[1], 'costUsd', ARGV[4])
redis.call('HINCRBY', KEYS[2], 'tokensIn', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'tokensOut', ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[2], 'costUsd', ARGV[4])
return 1`;

// Batch mode: reserve up to ARGV[1] calls at once, once per guard (KEYS[2] field ARGV[2]), as many
// as fit within maxCalls. Returns how many were reserved (the stored number when already done).
// Reserve up to ARGV[1] calls at once (a provider batch), once per guard field ARGV[2] of KEYS[2].
// Judge batches (ARGV[3] == 'judge') draw on iteration KEYS[3]'s judge pool first; every other
// batch only on what is outside every pool, as single calls do.
const RESERVE_MANY = `${FREE}
local done = redis.call('HGET', KEYS[2], ARGV[2])
if done then return tonumber(done) end
local want = math.max(0, tonumber(ARGV[1]))
local fromPool = 0
if ARGV[3] == 'judge' then
  local mine = tonumber(redis.call('HGET', KEYS[3], 'judgePool') or '0')
  fromPool = math.min(want, mine)
  if fromPool > 0 then
    redis.call('HINCRBY', KEYS[3], 'judgePool', -fromPool)
    redis.call('HINCRBY', KEYS[1], 'judgePool', -fromPool)
  end
end
local n = fromPool + math.max(0, math.min(want - fromPool, free(KEYS[1])))
redis.call('HINCRBY', KEYS[1], 'callsReserved', n)
redis.call('HSET', KEYS[2], ARGV[2], n)
return n`;

// Mint the id of one cell once: a retry of the same cell gets the same id.
const MINT = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return existing end
local n = redis.call('INCR', KEYS[2])
local id = ARGV[2] .. '-' .. string.format('%04d', n)
redis.call('HSET', KEYS[1], ARGV[1], id)
return id`;

// Raise a counter to at least ARGV[1].
const RAISE = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('GET', KEYS[1])`;

/** Calls neither made, nor in flight, nor set aside for judging. */
export const freeCalls = (s: Pick<RunState, 'maxCalls' | 'callsUsed' | 'callsReserved' | 'judgePool'>): number => Math.max(0, s.maxCalls - s.callsUsed - s.callsReserved - s.judgePool);

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
    const ok = await this.redis.eval(RESERVE, 1, this.keys.run(runId));
    if (ok !== 1) await this.#exhausted(runId);
  }

  /** Reserve one judge call of an iteration: from its judge pool first, else from what is free. */
  async reserveJudgeCall(runId: string, iter: number): Promise<void> {
    const ok = await this.redis.eval(RESERVE_JUDGE_CALL, 2, this.keys.run(runId), this.keys.iter(runId, iter));
    if (ok !== 1) await this.#exhausted(runId);
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
    return Number(await this.redis.eval(RESERVE_JUDGE_POOL, 2, this.keys.run(runId), this.keys.iter(runId, iter), tag, String(Math.max(0, Math.floor(calls)))));
  }

  /** Gives back the iteration's judge pool beyond `keep` calls (an iteration that came out smaller). */
  async releaseJudge(runId: string, iter: number, keep = 0): Promise<number> {
    return Number(await this.redis.eval(RELEASE_JUDGE_POOL, 2, this.keys.run(runId), this.keys.iter(runId, iter), String(Math.max(0, keep))));
  }

  async settleCall(runId: string, iter: number, made: boolean, usage: { inputTokens: number; outputTokens: number }, costUsd: number): Promise<void> {
    await this.redis.eval(
      SETTLE,
      2,
      this.keys.run(runId),
      this.keys.iter(runId, iter),
      made ? '1' : '0',
      String(Math.round(usage.inputTokens)),
      String(Math.round(usage.outputTokens)),
      String(costUsd),
    );
  }

  /**
   * Batch mode: reserves up to `n` calls in one step (as many as fit), exactly once per
   * `guardKey`/`guardField` (a crash-retry gets the stored number back); each is settled with
   * settleCall like a single reservation.
   */
  async reserveCalls(runId: string, iter: number, stage: 'generate' | 'judge', n: number, guardKey: string, guardField: string): Promise<number> {
    return Number(await this.redis.eval(RESERVE_MANY, 3, this.keys.run(runId), guardKey, this.keys.iter(runId, iter), String(n), guardField, stage));
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
    return Number(await this.redis.eval(RAISE, 1, this.keys.idCounter(vault, track), String(atLeast)));
  }

  async mintId(runId: string, vault: string, track: Track, cellKey: string): Promise<string> {
    return String(await this.redis.eval(MINT, 2, this.keys.cellIds(runId), this.keys.idCounter(vault, track), cellKey, track));
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
