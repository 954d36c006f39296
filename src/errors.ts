/**
 * The error family: every error vault-loop throws on purpose is a VaultLoopError with a stable
 * `code` (logs, JSON answers and tests match the code, never the message or the class name).
 * Processors throw these; one function in the worker wiring (src/workers/errors.ts) maps them to
 * BullMQ behaviour, and the CLI (src/cli/output.ts) and the dashboard (dashboard/app.ts) are the
 * only places that turn them into messages, exit codes and HTTP status codes.
 */
export abstract class VaultLoopError extends Error {
  /** The class's stable code (from FAMILY, below). */
  readonly code: ErrorCode;
  override readonly name: string;
  /**
   * True when the request provably never left this process or never reached a server: the budget
   * releases its reservation instead of counting the call.
   */
  readonly neverSent: boolean = false;

  constructor(message: string) {
    super(message);
    const own = FAMILY_OF.get(new.target);
    if (!own) throw new Error(`src/errors.ts: ${new.target.name} has no entry in FAMILY (expected its code and name there)`);
    [this.code, this.name] = own;
  }
}

export class LlmOutputInvalidError extends VaultLoopError {
  constructor(message: string, readonly rawExcerpt: string) {
    super(message);
  }
}

export class LlmRateLimitedError extends VaultLoopError {
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
  }
}

/**
 * The shared rate limiter had no slot in time: the request never left this process, so the budget
 * releases its reservation. A rate limit all the same (the job waits without spending an attempt).
 */
export class LlmNotSentRateLimitError extends LlmRateLimitedError {
  override readonly neverSent = true;
}

/**
 * A revision the model answered that fails the draft checks: asking again would give the same
 * answer (the cache) or spend a call on the same request, so it is not retried.
 */
export class RevisionInvalidError extends VaultLoopError {}

/** A provider error worth retrying (5xx, timeout, connection reset). */
export class LlmTransientError extends VaultLoopError {}

/**
 * No connection was made (refused, DNS failure, no route): the request never reached a server, so
 * it is not charged. Still transient: the server may come up, and the job's attempts bound it.
 */
export class LlmUnreachableError extends LlmTransientError {
  override readonly neverSent = true;
  /** @param networkCode the connection error's code (ECONNREFUSED, ENOTFOUND, ...) */
  constructor(message: string, readonly networkCode: string) {
    super(message);
  }
}

/** Errors that prove the request never left this process (or never reached a server): not charged. */
export function neverSent(e: unknown): boolean {
  return e instanceof VaultLoopError && e.neverSent;
}

/** A provider error not worth retrying (401, 400, unknown model). */
export class LlmFatalError extends VaultLoopError {}

/** The service refused the credential (401, or Gemini's API_KEY_INVALID): no call will succeed until it is set. */
export class LlmAuthError extends LlmFatalError {}

export class BudgetExhaustedError extends VaultLoopError {
  constructor(readonly used: number, readonly max: number) {
    super(`budget exhausted: ${used} of ${max} provider calls used or reserved`);
  }
}

export class CorpusFileError extends VaultLoopError {
  constructor(readonly path: string, message: string, readonly line?: number) {
    super(`${path}${line ? `:${line}` : ''}: ${message}`);
  }
}

/** A path that would leave the vault (from a provider's output, a flag, or a file). */
export class UnsafePathError extends VaultLoopError {}

/**
 * The answer to this request comes from a provider batch that has not ended yet (or is still
 * being collected): the job waits, without spending an attempt, and asks again after `retryAfterMs`.
 */
export class BatchPendingError extends VaultLoopError {
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
  }
}

/** A bad configuration value or file: the message names the key, what was expected and its source. */
export class ConfigError extends VaultLoopError {}

/** Another process holds the vault's lock (src/state/lock.ts); the message names it. */
export class VaultLockedError extends VaultLoopError {
  constructor(message: string, readonly holder?: { pid: number; host: string; command: string }) {
    super(message);
  }
}

/** Redis cannot be reached or is not Redis (src/redis/index.ts); the message says which and how to fix it. */
export class RedisUnavailableError extends VaultLoopError {}

/** A run this Redis does not know (or, for `--resume`, another vault's run). */
export class RunNotFoundError extends VaultLoopError {}

/** Something a request names (a draft, a job) does not exist. */
export class NotFoundError extends VaultLoopError {}

/** A request the current state refuses: the run has ended, the draft was deleted or edited, the job is not failed. */
export class StateConflictError extends VaultLoopError {}

/** A request whose own values are wrong (a bad number, an unsafe name); the message says what was expected. */
export class InvalidRequestError extends VaultLoopError {}

/** The run was stopped: its remaining jobs end without another attempt. */
export class RunStoppedError extends VaultLoopError {}

/** A paused run: the job waits without spending an attempt. */
export class RunPausedError extends VaultLoopError {}

/**
 * A job of a run on another vault reached this vault's host (they share the queues): it waits,
 * without spending an attempt, for the host of its own vault.
 */
export class OtherVaultJobError extends VaultLoopError {}

type ErrorClass = abstract new (...args: never[]) => VaultLoopError;

/**
 * The family, code by code: the class that carries each stable code, and its name (spelled out:
 * the CLI bundle is minified and does not keep class names). VaultLoopError's constructor reads both.
 */
const FAMILY = {
  LLM_OUTPUT_INVALID: [LlmOutputInvalidError, 'LlmOutputInvalidError'],
  LLM_RATE_LIMITED: [LlmRateLimitedError, 'LlmRateLimitedError'],
  LLM_NOT_SENT_RATE_LIMITED: [LlmNotSentRateLimitError, 'LlmNotSentRateLimitError'],
  REVISION_INVALID: [RevisionInvalidError, 'RevisionInvalidError'],
  LLM_TRANSIENT: [LlmTransientError, 'LlmTransientError'],
  LLM_UNREACHABLE: [LlmUnreachableError, 'LlmUnreachableError'],
  LLM_FATAL: [LlmFatalError, 'LlmFatalError'],
  LLM_AUTH: [LlmAuthError, 'LlmAuthError'],
  BUDGET_EXHAUSTED: [BudgetExhaustedError, 'BudgetExhaustedError'],
  CORPUS_FILE: [CorpusFileError, 'CorpusFileError'],
  UNSAFE_PATH: [UnsafePathError, 'UnsafePathError'],
  BATCH_PENDING: [BatchPendingError, 'BatchPendingError'],
  CONFIG: [ConfigError, 'ConfigError'],
  VAULT_LOCKED: [VaultLockedError, 'VaultLockedError'],
  REDIS_UNAVAILABLE: [RedisUnavailableError, 'RedisUnavailableError'],
  RUN_NOT_FOUND: [RunNotFoundError, 'RunNotFoundError'],
  NOT_FOUND: [NotFoundError, 'NotFoundError'],
  STATE_CONFLICT: [StateConflictError, 'StateConflictError'],
  INVALID_REQUEST: [InvalidRequestError, 'InvalidRequestError'],
  RUN_STOPPED: [RunStoppedError, 'RunStoppedError'],
  RUN_PAUSED: [RunPausedError, 'RunPausedError'],
  OTHER_VAULT_JOB: [OtherVaultJobError, 'OtherVaultJobError'],
} as const satisfies Record<string, readonly [ErrorClass, string]>;
export type ErrorCode = keyof typeof FAMILY;
export const ERROR_CODES = Object.keys(FAMILY) as ErrorCode[];
const FAMILY_OF: ReadonlyMap<ErrorClass, readonly [ErrorCode, string]> = new Map(ERROR_CODES.map((code) => [FAMILY[code][0], [code, FAMILY[code][1]]]));

