/**
 * Fake batch APIs on 127.0.0.1, speaking the real protocols:
 *  - OpenAI: POST /v1/files (multipart/form-data, purpose=batch, a JSONL file whose every line is
 *    {custom_id, method: POST, url: /v1/chat/completions, body}), POST /v1/batches
 *    {input_file_id, endpoint, completion_window: 24h, metadata}, GET /v1/batches/{id} (status
 *    validating → in_progress → finalizing → completed, or failed / expired, cancelling →
 *    cancelled), POST /v1/batches/{id}/cancel, GET /v1/batches, GET /v1/files/{id}/content
 *    (output file and error file).
 *  - Anthropic: POST /v1/messages/batches {requests: [{custom_id, params}]}, GET
 *    /v1/messages/batches/{id} (processing_status in_progress → ended, canceling), its results_url
 *    (JSONL: succeeded / errored / canceled / expired), POST …/cancel, GET /v1/messages/batches.
 * Every request's auth is checked (Authorization: Bearer; x-api-key or Bearer plus
 * anthropic-version), and every batch line's body is checked as the live endpoint checks it
 * (liveExchange); errors come back with the service's status and body. Each retrieve advances
 * a batch one step, unless it was created while the test held batches.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackFake } from './loopback.js';
import { AUTH, liveExchange, type SeenRequest } from './server.js';

export type BatchProtocol = 'openai' | 'anthropic';
export type ItemFate = 'succeeded' | 'errored' | 'expired';

/** What one submitted batch will do: item fates by position, and how the batch ends. */
export interface BatchPlan {
  fates?: Record<number, ItemFate>;
  /** OpenAI: completed (default), expired (unfinished items expire), failed (validation failed, nothing ran). */
  end?: 'completed' | 'expired' | 'failed';
}

export interface FakeBatchOptions {
  protocol: BatchProtocol;
  apiKey: string;
  /** The answer text of one request (the offline provider in pipeline tests). */
  answer: (seen: SeenRequest) => string | Promise<string>;
}

interface Item {
  customId: string;
  body: Record<string, unknown>;
}

interface FakeBatch {
  id: string;
  items: Item[];
  plan: BatchPlan;
  /** Steps taken by retrieves (OpenAI: 0 validating, 1 in_progress, 2 finalizing, 3 ended). */
  step: number;
  created: number;
  metadata: Record<string, string> | null;
  inputFileId?: string;
  cancelled: boolean;
  /** Created while the server held batches: stays in progress until released. */
  held: boolean;
  outputFileId?: string;
  errorFileId?: string;
  results?: { customId: string; fate: ItemFate | 'canceled'; response?: unknown; error?: string }[];
}

export class FakeBatchServer extends LoopbackFake<FakeBatchOptions> {
  /** Every HTTP request: method, path, and what was wrong with it. */
  readonly log: { method: string; path: string; status: number; violations: string[] }[] = [];
  readonly batches: FakeBatch[] = [];
  /** Bodies of every answered item, in order (what a live call would have sent). */
  readonly answered: SeenRequest[] = [];
  /** The usage block of each answered item (same order as `answered`). */
  readonly answeredUsage: Record<string, unknown>[] = [];
  /** Live calls (POST /v1/chat/completions or /v1/messages), e.g. fallbacks of failed batch items. */
  readonly live: SeenRequest[] = [];
  /** Batches created while this is set stay in progress until released (release()). */
  held = false;
  /** Every input file uploaded (OpenAI), in order. */
  readonly uploads: { id: string; filename: string; bytes: number }[] = [];
  /** Requests carried out whose response is never sent (the caller's process is killed meanwhile). */
  readonly withheld: string[] = [];
  #withhold: 'upload' | 'create' | null = null;
  readonly #files = new Map<string, { purpose: string; content: string; filename: string; created: number }>();
  readonly #plans: BatchPlan[] = [];
  readonly #cachedPrefixes = new Set<string>();
  readonly #seenPrompts: string[] = [];
  #n = 0;

