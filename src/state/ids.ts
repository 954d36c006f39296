/**
 * The ids a run mints: run ids (a folder on disk and a claim in Redis) and draft ids (a per-track
 * counter in Redis, minted once per plan cell). The BullMQ job ids are in job-ids.ts (apart, so
 * that reading run state loads no BullMQ).
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { RedisClient } from '../redis/index.js';

/**
 * A fresh run id: UTC YYYYMMDD_HHMMSS, with -2, -3 … when that id is taken, on disk (`dirOf`, the
 * run's folder, created here) or by `claim` (Redis: runs of other vaults share the prefix).
 * Never shared, never racy.
 */
export async function newRunId(dirOf: (runId: string) => string, claim: (id: string) => Promise<boolean>, now = new Date()): Promise<string> {
  const base = now.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    if (existsSync(dirOf(id))) continue;
    if (!(await claim(id))) continue;
    mkdirSync(dirOf(id), { recursive: true });
    return id;
  }
}

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

/** The draft id of one plan cell (`cellKey` in the run's `cellIdsKey` hash), minted once from the track's counter. */
export async function mintDraftId(redis: RedisClient, cellIdsKey: string, counterKey: string, cellKey: string, track: string): Promise<string> {
  return String(await redis.eval(MINT, 2, cellIdsKey, counterKey, cellKey, track));
}

/** Raises a track's id counter to at least `atLeast` (the vault's highest id); returns the counter. */
export async function raiseIdCounter(redis: RedisClient, counterKey: string, atLeast: number): Promise<number> {
  return Number(await redis.eval(RAISE, 1, counterKey, String(atLeast)));
}
