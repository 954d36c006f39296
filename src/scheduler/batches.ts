/**
 * Batch-mode state in Redis (under the run's keys):
 *   {p}:run:<id>:breq                 HASH request hash → the CompletionRequest as JSON (written once)
 *   {p}:run:<id>:bitem                HASH request hash → "<iter>|<stage>|<seq>" of the batch that takes it
 *   {p}:run:<id>:bres                 HASH request hash → its outcome (answer or failure), written once
 *   {p}:run:<id>:bqueue:<iter>:<stage> LIST request hashes waiting for the next batch of that stage
 *   {p}:run:<id>:bseq:<iter>:<stage>  the stage's open collection round
 *   {p}:run:<id>:batch:<name>         HASH one batch: status, items, parts (provider ids), counts, times
 *   {p}:run:<id>:batches              ZSET batch name → creation time (ms)
 * A request hash is the response cache's (cacheHash): the same request asked twice is one item.
 * Registration and collection are Lua scripts, so a request joins exactly one batch whatever
 * races between workers.
 */
import type { RedisClient } from '../redis/index.js';
import type { BatchStage } from '../queues/batch.js';
import type { BatchItemOutcome } from '../llm/batch/types.js';
import type { CompletionRequest } from '../llm/types.js';
import type { Keys } from '../state/run-state.js';

export const BATCH_STATUSES = ['collecting', 'collected', 'reserved', 'submitted', 'ended'] as const;
export type BatchRecordStatus = (typeof BATCH_STATUSES)[number];

export interface BatchPart {
  /** Idempotency key of this submission (provider metadata where the API has it). */
  key: string;
  count: number;
  /** Written before the submission is sent: a record with it and no providerId needs reconciling. */
  submittingAt?: number;
  providerId?: string;
  providerStatus?: string;
  ended?: boolean;
}

export interface BatchRecord {
  name: string;
  runId: string;
  iter: number;
  stage: BatchStage;
  seq: number;
  status: BatchRecordStatus;
  provider: string;
  model: string;
  items: string[];
  reserved: number;
  parts: BatchPart[];
  createdAt: number;
  submittedAt: number | null;
  endedAt: number | null;
  polls: number;
  succeeded: number;
  failed: number;
  cancelRequested: boolean;
}

export const batchName = (iter: number, stage: BatchStage, seq: number): string => `i${iter}-${stage}-b${seq}`;

// KEYS: breq, bitem, bqueue, bseq. ARGV: hash, request JSON, "<iter>|<stage>".
// Returns {isNew, seq, queueLength}: the caller adds the collector job of `seq` (idempotent by id).
const REGISTER = `
local at = redis.call('HGET', KEYS[2], ARGV[1])
local seq = tonumber(redis.call('GET', KEYS[4]) or '0')
if at then return {0, seq, 0} end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '|' .. seq)
local n = redis.call('RPUSH', KEYS[3], ARGV[1])
return {1, seq, n}`;

// KEYS: bqueue, bseq, record, batches-zset. ARGV: seq, now (ms), name, provider, model.
// Takes the waiting requests into batch `seq` once; a repeat returns what the first take stored.
const TAKE = `
local items = redis.call('HGET', KEYS[3], 'items')
if items then return items end
local list = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], tonumber(ARGV[1]) + 1)
local enc = '[]'
if #list > 0 then enc = cjson.encode(list) end
redis.call('HSET', KEYS[3], 'items', enc, 'status', 'collected', 'createdAt', ARGV[2], 'provider', ARGV[4], 'model', ARGV[5], 'parts', '[]', 'polls', 0, 'succeeded', 0, 'failed', 0)
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
return enc`;

function num(v: string | undefined, d = 0): number {
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isFinite(n) ? n : d;
}

export class BatchStore {
  constructor(readonly redis: RedisClient, readonly keys: Keys) {}

