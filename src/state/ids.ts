/**
 * Every id the pipeline mints, in one place: run ids (a folder on disk and a claim in Redis),
 * draft ids (a per-track counter in Redis, minted once per plan cell) and the deterministic
 * BullMQ job ids of an iteration's flows (a job added twice is one job).
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { RedisClient } from '../redis/index.js';
import { jobId } from '../queues/define.js';
import type { BatchStage } from '../queues/batch.js';

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

/** BullMQ job ids of an iteration's flows (src/scheduler/flows.ts adds them). Round 0 is the first judging; later rounds (revisions) carry `r<round>` in their ids. */
const r = (round: number): string[] => (round > 0 ? [`r${round}`] : []);

export const ids = {
  plan: (runId: string, iter: number) => jobId(runId, `i${iter}`, 'plan'),
  dispatch: (runId: string, iter: number) => jobId(runId, `i${iter}`, 'dispatch'),
  redispatch: (runId: string, iter: number, round: number) => jobId(runId, `i${iter}`, `r${round}`, 'redispatch'),
  checkpoint: (runId: string, iter: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), 'checkpoint'),
  cell: (runId: string, iter: number, cell: number) => jobId(runId, `i${iter}`, `c${cell}`),
  revise: (runId: string, iter: number, round: number, draftId: string) => jobId(runId, `i${iter}`, `r${round}`, 'x', draftId),
  judge: (runId: string, iter: number, chunk: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), `k${chunk}`, 'judge'),
  apply: (runId: string, iter: number, chunk: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), `k${chunk}`, 'apply'),
  render: (runId: string, iter: number, draftId: string, round = 0) => jobId(runId, `i${iter}`, ...r(round), 'v', draftId),
  lateApply: (runId: string, iter: number, chunk: number, n: number, round = 0) => jobId(runId, `i${iter}`, ...r(round), `k${chunk}`, 'late', n),
};

/** The cell index of a generate job key (`…-c<N>`), the draft id of a render job key (`…-v-<id>`). */
export const cellIndexOfKey = (key: string): number => Number(/-c(\d+)$/.exec(key)?.[1] ?? NaN);
export const draftIdOfKey = (key: string): string => /-v-([^:]+)$/.exec(key)?.[1] ?? '';
/** The draft id of a revise job key (`…-x-<id>`). */
export const revisedIdOfKey = (key: string): string => /-x-([^:]+)$/.exec(key)?.[1] ?? '';

/** The job id of a stage's collection round `seq` (one provider batch). */
export const batchJobId = (runId: string, iter: number, stage: BatchStage, seq: number): string => jobId(runId, `i${iter}`, stage, `b${seq}`);