  static async start(opts: FakeBatchOptions): Promise<FakeBatchServer> {
    return await new FakeBatchServer(opts).listen();
  }

  get violations(): string[] {
    return this.log.flatMap((l) => l.violations.map((v) => `${l.method} ${l.path}: ${v}`));
  }

  /** Plans for the next batches, in submission order (unplanned batches: all succeed, completed). */
  plan(...plans: BatchPlan[]): this {
    this.#plans.push(...plans);
    return this;
  }

  /** Lets held batches end: the one with this id, else every one (and later batches are not held). */
  release(id?: string): void {
    if (id === undefined) this.held = false;
    for (const b of this.batches) if (id === undefined || b.id === id) b.held = false;
  }

  /**
   * The next file upload (OpenAI) or batch create is carried out, but its response is never sent:
   * as when the submitting process dies after the service accepted the request.
   */
  withholdNext(what: 'upload' | 'create'): this {
    this.#withhold = what;
    return this;
  }

  /** Whether this request's response is to be withheld (once); records it. */
  #withholding(what: 'upload' | 'create', id: string): boolean {
    if (this.#withhold !== what) return false;
    this.#withhold = null;
    this.withheld.push(id);
    return true;
  }

  /** Batch creates per idempotency key (OpenAI metadata; Anthropic carries none: "(none)"). */
  createsPerKey(): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of this.batches) {
      const k = Object.values(b.metadata ?? {})[0] ?? '(none)';
      out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  }

  /** Uploads per file name (OpenAI names each input file after its idempotency key). */
  uploadsPerName(): Map<string, number> {
    const out = new Map<string, number>();
    for (const u of this.uploads) out.set(u.filename, (out.get(u.filename) ?? 0) + 1);
    return out;
  }

  /** How many batches each custom id was sent in. */
  customIdSends(): Map<string, number> {
    const out = new Map<string, number>();
    for (const b of this.batches) for (const it of b.items) out.set(it.customId, (out.get(it.customId) ?? 0) + 1);
    return out;
  }

  #id(prefix: string): string {
    return `${prefix}${(++this.#n).toString().padStart(6, '0')}`;
  }

  #errorBody(status: number, message: string): unknown {
    if (this.opts.protocol === 'anthropic') {
      const type = status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : status === 400 ? 'invalid_request_error' : 'api_error';
      return { type: 'error', error: { type, message } };
    }
    return { error: { message, type: status === 401 ? 'invalid_request_error' : status === 404 ? 'invalid_request_error' : status === 400 ? 'invalid_request_error' : 'server_error', param: null, code: status === 401 ? 'invalid_api_key' : null } };
  }

  #send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  protected onRequest(req: IncomingMessage, res: ServerResponse): void {
    void this.#handle(req, res).catch((e: Error) => this.#send(res, 500, this.#errorBody(500, e.message)));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const method = req.method ?? '';
    const path = (req.url ?? '').split('?')[0]!;
    const entry = { method, path, status: 200, violations: [] as string[] };
    this.log.push(entry);
    const fail = (status: number, message: string) => {
      entry.status = status;
      entry.violations.push(message);
      this.#send(res, status, this.#errorBody(status, message));
    };
    // Auth on every request, as the service does, answered with the service's own error body.
    const refused = AUTH[this.opts.protocol](req.headers, this.opts.apiKey);
    if (refused) {
      entry.status = refused.status;
      entry.violations.push(`credential refused (HTTP ${refused.status}; authorization ${req.headers.authorization ?? '(none)'})`);
      return this.#send(res, refused.status, refused.body);
    }
    // The live endpoint too, for the calls that fall back from a failed batch item.
    if (method === 'POST' && path === (this.opts.protocol === 'openai' ? '/v1/chat/completions' : '/v1/messages')) {
      const body = parseJson(raw) as Record<string, unknown> | null;
      if (!body) return fail(400, 'body is not JSON');
      // Usage (prompt caching included) is counted as for a batch item: the same request costs the same tokens.
      const ex = await liveExchange(this.opts.protocol, body, (seen) => this.opts.answer(seen), (seen, answer) => this.#usage(seen, answer));
      if (!ex.response) return fail(400, ex.seen.violations.join('; '));
      this.live.push(ex.seen);
      return this.#send(res, 200, ex.response);
    }
    return this.opts.protocol === 'openai' ? await this.#openai(req, res, method, path, raw, fail) : await this.#anthropic(res, method, path, raw, fail);
  }

  // ---- OpenAI ----

  async #openai(req: IncomingMessage, res: ServerResponse, method: string, path: string, raw: Buffer, fail: (s: number, m: string) => void): Promise<void> {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/files') {
      const ct = req.headers['content-type'] ?? '';
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(ct);
      if (!ct.startsWith('multipart/form-data') || !boundary) return fail(400, 'files must be uploaded as multipart/form-data');
      const parts = parseMultipart(raw, boundary[1] ?? boundary[2]!);
      const purpose = parts.find((p) => p.name === 'purpose')?.data.toString('utf8');
      const file = parts.find((p) => p.name === 'file');
      if (purpose !== 'batch') return fail(400, `'purpose' must be 'batch' here, got ${purpose ?? '(none)'}`);
      if (!file?.filename) return fail(400, "'file' is a required property");
      const content = file.data.toString('utf8');
      const ids = new Set<string>();
      const lines = content.split('\n').filter((l) => l.trim() !== '');
      if (lines.length === 0) return fail(400, 'the batch input file is empty');
      for (const [i, line] of lines.entries()) {
        let o: { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
        try {
          o = JSON.parse(line) as typeof o;
        } catch {
          return fail(400, `line ${i + 1}: not valid JSON`);
        }
        if (typeof o.custom_id !== 'string' || o.custom_id === '') return fail(400, `line ${i + 1}: custom_id must be a non-empty string`);
        if (ids.has(o.custom_id)) return fail(400, `line ${i + 1}: duplicate custom_id ${o.custom_id}`);
        ids.add(o.custom_id);
        if (o.method !== 'POST') return fail(400, `line ${i + 1}: method must be POST`);
        if (o.url !== '/v1/chat/completions') return fail(400, `line ${i + 1}: url must be /v1/chat/completions`);
        if (!o.body || typeof o.body !== 'object') return fail(400, `line ${i + 1}: body must be an object`);
      }
      const id = this.#id('file-');
      this.#files.set(id, { purpose, content, filename: file.filename, created: Math.floor(Date.now() / 1000) });
      this.uploads.push({ id, filename: file.filename, bytes: Buffer.byteLength(content) });
      if (this.#withholding('upload', id)) return;
      return this.#send(res, 200, this.#openaiFile(id));
    }
    if (method === 'GET' && path === '/v1/files') {
      // Newest first (order=desc, the default), optionally of one purpose, `limit` per page after `after`.
      const q = new URL(req.url ?? '', 'http://x').searchParams;
      const order = q.get('order') ?? 'desc';
      if (order !== 'asc' && order !== 'desc') return fail(400, `Invalid value for 'order': ${order}`);
      let ids = [...this.#files.keys()].filter((id) => !q.get('purpose') || this.#files.get(id)!.purpose === q.get('purpose'));
      if (order === 'desc') ids.reverse();
      const after = q.get('after');
      if (after) ids = ids.slice(ids.indexOf(after) + 1);
      const limit = Number(q.get('limit') ?? 10000);
      const data = ids.slice(0, limit).map((id) => this.#openaiFile(id));
      return this.#send(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: ids.length > limit });
    }
    if (method === 'POST' && path === '/v1/batches') {
      const b = parseJson(raw) as { input_file_id?: string; endpoint?: string; completion_window?: string; metadata?: Record<string, string> } | null;
      if (!b) return fail(400, 'body is not JSON');
      if (b.endpoint !== '/v1/chat/completions') return fail(400, `endpoint must be /v1/chat/completions, got ${String(b.endpoint)}`);
      if (b.completion_window !== '24h') return fail(400, "completion_window must be '24h'");
      const file = b.input_file_id ? this.#files.get(b.input_file_id) : undefined;
      if (!file) return fail(404, `No such File object: ${String(b.input_file_id)}`);
      if (file.purpose !== 'batch') return fail(400, 'input file purpose must be batch');
      if (b.metadata && (Object.keys(b.metadata).length > 16 || Object.values(b.metadata).some((v) => typeof v !== 'string' || v.length > 512))) return fail(400, 'metadata: at most 16 string values of 512 characters');
      const items = file.content.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { custom_id: string; body: Record<string, unknown> });
      const batch: FakeBatch = { id: this.#id('batch_'), items: items.map((i) => ({ customId: i.custom_id, body: i.body })), plan: this.#plans.shift() ?? {}, step: 0, created: Math.floor(Date.now() / 1000), metadata: b.metadata ?? null, inputFileId: b.input_file_id!, cancelled: false, held: this.held };
      this.batches.push(batch);
      if (this.#withholding('create', batch.id)) return;
      return this.#send(res, 200, this.#openaiBatch(batch));
    }
    if (method === 'GET' && path === '/v1/batches') {
      const data = [...this.batches].reverse().map((b) => this.#openaiBatch(b));
      return this.#send(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
    }
    if ((m = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path))) {
      const batch = this.batches.find((b) => b.id === m![1]);
      if (!batch) return fail(404, `No batch found with id '${m[1]}'`);
      if (m[2] && method === 'POST') {
        if (batch.results) return fail(400, `Cannot cancel a batch with status ${this.#openaiStatus(batch)}`);
        batch.cancelled = true;
        return this.#send(res, 200, this.#openaiBatch(batch));
      }
      if (method !== 'GET') return fail(405, 'method not allowed');
      await this.#advance(batch);
      return this.#send(res, 200, this.#openaiBatch(batch));
    }
    if (method === 'GET' && (m = /^\/v1\/files\/([^/]+)\/content$/.exec(path))) {
      const file = this.#files.get(m[1]!);
      if (!file) return fail(404, `No such File object: ${m[1]}`);
      return this.#send(res, 200, file.content, 'application/octet-stream');
    }
    return fail(404, `Invalid URL (${method} ${path})`);
  }

  #openaiFile(id: string): Record<string, unknown> {
    const f = this.#files.get(id)!;
    return { id, object: 'file', bytes: Buffer.byteLength(f.content), created_at: f.created, filename: f.filename, purpose: f.purpose, status: 'processed', expires_at: null, status_details: null };
  }

  #openaiStatus(b: FakeBatch): string {
    if (b.results) return b.cancelled ? 'cancelled' : b.plan.end ?? 'completed';
    if (b.cancelled) return 'cancelling';
    return ['validating', 'in_progress', 'finalizing'][Math.min(b.step, 2)]!;
  }

  #openaiBatch(b: FakeBatch): Record<string, unknown> {
    const status = this.#openaiStatus(b);
    const done = b.results ?? [];
    return {
      id: b.id,
      object: 'batch',
      endpoint: '/v1/chat/completions',
      errors: status === 'failed' ? { object: 'list', data: [{ code: 'invalid_request', message: 'the input file failed validation', param: null, line: 1 }] } : null,
      input_file_id: b.inputFileId,
      completion_window: '24h',
      status,
      output_file_id: b.outputFileId ?? null,
      error_file_id: b.errorFileId ?? null,
      created_at: b.created,
      in_progress_at: b.step >= 1 ? b.created : null,
      expires_at: b.created + 86_400,
      finalizing_at: b.step >= 2 ? b.created : null,
      completed_at: status === 'completed' ? b.created : null,
      failed_at: status === 'failed' ? b.created : null,
      expired_at: status === 'expired' ? b.created : null,
      cancelling_at: b.cancelled ? b.created : null,
      cancelled_at: status === 'cancelled' ? b.created : null,
      request_counts: { total: b.items.length, completed: done.filter((r) => r.fate === 'succeeded').length, failed: done.filter((r) => r.fate !== 'succeeded').length },
      metadata: b.metadata,
    };
  }

  /** One retrieve moves a batch one step on (held: it stays in progress); the last step computes its results. */
  async #advance(b: FakeBatch): Promise<void> {
    if (b.results) return;
    if (b.cancelled) return await this.#finish(b);
    if (b.held) {
      b.step = Math.min(b.step + 1, 1);
      return;
    }
    b.step += 1;
    if (b.step >= (this.opts.protocol === 'openai' ? 3 : 1)) await this.#finish(b);
  }

  async #finish(b: FakeBatch): Promise<void> {
    const end = b.plan.end ?? 'completed';
    const results: NonNullable<FakeBatch['results']> = [];
    for (const [i, it] of b.items.entries()) results.push(await this.#itemResult(b, end, it, i));
    b.results = results;
    this.#writeFiles(b, end);
  }

  async #itemResult(b: FakeBatch, end: string, it: Item, i: number): Promise<NonNullable<FakeBatch['results']>[number]> {
    {
      if (b.cancelled) return { customId: it.customId, fate: 'canceled' as const };
      if (end === 'failed') return { customId: it.customId, fate: 'errored' as const, error: 'batch failed validation' };
      const fate = b.plan.fates?.[i] ?? (end === 'expired' && i % 2 === 1 ? 'expired' : 'succeeded');
      if (fate !== 'succeeded') return { customId: it.customId, fate, error: fate === 'expired' ? 'This request could not be executed before the completion window expired.' : 'scripted item error' };
      const ex = await liveExchange(this.opts.protocol, it.body, (seen) => this.opts.answer(seen), (seen, answer) => this.#usage(seen, answer));
      if (!ex.response) return { customId: it.customId, fate: 'errored' as const, error: ex.seen.violations.join('; ') };
      this.answered.push(ex.seen);
      this.answeredUsage.push((ex.response as { usage: Record<string, unknown> }).usage);
      return { customId: it.customId, fate: 'succeeded' as const, response: ex.response };
    }
  }

  #writeFiles(b: FakeBatch, end: string): void {
    if (!b.results) return;
    if (this.opts.protocol === 'openai' && end !== 'failed') {
      const ok = b.results.filter((r) => r.fate === 'succeeded');
      const bad = b.results.filter((r) => r.fate !== 'succeeded');
      if (ok.length > 0) {
        b.outputFileId = this.#id('file-');
        this.#files.set(b.outputFileId, { purpose: 'batch_output', filename: 'output.jsonl', created: Math.floor(Date.now() / 1000), content: ok.map((r) => JSON.stringify({ id: this.#id('batch_req_'), custom_id: r.customId, response: { status_code: 200, request_id: this.#id('req_'), body: r.response }, error: null })).join('\n') + '\n' });
      }
      if (bad.length > 0) {
        b.errorFileId = this.#id('file-');
        const line = (r: (typeof bad)[number]) =>
          r.fate === 'expired'
            ? { id: this.#id('batch_req_'), custom_id: r.customId, response: null, error: { code: 'batch_expired', message: r.error } }
            : r.fate === 'canceled'
              ? { id: this.#id('batch_req_'), custom_id: r.customId, response: null, error: { code: 'batch_cancelled', message: 'This request was cancelled.' } }
              : { id: this.#id('batch_req_'), custom_id: r.customId, response: { status_code: 400, request_id: this.#id('req_'), body: { error: { message: r.error, type: 'invalid_request_error', param: null, code: null } } }, error: null };
        this.#files.set(b.errorFileId, { purpose: 'batch_output', filename: 'errors.jsonl', created: Math.floor(Date.now() / 1000), content: bad.map((r) => JSON.stringify(line(r))).join('\n') + '\n' });
      }
    }
  }

  /**
   * Token usage with prompt caching, by each API's rule (tokens estimated at 4 characters each):
   * Anthropic caches the prefix up to the cache_control breakpoint (tools, system, then the marked
   * block), only when it reaches the model's minimum (anthropicCacheMinimum); the first request
   * writes it, an identical prefix later reads it. OpenAI caches automatically: the longest prefix
   * shared with an earlier prompt, in 128-token steps, from 1024 tokens on.
   */
  #usage(seen: SeenRequest, answer: string): Record<string, unknown> {
    const prompt = `${seen.system ?? ''}${seen.prompt ?? ''}`;
    const output = Math.ceil(answer.length / 4) + 3;
    if (this.opts.protocol === 'anthropic') {
      const tools = seen.body.tools ? JSON.stringify(seen.body.tools) : '';
      const total = Math.ceil((tools.length + prompt.length) / 4) + 7;
      const first = ((seen.body.messages as { content: unknown }[] | undefined)?.[0]?.content ?? []) as { text?: string; cache_control?: { type: string } }[];
      const marked = Array.isArray(first) && first[0]?.cache_control?.type === 'ephemeral' ? (first[0].text ?? '') : '';
      const prefix = `${tools}${seen.system ?? ''}${marked}`;
      const tokens = Math.ceil(prefix.length / 4);
      if (!marked || tokens < anthropicCacheMinimum(String(seen.body.model))) return { input_tokens: total, output_tokens: output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
      const key = `${String(seen.body.model)}\0${prefix}`;
      const hit = this.#cachedPrefixes.has(key);
      this.#cachedPrefixes.add(key);
      // input_tokens counts only what came after the breakpoint.
      return { input_tokens: total - tokens, output_tokens: output, cache_read_input_tokens: hit ? tokens : 0, cache_creation_input_tokens: hit ? 0 : tokens };
    }
    const total = Math.ceil(prompt.length / 4) + 7;
    let best = 0;
    for (const p of this.#seenPrompts) {
      let i = 0;
      while (i < p.length && i < prompt.length && p[i] === prompt[i]) i++;
      best = Math.max(best, i);
    }
    this.#seenPrompts.push(prompt);
    const common = Math.floor(Math.ceil(best / 4) / 128) * 128;
    const cached = common >= 1024 ? common : 0;
    return { prompt_tokens: total, completion_tokens: output, total_tokens: total + output, prompt_tokens_details: { cached_tokens: cached } };
  }

  // ---- Anthropic ----

  async #anthropic(res: ServerResponse, method: string, path: string, raw: Buffer, fail: (s: number, m: string) => void): Promise<void> {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/messages/batches') {
      const b = parseJson(raw) as { requests?: { custom_id?: unknown; params?: Record<string, unknown> }[] } | null;
      if (!b || !Array.isArray(b.requests) || b.requests.length === 0) return fail(400, 'requests: field required (a non-empty list)');
      if (b.requests.length > 100_000) return fail(400, 'requests: at most 100,000 per batch');
      const ids = new Set<string>();
      for (const [i, r] of b.requests.entries()) {
        if (typeof r.custom_id !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(r.custom_id)) return fail(400, `requests.${i}.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$`);
        if (ids.has(r.custom_id)) return fail(400, `requests.${i}.custom_id: duplicate ${r.custom_id}`);
        ids.add(r.custom_id);
        if (!r.params || typeof r.params.model !== 'string' || typeof r.params.max_tokens !== 'number' || !Array.isArray(r.params.messages)) return fail(400, `requests.${i}.params: model, max_tokens and messages are required`);
      }
      const batch: FakeBatch = { id: this.#id('msgbatch_'), items: b.requests.map((r) => ({ customId: r.custom_id as string, body: r.params! })), plan: this.#plans.shift() ?? {}, step: 0, created: Date.now(), metadata: null, cancelled: false, held: this.held };
      this.batches.push(batch);
      if (this.#withholding('create', batch.id)) return;
      return this.#send(res, 200, this.#anthropicBatch(batch));
    }
    if (method === 'GET' && path === '/v1/messages/batches') {
      const data = [...this.batches].reverse().map((x) => this.#anthropicBatch(x));
      return this.#send(res, 200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
    }
    if ((m = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/.exec(path))) {
      const batch = this.batches.find((x) => x.id === m![1]);
      if (!batch) return fail(404, `message batch ${m[1]} not found`);
      if (m[2] === '/cancel' && method === 'POST') {
        if (!batch.results) batch.cancelled = true;
        return this.#send(res, 200, this.#anthropicBatch(batch));
      }
      if (m[2] === '/results' && method === 'GET') {
        if (!batch.results) return fail(400, `message batch ${batch.id} has not ended; its results are not available`);
        const lines = batch.results.map((r) => ({
          custom_id: r.customId,
          result:
            r.fate === 'succeeded'
              ? { type: 'succeeded', message: r.response }
              : r.fate === 'errored'
                ? { type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error', message: r.error } } }
                : { type: r.fate },
        }));
        return this.#send(res, 200, lines.map((l) => JSON.stringify(l)).join('\n') + '\n', 'application/binary');
      }
      if (method !== 'GET' || m[2]) return fail(405, 'method not allowed');
      await this.#advance(batch);
      return this.#send(res, 200, this.#anthropicBatch(batch));
    }
    return fail(404, `Not found (${method} ${path})`);
  }

  #anthropicBatch(b: FakeBatch): Record<string, unknown> {
    const r = b.results;
    const count = (f: string) => (r ?? []).filter((x) => x.fate === f).length;
    return {
      id: b.id,
      type: 'message_batch',
      processing_status: r ? 'ended' : b.cancelled ? 'canceling' : 'in_progress',
      request_counts: { processing: r ? 0 : b.items.length, succeeded: count('succeeded'), errored: count('errored'), canceled: count('canceled'), expired: count('expired') },
      ended_at: r ? new Date().toISOString() : null,
      created_at: new Date(b.created).toISOString(),
      expires_at: new Date(b.created + 86_400_000).toISOString(),
      archived_at: null,
      cancel_initiated_at: b.cancelled ? new Date().toISOString() : null,
      results_url: r ? `${this.url}/v1/messages/batches/${b.id}/results` : null,
    };
  }
}

/**
 * Anthropic's minimum cacheable prefix per model, in tokens (its prompt-caching documentation):
 * 4096 for Claude Haiku 4.5 and Opus 4.5 / 4.6, 2048 for Sonnet 4.6 and the Haiku 3 / 3.5 models,
 * 1024 for the other Sonnet and Opus models. A shorter marked prefix is not cached at all.
 */
export function anthropicCacheMinimum(model: string): number {
  if (/^claude-(haiku-4-5|opus-4-[56])/.test(model)) return 4096;
  if (/^claude-(sonnet-4-6|3-5-haiku|3-haiku)/.test(model)) return 2048;
  return 1024;
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
}

/** A minimal multipart/form-data reader (name, filename, bytes of each part). */
function parseMultipart(raw: Buffer, boundary: string): { name: string; filename?: string; data: Buffer }[] {
  const out: { name: string; filename?: string; data: Buffer }[] = [];
  const delim = Buffer.from(`--${boundary}`);
  let pos = raw.indexOf(delim);
  while (pos !== -1) {
    const start = pos + delim.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    const next = raw.indexOf(delim, start);
    if (next === -1) break;
    const part = raw.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const headEnd = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, headEnd).toString('utf8');
    const name = /name="([^"]*)"/.exec(head)?.[1] ?? '';
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    out.push({ name, ...(filename !== undefined ? { filename } : {}), data: part.subarray(headEnd + 4) });
    pos = next;
  }
  return out;
}
