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
   * Message batches carry no metadata, so a lost submission is found by its shape: created after
   * the submission started, with the same number of requests. Best effort: two such submissions
   * of the same size within a minute of each other are told apart by their creation order only.
   */
  async findByKey(_key: string, since: number, count: number): Promise<string | null> {
    return await this.#call(async (c) => {
      const found: { id: string; at: number }[] = [];
      for await (const b of c.messages.batches.list({ limit: 100 })) {
        const at = Date.parse(b.created_at);
        if (at < since - 5_000) break;
        const rc = b.request_counts;
        if (rc.processing + rc.succeeded + rc.errored + rc.canceled + rc.expired === count) found.push({ id: b.id, at });
      }
      found.sort((a, b) => a.at - b.at);
      return found[0]?.id ?? null;
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