  #k(runId: string, suffix: string): string {
    return `${this.keys.run(runId)}:${suffix}`;
  }
  recordKey = (runId: string, name: string): string => this.#k(runId, `batch:${name}`);

  /** Adds a request to its stage's next batch (no-op when it already joined one). */
  async register(runId: string, iter: number, stage: BatchStage, hash: string, req: CompletionRequest): Promise<{ isNew: boolean; seq: number; first: boolean }> {
    const { signal: _s, ...stored } = req;
    const r = (await this.redis.eval(
      REGISTER,
      4,
      this.#k(runId, 'breq'),
      this.#k(runId, 'bitem'),
      this.#k(runId, `bqueue:${iter}:${stage}`),
      this.#k(runId, `bseq:${iter}:${stage}`),
      hash,
      JSON.stringify(stored),
      `${iter}|${stage}`,
    )) as [number, number, number];
    return { isNew: r[0] === 1, seq: r[1], first: r[2] === 1 };
  }

  /** The batch a request joined ("<iter>|<stage>|<seq>"), or null. */
  async itemBatch(runId: string, hash: string): Promise<{ iter: number; stage: BatchStage; seq: number } | null> {
    const v = await this.redis.hget(this.#k(runId, 'bitem'), hash);
    if (!v) return null;
    const [iter, stage, seq] = v.split('|');
    return { iter: Number(iter), stage: stage as BatchStage, seq: Number(seq) };
  }

  async take(runId: string, iter: number, stage: BatchStage, seq: number, provider: string, model: string, now: number): Promise<string[]> {
    const name = batchName(iter, stage, seq);
    const enc = (await this.redis.eval(
      TAKE,
      4,
      this.#k(runId, `bqueue:${iter}:${stage}`),
      this.#k(runId, `bseq:${iter}:${stage}`),
      this.recordKey(runId, name),
      this.#k(runId, 'batches'),
      String(seq),
      String(now),
      name,
      provider,
      model,
    )) as string;
    return JSON.parse(enc) as string[];
  }

  async requests(runId: string, hashes: string[]): Promise<Map<string, CompletionRequest>> {
    if (hashes.length === 0) return new Map();
    const vals = await this.redis.hmget(this.#k(runId, 'breq'), ...hashes);
    const out = new Map<string, CompletionRequest>();
    hashes.forEach((h, i) => {
      if (vals[i]) out.set(h, JSON.parse(vals[i]!) as CompletionRequest);
    });
    return out;
  }

  async get(runId: string, name: string): Promise<BatchRecord | null> {
    const h = await this.redis.hgetall(this.recordKey(runId, name));
    if (!h.status) return null;
    const m = /^i(\d+)-(generate|judge)-b(\d+)$/.exec(name);
    return {
      name,
      runId,
      iter: Number(m?.[1] ?? 0),
      stage: (m?.[2] ?? 'generate') as BatchStage,
      seq: Number(m?.[3] ?? 0),
      status: h.status as BatchRecordStatus,
      provider: h.provider ?? '',
      model: h.model ?? '',
      items: h.items ? (JSON.parse(h.items) as string[]) : [],
      reserved: num(h.reserved),
      parts: h.parts ? (JSON.parse(h.parts) as BatchPart[]) : [],
      createdAt: num(h.createdAt),
      submittedAt: h.submittedAt ? num(h.submittedAt) : null,
      endedAt: h.endedAt ? num(h.endedAt) : null,
      polls: num(h.polls),
      succeeded: num(h.succeeded),
      failed: num(h.failed),
      cancelRequested: h.cancelRequested === '1',
    };
  }

  async update(runId: string, name: string, fields: Partial<Record<'status' | 'parts' | 'submittedAt' | 'endedAt' | 'polls' | 'succeeded' | 'failed' | 'cancelRequested', string | number>>): Promise<void> {
    await this.redis.hset(this.recordKey(runId, name), fields as Record<string, string | number>);
  }

  async setParts(runId: string, name: string, parts: BatchPart[]): Promise<void> {
    await this.redis.hset(this.recordKey(runId, name), 'parts', JSON.stringify(parts));
  }

  /** Stores an item's outcome once; false when it was already stored (its budget was settled then). */
  async putOutcome(runId: string, hash: string, o: BatchItemOutcome): Promise<boolean> {
    return (await this.redis.hsetnx(this.#k(runId, 'bres'), hash, JSON.stringify(o))) === 1;
  }

  async outcome(runId: string, hash: string): Promise<BatchItemOutcome | null> {
    const v = await this.redis.hget(this.#k(runId, 'bres'), hash);
    return v ? (JSON.parse(v) as BatchItemOutcome) : null;
  }

  /** Every batch of a run, oldest first. */
  async list(runId: string): Promise<BatchRecord[]> {
    const names = await this.redis.zrange(this.#k(runId, 'batches'), '0', '-1');
    const recs = await Promise.all(names.map((n) => this.get(runId, n)));
    return recs.filter((r): r is BatchRecord => r !== null);
  }
}

/** What `status` and the run page show of a run's batches. */
export interface BatchSummary {
  name: string;
  stage: BatchStage;
  iter: number;
  status: BatchRecordStatus;
  providerStatus: string;
  items: number;
  succeeded: number;
  failed: number;
  ageSeconds: number;
  providerIds: string[];
}

export function summarizeBatches(recs: BatchRecord[], now: number): { inFlight: BatchSummary[]; ended: number } {
  const inFlight = recs
    .filter((r) => r.status !== 'ended')
    .map((r) => ({
      name: r.name,
      stage: r.stage,
      iter: r.iter,
      status: r.status,
      providerStatus: r.parts.map((p) => p.providerStatus ?? (p.providerId ? 'submitted' : 'not submitted')).join(',') || r.status,
      items: r.items.length,
      succeeded: r.succeeded,
      failed: r.failed,
      ageSeconds: Math.max(0, Math.round((now - r.createdAt) / 1000)),
      providerIds: r.parts.flatMap((p) => (p.providerId ? [p.providerId] : [])),
    }));
  return { inFlight, ended: recs.length - inFlight.length };
}
