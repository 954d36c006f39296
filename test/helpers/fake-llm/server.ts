/**
 * Fake LLM servers: real HTTP servers on 127.0.0.1 speaking the real wire protocols (OpenAI chat
 * completions, Gemini generateContent REST, Anthropic messages). Each records every request,
 * checks it (path, auth header, model, prompt present, schema when structured output is asked
 * for) and answers from a script of steps, falling back to an answer callback. The pipeline tests
 * plug the offline provider in as that callback, so a real SDK talks to a deterministic "model".
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackFake } from './loopback.js';

export type Protocol = 'openai' | 'gemini' | 'anthropic';

/** One scripted reaction to one request; unscripted requests get `{ type: 'answer' }`. */
export type Step =
  | { type: 'answer'; text?: string; delayMs?: number }
  /** The answer cut after `keepChars` characters, flagged as stopped by the token limit. */
  | { type: 'truncated'; keepChars: number; text?: string }
  | { type: 'error'; status: number; headers?: Record<string, string>; message?: string; body?: string }
  /** Never answers; the socket stays open until the client gives up. */
  | { type: 'hang' }
  /** Destroys the connection without a response. */
  | { type: 'reset' };

export interface SeenRequest {
  protocol: Protocol;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** What the request asked for, in protocol-neutral terms. */
  model: string | undefined;
  prompt: string | undefined;
  system: string | undefined;
  schema: unknown;
  temperature: number | undefined;
  receivedAt: number;
  step: Step;
  /** What was wrong with the request; a non-empty list also gets a 400 answer. */
  violations: string[];
  /** The credential or version header was missing or wrong: answered as the service does. */
  authFailure?: AuthFailure;
}

/** A refused credential: the status and body the real service answers with. */
export interface AuthFailure {
  status: number;
  body: unknown;
}

export interface FakeLlmOptions {
  protocol: Protocol;
  /** The key the server accepts; a request without it gets the service's real 401 (Gemini: 400/403). */
  apiKey: string;
  /** When set, a request for another model is a violation. */
  expectModel?: string;
  /** The answer text for an unscripted or text-less `answer` step. Default: `[]`. */
  answer?: (req: SeenRequest) => string | Promise<string>;
  /** The model id the server reports back (default: the requested id + `-fake-001`). */
  reportedModel?: (requested: string) => string;
  /** Chooses the reaction to a request by what it asks (e.g. an error for one judge chunk); null: the script's step. */
  react?: (req: SeenRequest) => Step | null;
}

export const fakeUsage = (prompt: string, answer: string) => ({ input: Math.ceil(prompt.length / 4) + 7, output: Math.ceil(answer.length / 4) + 3 });

export class FakeLlmServer extends LoopbackFake<FakeLlmOptions> {
  readonly requests: SeenRequest[] = [];
  readonly #steps: Step[] = [];

  static async start(opts: FakeLlmOptions): Promise<FakeLlmServer> {
    return await new FakeLlmServer(opts).listen();
  }

  /** Every violation seen so far, prefixed with the request number. */
  get violations(): string[] {
    return this.requests.flatMap((r, i) => [
      ...(r.authFailure ? [`#${i}: credential refused (HTTP ${r.authFailure.status}; authorization ${r.headers.authorization ?? '(none)'})`] : []),
      ...r.violations.map((v) => `#${i}: ${v}`),
    ]);
  }

  /** Drops the steps not yet used: later requests get the default answer. */
  clearScript(): this {
    this.#steps.length = 0;
    return this;
  }

  script(...steps: Step[]): this {
    this.#steps.push(...steps);
    return this;
  }

  protected onRequest(req: IncomingMessage, res: ServerResponse): void {
    void this.#handle(req, res);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    const violations: string[] = [];
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      violations.push('request body is not JSON');
    }
    const scripted: Step = this.#steps.shift() ?? { type: 'answer' };
    const seen = inspected(this.opts.protocol, { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, step: scripted, violations });
    // Checked first and on every request, as the service does: no answer without the credential.
    seen.authFailure = AUTH[this.opts.protocol](seen.headers, this.opts.apiKey);
    if (this.opts.expectModel && seen.model !== this.opts.expectModel) violations.push(`model ${seen.model} instead of ${this.opts.expectModel}`);
    const chosen = this.opts.react?.(seen);
    if (chosen) seen.step = chosen;
    this.requests.push(seen);

