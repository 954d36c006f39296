/**
 * batch: the life of one provider batch, as a job that delays itself between polls.
 *   collect  → takes the requests its stage registered (Lua: each joins exactly one batch)
 *   reserve  → reserves their calls in the run's budget at once (once per batch; what does not
 *              fit is failed at once, and its jobs fall back to live calls, which find no budget)
 *   submit   → per part (split by the provider's limits): the record is written before (with
 *              submittingAt) and after (with the provider's id); a part found with submittingAt and
 *              no id was cut off by a crash, and is looked up at the provider before it is sent again
 *              (OpenAI: by the key in the batch's metadata, and an input file already uploaded is
 *              reused; Anthropic: by request count and creation time, see AnthropicBatchClient)
 *   poll     → until every part ended, waiting pollMs, doubling to 10 minutes
 *   ingest   → each item's outcome stored once (HSETNX); its reservation settled with the batch
 *              price when it succeeded, released when it failed, expired or was cancelled
 * A run that is stopped cancels its batches; what ended before the cancel is still used.
 * Pure of BullMQ: the worker wiring maps BatchPendingError to a delay.
 */
import { BatchPendingError } from '../errors.js';
import type { BatchClient, BatchItemOutcome, BatchRequestItem } from '../llm/batch/types.js';
import { splitByLimits } from '../llm/batch/types.js';
import type { CompletionRequest, TokenUsage } from '../llm/types.js';
import type { BatchPayload, BatchResult } from '../queues/batch.js';
import { batchName, type BatchPart, type BatchStore } from '../scheduler/batches.js';
import type { RunStore } from '../state/run-state.js';
import { TERMINAL_STATUSES } from '../state/run-state.js';

/** How long a stage's first registered request waits for the others before its batch is taken. */
export const BATCH_COLLECT_MS = 3_000;
/** The longest wait between two polls of one batch. */
export const MAX_POLL_MS = 600_000;

export interface BatchDeps {
  store: RunStore;
  batches: BatchStore;
  /** The run's batch client for the stage's provider (generation or judge settings). */
  client(runId: string, stage: BatchPayload['stage']): Promise<BatchClient>;
  /** USD of one succeeded item at the run's batch prices. */
  costOf(runId: string, model: string, usage: TokenUsage): Promise<number>;
  pollMs(runId: string): Promise<number>;
  now(): number;
  log(msg: string, extra?: Record<string, unknown>): void;
}

export const idempotencyKey = (runId: string, name: string, part: number): string => `vl-${runId}-${name}-p${part}`.replace(/[^A-Za-z0-9_-]/g, '_');

