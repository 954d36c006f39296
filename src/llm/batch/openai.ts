/**
 * OpenAI's Batch API: the requests as a JSONL file (one `{custom_id, method, url, body}` line
 * each) uploaded with purpose `batch`, a batch over it for /v1/chat/completions with a 24 h
 * window, tagged in `metadata` with our idempotency key; status validating → in_progress →
 * finalizing → completed (or failed, expired, cancelling → cancelled); results in the output file
 * and failures (including expired requests) in the error file.
 */
import type OpenAI from 'openai';
import { loadOpenAiSdk, mapOpenAiError, type OpenAiSettings } from '../openai.js';
import { clientOptions, DEFAULT_TIMEOUT_MS, LazyClient, SdkBacked } from '../sdk.js';
import { openAiChatBody, openAiChatResult } from '../wire.js';
import type { CompletionRequest } from '../types.js';
import { OPENAI_BATCH_LIMITS, type BatchClient, type BatchItemOutcome, type BatchRequestItem, type BatchStatus } from './types.js';

type Sdk = typeof import('openai');

export const BATCH_KEY_FIELD = 'vault_loop_key';
const ENDED = new Set(['completed', 'failed', 'expired', 'cancelled']);
/** How far the provider's clock may be behind ours when a lost submission is looked up. */
const CLOCK_SKEW_MS = 60_000;

export class OpenAiBatchClient extends SdkBacked<Sdk, OpenAI, OpenAiSettings> implements BatchClient {
  readonly provider = 'openai' as const;
  readonly limits = OPENAI_BATCH_LIMITS;
  protected readonly sdk = new LazyClient<Sdk, OpenAI>(loadOpenAiSdk, (m) => new m.default(clientOptions(this.settings, this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS)));

  #call<T>(fn: (c: OpenAI) => Promise<T>): Promise<T> {
    return this.sdk.call(fn, (e, mod) => mapOpenAiError('openai', e, mod));
  }

  #line(item: BatchRequestItem): string {
    const { body } = openAiChatBody(item.req, { ...this.settings, model: this.model });
    return JSON.stringify({ custom_id: item.customId, method: 'POST', url: '/v1/chat/completions', body });
  }

  itemBytes(item: BatchRequestItem): number {
    return Buffer.byteLength(this.#line(item)) + 1;
  }

  async submit(items: BatchRequestItem[], key: string, retrySince?: number): Promise<string> {
    const jsonl = items.map((i) => this.#line(i)).join('\n') + '\n';
    const filename = `${key}.jsonl`;
    return await this.#call(async (c) => {
      // A retry after a crash between upload and batch create: that upload is the input file.
      const earlier = retrySince === undefined ? null : await this.#findUpload(c, filename, Buffer.byteLength(jsonl), retrySince);
      const fileId = earlier ?? (await c.files.create({ file: await this.sdk.mod!.toFile(Buffer.from(jsonl), filename, { type: 'application/jsonl' }), purpose: 'batch' })).id;
      const batch = await c.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { [BATCH_KEY_FIELD]: key } });
      return batch.id;
    });
  }

  /** An input file of `filename` and `bytes` uploaded since `since` (ms), newest first; null when none. */
  async #findUpload(c: OpenAI, filename: string, bytes: number, since: number): Promise<string | null> {
    for await (const f of c.files.list({ purpose: 'batch', order: 'desc', limit: 100 })) {
      if (f.created_at * 1000 < since - CLOCK_SKEW_MS) break;
      if (f.filename === filename && f.bytes === bytes) return f.id;
    }
    return null;
  }

  async findByKey(key: string, since: number, _count: number, taken: ReadonlySet<string>): Promise<string | null> {
    return await this.#call(async (c) => {
      // Newest first: stop once past the moment the lost submission started.
      for await (const b of c.batches.list({ limit: 100 })) {
        if (b.metadata?.[BATCH_KEY_FIELD] === key && !taken.has(b.id)) return b.id;
        if (b.created_at * 1000 < since - CLOCK_SKEW_MS) break;
      }
      return null;
    });
  }

  async status(id: string): Promise<BatchStatus> {
    const b = await this.#call((c) => c.batches.retrieve(id));
    const rc = b.request_counts;
    return { id, ended: ENDED.has(b.status), providerStatus: b.status, total: rc?.total ?? 0, succeeded: rc?.completed ?? 0, failed: rc?.failed ?? 0 };
  }

  async results(id: string, requests: ReadonlyMap<string, CompletionRequest>): Promise<Map<string, BatchItemOutcome>> {
    const out = new Map<string, BatchItemOutcome>();
    const b = await this.#call((c) => c.batches.retrieve(id));
    const lines = async (fileId: string | null | undefined): Promise<Record<string, unknown>[]> => {
      if (!fileId) return [];
      const text = await this.#call(async (c) => await (await c.files.content(fileId)).text());
      return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    for (const line of [...(await lines(b.output_file_id)), ...(await lines(b.error_file_id))]) {
      const customId = String(line.custom_id ?? '');
      const response = line.response as { status_code?: number; body?: unknown } | null | undefined;
      const error = line.error as { code?: string; message?: string } | null | undefined;
      const req = requests.get(customId);
      if (!req) continue; // not ours: never trust an id the file invents
      if (response?.status_code === 200 && !error) {
        const { wrapped } = openAiChatBody(req, { ...this.settings, model: this.model });
        out.set(customId, { ok: true, result: openAiChatResult(response.body as OpenAI.Chat.Completions.ChatCompletion, wrapped, this.model, 0) });
      } else if (error?.code === 'batch_expired') {
        out.set(customId, { ok: false, kind: 'expired', error: error.message ?? 'batch expired before this request ran' });
      } else if (error?.code === 'batch_cancelled') {
        out.set(customId, { ok: false, kind: 'canceled', error: error.message ?? 'batch cancelled' });
      } else {
        const msg = error?.message ?? (response?.body as { error?: { message?: string } } | undefined)?.error?.message ?? `status ${response?.status_code ?? '?'}`;
        out.set(customId, { ok: false, kind: 'errored', error: msg });
      }
    }
    return out;
  }

  async cancel(id: string): Promise<void> {
    await this.#call((c) => c.batches.cancel(id));
  }
}
