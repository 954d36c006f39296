/**
 * Translating provider failures into the error family of src/errors.ts, once, for every SDK:
 * 429 → LlmRateLimitedError (with the server's delay), 5xx / timeout / connection → transient,
 * 400/401/403/404 (and any other 4xx) → fatal. The queue decides what to do with each.
 */
import { LlmAuthError, LlmFatalError, LlmRateLimitedError, LlmTransientError, LlmUnreachableError } from '../errors.js';

/** Used when a 429 carries no usable retry-after: retrying at once would only earn another 429. */
export const DEFAULT_RETRY_AFTER_MS = 1000;

export type HeaderBag = Headers | Record<string, string | string[] | undefined> | undefined | null;

function header(headers: HeaderBag, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The delay a server asks for: `retry-after-ms`, else `retry-after` as seconds or as an HTTP-date.
 * Returns undefined when neither is present or parseable.
 */
export function retryAfterFromHeaders(headers: HeaderBag, now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const ra = header(headers, 'retry-after');
  if (ra === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Math.ceil(Number(ra) * 1000);
  const date = Date.parse(ra);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Google APIs put the delay in the body: `error.details[].retryDelay: "37s"` (google.rpc.RetryInfo). */
export function retryAfterFromGoogleBody(body: string): number | undefined {
  const m = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(body);
  return m ? Math.ceil(Number(m[1]) * 1000) : undefined;
}

/** Maps an HTTP status (with the server's message) to the error family. */
export function errorForStatus(provider: string, status: number, message: string, retryAfterMs?: number): Error {
  const text = `${provider}: HTTP ${status}: ${excerpt(message, 300)}`;
  if (isCredentialRefusal(status, message)) return new LlmAuthError(`${provider} refused the API key (HTTP ${status}): set ${KEY_VARIABLE[provider] ?? 'the API key'} to a valid key (server said: ${excerpt(message, 160)})`);
  if (status === 429) return new LlmRateLimitedError(text, retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
  if (status >= 500 || status === 408) return new LlmTransientError(text);
  return new LlmFatalError(text);
}

/** The variable that holds each provider's key (config keys openaiApiKey, anthropicApiKey, geminiApiKey). */
const KEY_VARIABLE: Record<string, string> = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY', gemini: 'GEMINI_API_KEY' };

/** 401 everywhere; Gemini answers a bad key with 400 API_KEY_INVALID and a missing one with 403. */
function isCredentialRefusal(status: number, message: string): boolean {
  if (status === 401) return true;
  return (status === 400 || status === 403) && /API_KEY_INVALID|API key not valid|unregistered callers/i.test(message);
}

export function excerpt(text: string, max = 500): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * One deadline per call: the caller's signal (a job being cancelled or shut down) combined with
 * the call timeout. Keeping our own timer, rather than each SDK's, lets every provider tell a
 * timeout (transient) from a cancellation (rethrown as the caller's abort reason).
 */
export class CallDeadline {
  readonly signal: AbortSignal;
  readonly #timeout: AbortController;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #caller: AbortSignal | undefined;

  constructor(readonly timeoutMs: number, caller?: AbortSignal) {
    this.#caller = caller;
    this.#timeout = new AbortController();
    this.#timer = timeoutMs > 0 ? setTimeout(() => this.#timeout.abort(new Error('timeout')), timeoutMs) : undefined;
    this.signal = caller ? AbortSignal.any([caller, this.#timeout.signal]) : this.#timeout.signal;
  }

  get timedOut(): boolean {
    return this.#timeout.signal.aborted && !this.#caller?.aborted;
  }

  get cancelled(): boolean {
    return Boolean(this.#caller?.aborted);
  }

  /** Throws the caller's abort reason if the caller gave up before the call started. */
  throwIfCancelled(): void {
    if (this.#caller?.aborted) throw abortReason(this.#caller);
  }

  /**
   * The error to throw for a failure seen while this deadline was running: cancellation and
   * timeout win over whatever the SDK made of the aborted request.
   */
  translate(provider: string, err: unknown, mapOther: (e: unknown) => Error): Error {
    if (this.#caller?.aborted) return abortReason(this.#caller);
    if (this.timedOut) return new LlmTransientError(`${provider}: no answer within ${this.timeoutMs} ms (timeout)`);
    return mapOther(err);
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }
}

export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(typeof r === 'string' ? r : 'The operation was aborted');
  e.name = 'AbortError';
  return e;
}

/** Socket errors raised before any byte reached a server: nothing was sent, nothing is charged. */
export const NEVER_CONNECTED_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'ENONET']);

/** The first socket error code along an error's cause chain (SDKs wrap fetch, which wraps the socket). */
export function connectionCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.length > 0) {
      const found = inner.map(connectionCode).find((c) => c !== undefined);
      if (found) return found;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Connection-level failures (refused, reset, DNS) of fetch-based SDKs. A connection never made is
 * an LlmUnreachableError (not charged); a reset after connecting may have reached the server.
 */
export function transientConnectionError(provider: string, err: unknown): LlmTransientError {
  const code = connectionCode(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = code ?? cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
  const text = `${provider}: connection failed: ${excerpt(String(detail), 200)}`;
  if (code && NEVER_CONNECTED_CODES.has(code)) return new LlmUnreachableError(`${text} (provider unreachable; not charged)`, code);
  return new LlmTransientError(text);
}