    if (seen.authFailure) {
      res.writeHead(seen.authFailure.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(seen.authFailure.body));
      return;
    }
    if (violations.length > 0) return sendError(res, this.opts.protocol, 400, violations.join('; '));
    const step = seen.step;
    switch (step.type) {
      case 'hang':
        return; // The response is never written.
      case 'reset':
        req.socket.destroy();
        return;
      case 'error': {
        res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
        res.end(step.body ?? JSON.stringify(errorBody(this.opts.protocol, step.status, step.message ?? `scripted ${step.status}`)));
        return;
      }
      case 'answer':
      case 'truncated': {
        let text = step.text ?? (this.opts.answer ? await this.opts.answer(seen) : '[]');
        if (step.type === 'answer' && step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
        const truncated = step.type === 'truncated';
        if (truncated) text = text.slice(0, step.keepChars);
        const model = (this.opts.reportedModel ?? ((m: string) => `${m}-fake-001`))(seen.model ?? 'unknown');
        const usage = fakeUsage(`${seen.system ?? ''}${seen.prompt ?? ''}`, text);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(PROTOCOLS[this.opts.protocol].answer(seen, text, { model, usage, truncated })));
        return;
      }
    }
  }
}

function sendError(res: ServerResponse, protocol: Protocol, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(errorBody(protocol, status, message)));
}

function errorBody(protocol: Protocol, status: number, message: string): unknown {
  if (protocol === 'gemini') return { error: { code: status, message, status: status === 429 ? 'RESOURCE_EXHAUSTED' : 'ERROR' } };
  if (protocol === 'anthropic') return { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message } };
  return { error: { message, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null } };
}

interface AnswerMeta {
  model: string;
  usage: { input: number; output: number };
  truncated: boolean;
}

/** If the request's schema wraps an array under `items` (object-root APIs), answer in that shape. */
function wrapIfAsked(schema: unknown, text: string): { json?: unknown; text: string } {
  const s = schema as { type?: string; properties?: Record<string, unknown> } | undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (s?.type === 'object' && s.properties && 'items' in s.properties && Array.isArray(v)) return { json: { items: v }, text: JSON.stringify({ items: v }) };
    return { json: v, text };
  } catch {
    // A scripted malformed answer: the server passes it through as a non-compliant server would.
    return { text };
  }
}

/** `sk-abc…xyz` as OpenAI shows a wrong key in its error message. */
const maskKey = (k: string): string => (k.length > 8 ? `${k.slice(0, 3)}${'*'.repeat(Math.max(4, k.length - 7))}${k.slice(-4)}` : k);

/**
 * The credential and version checks each service makes, with its real error bodies:
 * OpenAI `Authorization: Bearer` (401 invalid_api_key); Anthropic `x-api-key` or, as SDK 1.x
 * sends it, `Authorization: Bearer`, plus `anthropic-version` (401 authentication_error / 400);
 * Gemini `x-goog-api-key` (400 API_KEY_INVALID for a wrong key, 403 for none).
 */
