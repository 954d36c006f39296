/**
 * Where the budget is reserved and settled: one Lua script per rule, run atomically on the run's
 * hash (`{p}:run:<id>`) and its iteration's (`{p}:run:<id>:iter:<n>`). RunStore
 * (src/state/run-state.ts) runs them as the run's BudgetPort (src/core/ports.ts).
 *
 * `maxCalls` bounds used + reserved (in flight) + the judge pool. The judge pool (`judgePool` on
 * the run, and per iteration on its hash) holds the judge calls an iteration's drafts will need,
 * set aside by the plan step before any generate call: generation and its repairs can only take
 * what is outside it, so a tight budget never buys drafts nobody judges.
 */
import type { RedisClient } from '../redis/index.js';

/** The run's and an iteration's hash keys (Keys in src/state/run-state.ts). */
export interface BudgetKeys {
  run(runId: string): string;
  iter(runId: string, iter: number): string;
}

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

/** Calls neither made, nor in flight, nor set aside for judging: the core's one rule (src/core/control.ts). */
export { freeCalls } from '../core/control.js';

/** Reserves one provider call outside the judge pool; false when none is left. */
export async function reserveCall(redis: RedisClient, keys: BudgetKeys, runId: string): Promise<boolean> {
  return (await redis.eval(RESERVE, 1, keys.run(runId))) === 1;
}

/** Reserves one judge call of an iteration: from its judge pool first, else from what is free; false when none is left. */
export async function reserveJudgeCall(redis: RedisClient, keys: BudgetKeys, runId: string, iter: number): Promise<boolean> {
  return (await redis.eval(RESERVE_JUDGE_CALL, 2, keys.run(runId), keys.iter(runId, iter))) === 1;
}

/** Sets aside up to `calls` judge calls for an iteration, once per `tag`; returns how many were granted. */
export async function reserveJudgePool(redis: RedisClient, keys: BudgetKeys, runId: string, iter: number, tag: string, calls: number): Promise<number> {
  return Number(await redis.eval(RESERVE_JUDGE_POOL, 2, keys.run(runId), keys.iter(runId, iter), tag, String(Math.max(0, Math.floor(calls)))));
}

/** Shrinks the iteration's judge pool to at most `keep` calls; returns how many went back to the run. */
export async function releaseJudgePool(redis: RedisClient, keys: BudgetKeys, runId: string, iter: number, keep: number): Promise<number> {
  return Number(await redis.eval(RELEASE_JUDGE_POOL, 2, keys.run(runId), keys.iter(runId, iter), String(Math.max(0, keep))));
}

/** Settles one reservation: counted when the call was `made`, released when not; tokens and cost are added either way. */
export async function settleCall(redis: RedisClient, keys: BudgetKeys, runId: string, iter: number, made: boolean, usage: { inputTokens: number; outputTokens: number }, costUsd: number): Promise<void> {
  await redis.eval(
    SETTLE,
    2,
    keys.run(runId),
    keys.iter(runId, iter),
    made ? '1' : '0',
    String(Math.round(usage.inputTokens)),
    String(Math.round(usage.outputTokens)),
    String(costUsd),
  );
}

/** Batch mode: reserves up to `n` calls at once, once per `guardKey`/`guardField`; returns how many. */
export async function reserveCalls(redis: RedisClient, keys: BudgetKeys, runId: string, iter: number, stage: 'generate' | 'judge', n: number, guardKey: string, guardField: string): Promise<number> {
  return Number(await redis.eval(RESERVE_MANY, 3, keys.run(runId), guardKey, keys.iter(runId, iter), String(n), guardField, stage));
}