export async function processBatch(p: BatchPayload, deps: BatchDeps): Promise<BatchResult> {
  const { batches, store } = deps;
  const name = batchName(p.iter, p.stage, p.seq);
  const client = await deps.client(p.runId, p.stage);
  const items = await batches.take(p.runId, p.iter, p.stage, p.seq, client.provider, client.model, deps.now());
  let rec = (await batches.get(p.runId, name))!;
  const result = (): BatchResult => ({ items: rec.items.length, succeeded: rec.succeeded, failed: rec.failed, providerIds: rec.parts.flatMap((x) => (x.providerId ? [x.providerId] : [])) });
  if (rec.status === 'ended') return result();
  const requests = await batches.requests(p.runId, items);
  const recKey = batches.recordKey(p.runId, name);

  if (rec.status === 'collected') {
    const run = await store.get(p.runId);
    const stopped = !run || run.stopRequested || TERMINAL_STATUSES.includes(run.status);
    const granted = stopped ? 0 : await store.reserveCalls(p.runId, p.iter, p.stage, items.length, recKey, 'reserved');
    // What the budget cannot hold fails now: its jobs fall back to a live call, which the budget refuses.
    for (const h of items.slice(granted)) await batches.putOutcome(p.runId, h, { ok: false, kind: 'canceled', error: stopped ? 'run stopped before the batch was sent' : 'budget exhausted before the batch was sent' });
    const sendable = items.slice(0, granted).filter((h) => requests.has(h));
    const split = splitByLimits(sendable.map((h) => ({ customId: h, req: requests.get(h)! })), client.limits, (i) => client.itemBytes(i));
    const parts: BatchPart[] = split.map((s, i) => ({ key: idempotencyKey(p.runId, name, i), count: s.length }));
    await batches.setParts(p.runId, name, parts);
    await batches.update(p.runId, name, { status: parts.length > 0 ? 'reserved' : 'ended', failed: items.length - granted, ...(parts.length === 0 ? { endedAt: deps.now() } : {}) });
    rec = (await batches.get(p.runId, name))!;
    if (rec.status === 'ended') return result();
  }

  if (rec.status === 'reserved') {
    const sendable = rec.items.slice(0, rec.reserved).filter((h) => requests.has(h));
    const split = splitByLimits(sendable.map((h): BatchRequestItem => ({ customId: h, req: requests.get(h)! })), client.limits, (i) => client.itemBytes(i));
    const parts = rec.parts;
    for (const [i, part] of parts.entries()) {
      if (part.providerId) continue;
      const retrySince = part.submittingAt;
      if (retrySince !== undefined) {
        // A submission was started and its id never recorded: the provider may hold it already.
        const taken = new Set((await batches.list(p.runId)).flatMap((r) => r.parts.flatMap((x) => (x.providerId ? [x.providerId] : []))));
        const found = await client.findByKey(part.key, retrySince, part.count, taken);
        if (found) {
          deps.log('batch reconciled after an interrupted submission', { runId: p.runId, batch: name, providerId: found });
          parts[i] = { ...part, providerId: found };
          await batches.setParts(p.runId, name, parts);
          continue;
        }
      }
      // The first start stays recorded: a retry looks for what any earlier attempt left.
      parts[i] = { ...part, submittingAt: retrySince ?? deps.now() };
      await batches.setParts(p.runId, name, parts);
      const id = await client.submit(split[i] ?? [], part.key, retrySince);
      parts[i] = { ...parts[i]!, providerId: id };
      await batches.setParts(p.runId, name, parts);
      deps.log('batch submitted', { runId: p.runId, batch: name, providerId: id, items: part.count });
    }
    await batches.update(p.runId, name, { status: 'submitted', submittedAt: deps.now() });
    rec = (await batches.get(p.runId, name))!;
  }

  // submitted: poll every part; cancel them once when the run was stopped.
  const run = await store.get(p.runId);
  if ((!run || run.stopRequested || TERMINAL_STATUSES.includes(run.status)) && !rec.cancelRequested) {
    for (const part of rec.parts) if (part.providerId && !part.ended) await client.cancel(part.providerId).catch((e: Error) => deps.log('batch cancel failed', { runId: p.runId, batch: name, err: e.message }));
    await batches.update(p.runId, name, { cancelRequested: '1' });
  }
  const parts = rec.parts;
  for (const [i, part] of parts.entries()) {
    if (part.ended || !part.providerId) continue;
    const st = await client.status(part.providerId);
    parts[i] = { ...part, providerStatus: st.providerStatus, ended: st.ended };
  }
  await batches.setParts(p.runId, name, parts);
  if (parts.some((x) => !x.ended)) {
    const polls = rec.polls + 1;
    await batches.update(p.runId, name, { polls });
    const wait = Math.min(MAX_POLL_MS, (await deps.pollMs(p.runId)) * 2 ** Math.min(polls - 1, 20));
    throw new BatchPendingError(`batch ${name} in flight (${parts.map((x) => x.providerStatus).join(', ')})`, wait);
  }

  // Ended: every item's outcome, once.
  let succeeded = 0;
  let failed = rec.failed;
  for (const part of parts) {
    const partItems = new Map<string, CompletionRequest>();
    const ofPart = split(rec.items.slice(0, rec.reserved).filter((h) => requests.has(h)), parts, part);
    for (const h of ofPart) partItems.set(h, requests.get(h)!);
    const outcomes = part.providerId ? await client.results(part.providerId, partItems) : new Map<string, BatchItemOutcome>();
    for (const h of ofPart) {
      const o = outcomes.get(h) ?? { ok: false as const, kind: 'missing' as const, error: `no result for this request in batch ${part.providerId ?? '(not sent)'}` };
      if (o.ok) succeeded++;
      else failed++;
      if (!(await batches.putOutcome(p.runId, h, o))) continue;
      if (o.ok) {
        await store.settleCall(p.runId, p.iter, true, o.result.usage, await deps.costOf(p.runId, o.result.model, o.result.usage));
        await store.addCachedTokens(p.runId, p.iter, o.result.usage.cachedInputTokens ?? 0);
      } else {
        // The batch APIs bill nothing for a request that failed, expired or was cancelled.
        await store.settleCall(p.runId, p.iter, false, { inputTokens: 0, outputTokens: 0 }, 0);
      }
    }
  }
  await batches.update(p.runId, name, { status: 'ended', endedAt: deps.now(), succeeded, failed });
  rec = (await batches.get(p.runId, name))!;
  deps.log('batch ended', { runId: p.runId, batch: name, succeeded, failed });
  return result();
}

/** The items of one part: parts hold consecutive runs of the sendable items, in order. */
function split(sendable: string[], parts: BatchPart[], part: BatchPart): string[] {
  let start = 0;
  for (const x of parts) {
    if (x === part) return sendable.slice(start, start + x.count);
    start += x.count;
  }
  return [];
}
