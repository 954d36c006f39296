/**
 * What every provider built on a vendor SDK shares (anthropic, openai, gemini, and the batch
 * clients of the first two): the settings, the SDK imported on first use, one client per provider
 * object built with our key, base URL, timeout and no SDK retries, and a live call run under a
 * deadline whose failures become the error family. The two live providers on Stainless-generated
 * SDKs (anthropic, openai) share all of it but the request itself (StainlessProvider).
 */
import { CallDeadline, errorForStatus, retryAfterFromHeaders, transientConnectionError, type HeaderBag } from './errors.js';
import type { CompletionRequest, CompletionResult } from './types.js';

export interface ProviderSettings {
  apiKey: string;
  model: string;
  baseUrl?: string;
  /** Default temperature; a request's own temperature wins. */
  temperature?: number;
  /** Default call timeout in ms; a request's own timeoutMs wins. */
  timeoutMs?: number;
  /** Default output token cap. */
  maxOutputTokens?: number;
}

export const DEFAULT_TIMEOUT_MS = 300_000;

/** Imports an SDK on the first call only, so a command that makes no call does not pay for it. */
export function lazyImport<M>(load: () => Promise<M>): () => Promise<M> {
  let loaded: Promise<M> | undefined;
  return () => (loaded ??= load());
}

/**
 * The options every SDK client is built with. Retries belong to the queue (with its budget and
 * backoff), never to the SDK. A live call passes `liveTimeoutMs`: its CallDeadline aborts first,
 * and the SDK's own timeout only guards against a deadline that never fires. A batch call has no
 * deadline of its own, so its SDK timeout is the configured one.
 */
export function clientOptions(s: ProviderSettings, timeoutMs: number): { apiKey: string; baseURL: string | null; maxRetries: 0; timeout: number } {
  return { apiKey: s.apiKey, baseURL: s.baseUrl ?? null, maxRetries: 0, timeout: timeoutMs };
}

/** The SDK timeout of a live call: five seconds past the call's own deadline. */
export const liveTimeoutMs = (s: ProviderSettings): number => (s.timeoutMs ?? DEFAULT_TIMEOUT_MS) + 5_000;

/** An SDK imported on first use and the one client built from it. */
export class LazyClient<M, C> {
  /** The SDK module once loaded (error mapping needs its error classes). */
  mod: M | undefined;
  #client: C | undefined;

  constructor(
    private readonly load: () => Promise<M>,
    private readonly build: (mod: M) => C,
  ) {}

  async get(): Promise<C> {
    this.mod ??= await this.load();
    return (this.#client ??= this.build(this.mod));
  }

  /** Runs `fn` with the client; a failure is mapped (with the SDK's error classes) into the error family. */
  async call<T>(fn: (client: C) => Promise<T>, mapError: (e: unknown, mod: M | undefined) => Error): Promise<T> {
    const client = await this.get();
    try {
      return await fn(client);
    } catch (e) {
      throw mapError(e, this.mod);
    }
  }
}

/** The model, the settings and the SDK client of a provider object. */
export abstract class SdkBacked<M, C, S extends ProviderSettings = ProviderSettings> {
  readonly model: string;
  protected readonly settings: S;
  protected abstract readonly sdk: LazyClient<M, C>;

  constructor(settings: S) {
    this.model = settings.model;
    this.settings = settings;
  }

  /**
   * One live call under a deadline (the request's timeout, else the settings', else the default):
   * `run` gets the client, the deadline and the start time; a failure becomes cancellation,
   * timeout, or what `mapError` makes of the SDK's error.
   */
  protected async underDeadline<T>(
    provider: string,
    req: CompletionRequest,
    run: (client: C, deadline: CallDeadline, started: number) => Promise<T>,
    mapError: (e: unknown, mod: M | undefined) => Error,
  ): Promise<T> {
    const deadline = new CallDeadline(req.timeoutMs ?? this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS, req.signal);
    const started = performance.now();
    try {
      const client = await this.sdk.get();
      deadline.throwIfCancelled();
      return await run(client, deadline, started);
    } catch (err) {
      throw deadline.translate(provider, err, (e) => mapError(e, this.sdk.mod));
    } finally {
      deadline.dispose();
    }
  }
}

/** The error classes of the two Stainless-generated SDKs (openai, @anthropic-ai/sdk), which match. */
export interface StainlessErrors {
  APIConnectionError: abstract new (...args: never[]) => Error;
  APIError: abstract new (...args: never[]) => Error & { status: number | undefined; headers: HeaderBag };
}

/** SDK errors → the error family: a connection failure is transient; an HTTP status keeps its retry-after. */
export function mapStainlessError(provider: string, e: unknown, errors: StainlessErrors | undefined): Error {
  if (errors && e instanceof errors.APIConnectionError) return transientConnectionError(provider, e);
  if (errors && e instanceof errors.APIError && typeof e.status === 'number') {
    return errorForStatus(provider, e.status, e.message, retryAfterFromHeaders(e.headers));
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** An SDK whose default export is a Stainless-generated client class (openai, @anthropic-ai/sdk). */
export interface StainlessSdk<C> {
  default: StainlessErrors & (new (options: ReturnType<typeof clientOptions>) => C);
}

/**
 * A live provider on a Stainless-generated SDK: the client is the SDK's default export built with
 * the live timeout, and a failed call maps through the SDK's error classes. `send` makes the one
 * request (the signal is the call deadline's) and reads its result.
 */
export abstract class StainlessProvider<M extends StainlessSdk<C>, C, S extends ProviderSettings = ProviderSettings> extends SdkBacked<M, C, S> {
  abstract readonly name: string;
  protected abstract readonly loadSdk: () => Promise<M>;
  protected readonly sdk = new LazyClient<M, C>(
    () => this.loadSdk(),
    (m) => new m.default(clientOptions(this.settings, liveTimeoutMs(this.settings))),
  );

  protected abstract send(client: C, req: CompletionRequest, signal: AbortSignal, started: number): Promise<CompletionResult>;

  complete(req: CompletionRequest): Promise<CompletionResult> {
    return this.underDeadline(
      this.name,
      req,
      (client, deadline, started) => this.send(client, req, deadline.signal, started),
      (e, mod) => mapStainlessError(this.name, e, mod?.default),
    );
  }
}
