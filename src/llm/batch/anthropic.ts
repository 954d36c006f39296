/**
 * Anthropic's Message Batches: `{requests: [{custom_id, params}]}` in one JSON body, where params
 * is exactly a live Messages request (cache_control marks included); processing_status
 * in_progress → ended (canceling on the way when cancelled); results as JSONL from the batch's
 * results_url, one `{custom_id, result: {type: succeeded | errored | canceled | expired}}` line each.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { loadAnthropicSdk, mapAnthropicError } from '../anthropic.js';
import { clientOptions, DEFAULT_TIMEOUT_MS, LazyClient, SdkBacked } from '../sdk.js';
import type { CompletionRequest } from '../types.js';
import { anthropicMessageBody, anthropicMessageResult } from '../wire.js';
import { ANTHROPIC_BATCH_LIMITS, type BatchClient, type BatchItemOutcome, type BatchRequestItem, type BatchStatus } from './types.js';

type Sdk = typeof import('@anthropic-ai/sdk');
/** How far the provider's clock may be behind ours when a lost submission is looked up. */
const CLOCK_SKEW_MS = 5_000;

export class AnthropicBatchClient extends SdkBacked<Sdk, Anthropic> implements BatchClient {
  readonly provider = 'anthropic' as const;
  readonly limits = ANTHROPIC_BATCH_LIMITS;
  protected readonly sdk = new LazyClient<Sdk, Anthropic>(loadAnthropicSdk, (m) => new m.default(clientOptions(this.settings, this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS)));

  #call<T>(fn: (c: Anthropic) => Promise<T>): Promise<T> {
    return this.sdk.call(fn, (e, mod) => mapAnthropicError('anthropic', e, mod));
  }

  #entry(item: BatchRequestItem): Anthropic.Messages.Batches.BatchCreateParams.Request {
    return { custom_id: item.customId, params: anthropicMessageBody(item.req, { ...this.settings, model: this.model }).body };
  }

  itemBytes(item: BatchRequestItem): number {
    return Buffer.byteLength(JSON.stringify(this.#entry(item))) + 1;
  }

  async submit(items: BatchRequestItem[]): Promise<string> {
    const b = await this.#call((c) => c.messages.batches.create({ requests: items.map((i) => this.#entry(i)) }));
    return b.id;
  }

  /**
   * Message batches carry no metadata and their requests cannot be read back (results only once
   * ended), so a lost submission is found by its shape: the first batch of this API key's
   * workspace created since the submission started (within a clock allowance), with the same number
   * of requests, and not recorded for another submission. Exact unless another client of the same
   * workspace created a batch of that size in that window; what an adopted foreign batch answers is
   * not ours (results are matched by custom_id), so its items fall back to live calls.
   */
  async findByKey(_key: string, since: number, count: number, taken: ReadonlySet<string>): Promise<string | null> {
    return await this.#call(async (c) => {
      const found: { id: string; at: number }[] = [];
      // Newest first: stop once past the moment the lost submission started.
      for await (const b of c.messages.batches.list({ limit: 100 })) {
        const at = Date.parse(b.created_at);
        if (at < since - CLOCK_SKEW_MS) break;
        const rc = b.request_counts;
        if (!taken.has(b.id) && rc.processing + rc.succeeded + rc.errored + rc.canceled + rc.expired === count) found.push({ id: b.id, at });
      }
      // The first created after the submission started; else (the provider's clock behind ours) the last before.
      const after = found.filter((f) => f.at >= since).sort((a, b) => a.at - b.at);
      const before = found.filter((f) => f.at < since).sort((a, b) => b.at - a.at);
      return (after[0] ?? before[0])?.id ?? null;
    });
  }

  async status(id: string): Promise<BatchStatus> {
    const b = await this.#call((c) => c.messages.batches.retrieve(id));
    const rc = b.request_counts;
    return {
      id,
      ended: b.processing_status === 'ended',
      providerStatus: b.processing_status,
      total: rc.processing + rc.succeeded + rc.errored + rc.canceled + rc.expired,
      succeeded: rc.succeeded,
      failed: rc.errored + rc.canceled + rc.expired,
    };
  }

  async results(id: string, requests: ReadonlyMap<string, CompletionRequest>): Promise<Map<string, BatchItemOutcome>> {
    const out = new Map<string, BatchItemOutcome>();
    await this.#call(async (c) => {
      for await (const line of await c.messages.batches.results(id)) {
        const req = requests.get(line.custom_id);
        if (!req) continue; // not ours: never trust an id the results invent
        const r = line.result;
        if (r.type === 'succeeded') {
          out.set(line.custom_id, { ok: true, result: anthropicMessageResult(r.message, anthropicMessageBody(req, { ...this.settings, model: this.model }), this.model, 0) });
        } else if (r.type === 'errored') {
          out.set(line.custom_id, { ok: false, kind: 'errored', error: `${r.error.error.type}: ${r.error.error.message}` });
        } else {
          out.set(line.custom_id, { ok: false, kind: r.type, error: `request ${r.type}` });
        }
      }
    });
    return out;
  }

  async cancel(id: string): Promise<void> {
    await this.#call((c) => c.messages.batches.cancel(id));
  }
}
