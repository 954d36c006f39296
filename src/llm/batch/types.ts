/**
 * The batch APIs behind one interface: a list of requests in, a provider batch id out; its status;
 * then one outcome per request, keyed by the custom id it was sent with. Each client turns a
 * CompletionRequest into exactly the body a live call sends (src/llm/wire.ts) and a succeeded
 * item into exactly the CompletionResult a live call returns, so answers take the same path.
 */
import type { CompletionRequest, CompletionResult } from '../types.js';

export interface BatchRequestItem {
  /** Unique within the batch; [A-Za-z0-9_-]{1,64} (Anthropic's rule, the stricter one). */
  customId: string;
  req: CompletionRequest;
}

export type BatchItemOutcome =
  | { ok: true; result: CompletionResult }
  /** errored (the request failed), expired (not done within 24 h), canceled, or missing from the results. */
  | { ok: false; kind: 'errored' | 'expired' | 'canceled' | 'missing'; error: string };

export interface BatchStatus {
  id: string;
  /** Whether results can be read: the provider will not change this batch any more. */
  ended: boolean;
  /** The provider's own word: validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled; or in_progress, canceling, ended. */
  providerStatus: string;
  total: number;
  succeeded: number;
  failed: number;
}

export interface BatchLimits {
  maxRequests: number;
  maxBytes: number;
}

export interface BatchClient {
  readonly provider: 'openai' | 'anthropic';
  readonly model: string;
  readonly limits: BatchLimits;
  /** Bytes this item adds to the upload (one JSONL line, or one element of the JSON body). */
  itemBytes(item: BatchRequestItem): number;
  /**
   * Submits one batch tagged with `key` (idempotency: see findByKey); returns the provider's batch id.
   * `retrySince`: an earlier submission of `key` started then (ms) and created no batch (findByKey
   * found none); whatever it left half done (OpenAI: the uploaded input file) is reused, not sent again.
   */
  submit(items: BatchRequestItem[], key: string, retrySince?: number): Promise<string>;
  /**
   * The batch an earlier submission of `key` created, when its id was never recorded (a crash
   * between submit and the write). `since`: when that submission started (ms); `count`: its items;
   * `taken`: provider ids already recorded for other submissions (never the answer).
   */
  findByKey(key: string, since: number, count: number, taken: ReadonlySet<string>): Promise<string | null>;
  status(id: string): Promise<BatchStatus>;
  /** One outcome per custom id found; `requests` (by custom id) are what was sent, to read each answer as its live call would. */
  results(id: string, requests: ReadonlyMap<string, CompletionRequest>): Promise<Map<string, BatchItemOutcome>>;
  cancel(id: string): Promise<void>;
}

/** OpenAI: 50,000 requests and a 200 MB input file per batch. */
export const OPENAI_BATCH_LIMITS: BatchLimits = { maxRequests: 50_000, maxBytes: 200 * 1024 * 1024 };
/** Anthropic: 100,000 requests or 256 MB per batch, whichever comes first. */
export const ANTHROPIC_BATCH_LIMITS: BatchLimits = { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 };

/** Splits items into batches within the limits, in order. An item alone over maxBytes still gets its own batch (the provider will say no). */
export function splitByLimits(items: BatchRequestItem[], limits: BatchLimits, bytesOf: (i: BatchRequestItem) => number): BatchRequestItem[][] {
  const out: BatchRequestItem[][] = [];
  let cur: BatchRequestItem[] = [];
  let bytes = 0;
  for (const it of items) {
    const b = bytesOf(it);
    if (cur.length > 0 && (cur.length + 1 > limits.maxRequests || bytes + b > limits.maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Whether a run's provider for a role goes through batches: batchMode on a provider with a batch API. */
export function usesBatches(rc: { batchMode?: boolean }, provider: string): boolean {
  return rc.batchMode === true && (provider === 'openai' || provider === 'anthropic');
}