export const AUTH: Record<Protocol, (headers: IncomingMessage['headers'], key: string) => AuthFailure | undefined> = {
  openai(headers, key) {
    const auth = headers.authorization;
    if (!auth) {
      return {
        status: 401,
        body: {
          error: {
            message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        },
      };
    }
    if (auth !== `Bearer ${key}`) {
      const given = auth.replace(/^Bearer\s+/i, '');
      return {
        status: 401,
        body: { error: { message: `Incorrect API key provided: ${maskKey(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
      };
    }
    return undefined;
  },
  anthropic(headers, key) {
    const given = headers['x-api-key'] ?? headers.authorization?.replace(/^Bearer\s+/i, '');
    if (given !== key) return { status: 401, body: { type: 'error', error: { type: 'authentication_error', message: given ? 'invalid x-api-key' : 'x-api-key header is required' } } };
    if (!headers['anthropic-version']) return { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } } };
    return undefined;
  },
  gemini(headers, key) {
    const given = headers['x-goog-api-key'];
    if (!given) {
      return {
        status: 403,
        body: {
          error: {
            code: 403,
            message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
            status: 'PERMISSION_DENIED',
          },
        },
      };
    }
    if (given !== key) {
      return {
        status: 400,
        body: {
          error: {
            code: 400,
            message: 'API key not valid. Please pass a valid API key.',
            status: 'INVALID_ARGUMENT',
            details: [
              { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
              { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
            ],
          },
        },
      };
    }
    return undefined;
  },
};

const PROTOCOLS: Record<Protocol, { inspect(seen: SeenRequest): void; answer(seen: SeenRequest, text: string, meta: AnswerMeta): unknown }> = {
  openai: {
    inspect(seen) {
      const v = seen.violations;
      if (seen.method !== 'POST' || seen.path !== '/v1/chat/completions') v.push(`unexpected ${seen.method} ${seen.path}`);
      const b = seen.body as { model?: string; messages?: { role: string; content: string }[]; response_format?: { type: string; json_schema?: { name?: string; schema?: unknown; strict?: boolean } }; temperature?: number };
      seen.model = b.model;
      seen.temperature = b.temperature;
      seen.prompt = b.messages?.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
      seen.system = b.messages?.filter((m) => m.role === 'system').map((m) => m.content).join('\n') || undefined;
      if (b.response_format?.type === 'json_schema') {
        const js = b.response_format.json_schema;
        if (!js?.name || !js.schema) v.push('json_schema response_format without name or schema');
        if ((js?.schema as { type?: string } | undefined)?.type !== 'object') v.push('json_schema root must be an object');
        seen.schema = js?.schema;
      }
      if (b.response_format?.type === 'json_object') {
        // OpenAI refuses json_object unless a message asks for JSON; the model then answers with an
        // object, so an array the system message asks to wrap under "items" comes back wrapped.
        const all = (b.messages ?? []).map((m) => m.content).join('\n');
        if (!/json/i.test(all)) v.push("json_object response_format without the word 'json' in the messages");
        if (/\{"items": \[/.test(seen.system ?? '')) seen.schema = { type: 'object', properties: { items: {} } };
      }
      const known = ['json_schema', 'json_object', 'text'];
      if (b.response_format && !known.includes(b.response_format.type)) v.push(`unknown response_format type ${b.response_format.type}`);
    },
    answer(seen, text, { model, usage, truncated }) {
      const content = truncated ? text : wrapIfAsked(seen.schema, text).text;
      return {
        id: `chatcmpl-${seen.receivedAt}`,
        object: 'chat.completion',
        created: Math.floor(seen.receivedAt / 1000),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: truncated ? 'length' : 'stop' }],
        usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
      };
    },
  },
  gemini: {
    inspect(seen) {
      const v = seen.violations;
      const m = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(seen.path);
      if (seen.method !== 'POST' || !m) v.push(`unexpected ${seen.method} ${seen.path}`);
      seen.model = m?.[1];
      const b = seen.body as {
        contents?: { parts?: { text?: string }[] }[];
        systemInstruction?: { parts?: { text?: string }[] };
        generationConfig?: { responseMimeType?: string; responseJsonSchema?: unknown; temperature?: number };
      };
      seen.prompt = b.contents?.flatMap((c) => c.parts ?? []).map((p) => p.text ?? '').join('\n') || undefined;
      seen.system = b.systemInstruction?.parts?.map((p) => p.text ?? '').join('\n') || undefined;
      seen.temperature = b.generationConfig?.temperature;
      if (b.generationConfig?.responseJsonSchema) {
        if (b.generationConfig.responseMimeType !== 'application/json') v.push('responseJsonSchema without responseMimeType application/json');
        seen.schema = b.generationConfig.responseJsonSchema;
      }
    },
    answer(_seen, text, { model, usage, truncated }) {
      return {
        candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: truncated ? 'MAX_TOKENS' : 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: usage.input, candidatesTokenCount: usage.output, totalTokenCount: usage.input + usage.output },
        modelVersion: model,
        responseId: `resp-${_seen.receivedAt}`,
      };
    },
  },
  anthropic: {
    inspect(seen) {
      const v = seen.violations;
      if (seen.method !== 'POST' || seen.path !== '/v1/messages') v.push(`unexpected ${seen.method} ${seen.path}`);
      const b = seen.body as {
        model?: string;
        max_tokens?: number;
        system?: string;
        temperature?: number;
        messages?: { role: string; content: string | { type: string; text?: string }[] }[];
        tools?: { name: string; input_schema?: unknown }[];
        tool_choice?: { type: string; name?: string };
      };
      seen.model = b.model;
      seen.system = b.system;
      seen.temperature = b.temperature;
      if (typeof b.max_tokens !== 'number') v.push('max_tokens missing');
      seen.prompt = b.messages
        ?.filter((m) => m.role === 'user')
        .map((m) => (typeof m.content === 'string' ? m.content : m.content.map((c) => c.text ?? '').join('')))
        .join('\n');
      if (b.tools?.length) {
        const tool = b.tools.find((t) => t.name === b.tool_choice?.name);
        if (b.tool_choice?.type !== 'tool' || !tool) v.push('tools given without tool_choice {type: tool, name}');
        if ((tool?.input_schema as { type?: string } | undefined)?.type !== 'object') v.push('tool input_schema root must be an object');
        seen.schema = tool?.input_schema;
      }
    },
    answer(seen, text, { model, usage, truncated }) {
      const b = seen.body as { tool_choice?: { name?: string } };
      const wrapped = wrapIfAsked(seen.schema, text);
      const content =
        seen.schema && !truncated && wrapped.json !== undefined && typeof wrapped.json === 'object' && !Array.isArray(wrapped.json)
          ? [{ type: 'tool_use', id: `toolu_${seen.receivedAt}`, name: b.tool_choice?.name, input: wrapped.json }]
          : [{ type: 'text', text }];
      return {
        id: `msg_${seen.receivedAt}`,
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: truncated ? 'max_tokens' : content[0]!.type === 'tool_use' ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: usage.input, output_tokens: usage.output },
      };
    },
  },
};

/**
 * A request as a fake received it, read by its protocol (model, prompt, system, schema,
 * temperature); a request without a prompt gets that violation.
 */
function inspected(protocol: Protocol, req: Pick<SeenRequest, 'method' | 'path' | 'headers' | 'body' | 'step' | 'violations'>): SeenRequest {
  const seen: SeenRequest = { protocol, ...req, model: undefined, prompt: undefined, system: undefined, schema: undefined, temperature: undefined, receivedAt: Date.now() };
  PROTOCOLS[protocol].inspect(seen);
  if (!seen.prompt) seen.violations.push('no prompt in the request');
  return seen;
}

/**
 * One request body as the live endpoint would take it (`/v1/chat/completions` or `/v1/messages`):
 * its violations (the live server's checks) and, when it has none, the response the live server
 * would send for `text`. Batch fakes answer each line of a batch through this.
 */
export async function liveExchange(protocol: 'openai' | 'anthropic', body: Record<string, unknown>, text: (seen: SeenRequest) => string | Promise<string>, usage?: (seen: SeenRequest, answer: string) => Record<string, unknown>): Promise<{ seen: SeenRequest; response?: unknown }> {
  const seen = inspected(protocol, {
    method: 'POST',
    path: protocol === 'openai' ? '/v1/chat/completions' : '/v1/messages',
    // Auth and version headers are the batch request's, checked by the batch fake itself.
    headers: protocol === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {},
    body,
    step: { type: 'answer' },
    violations: [],
  });
  if (seen.violations.length > 0) return { seen };
  const answer = await text(seen);
  const u = fakeUsage(`${seen.system ?? ''}${seen.prompt ?? ''}`, answer);
  const response = PROTOCOLS[protocol].answer(seen, answer, { model: `${seen.model ?? 'unknown'}-fake-001`, usage: u, truncated: false }) as { usage: Record<string, unknown> };
  if (usage) response.usage = usage(seen, answer);
  return { seen, response };
}
