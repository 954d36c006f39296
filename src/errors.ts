/**
 * The error family: every error vault-loop throws on purpose is a VaultLoopError with a stable
 * `code` (logs, JSON answers and tests match the code, never the message or the class name).
 * Processors throw these; one function in the worker wiring (src/workers/errors.ts) maps them to
 * BullMQ behaviour, and the CLI (src/cli/output.ts) and the dashboard (dashboard/app.ts) are the
 * only places that turn them into messages, exit codes and HTTP status codes.
 */
export const ERROR_CODES = [
  'LLM_OUTPUT_INVALID',
  'LLM_RATE_LIMITED',
  'LLM_NOT_SENT_RATE_LIMITED',
  'REVISION_INVALID',
  'LLM_TRANSIENT',
  'LLM_UNREACHABLE',
  'LLM_FATAL',
  'LLM_AUTH',
  'BUDGET_EXHAUSTED',
  'CORPUS_FILE',
  'UNSAFE_PATH',
  'BATCH_PENDING',
  'CONFIG',
  'VAULT_LOCKED',
  'REDIS_UNAVAILABLE',
  'RUN_NOT_FOUND',
  'NOT_FOUND',
  'STATE_CONFLICT',
  'INVALID_REQUEST',
  'RUN_STOPPED',
  'RUN_PAUSED',
  'OTHER_VAULT_JOB',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export abstract class VaultLoopError extends Error {
  abstract readonly code: ErrorCode;
  /**
   * True when the request provably never left this process or never reached a server: the budget
   * releases its reservation instead of counting the call.
   */
  readonly neverSent: boolean = false;
}

export class LlmOutputInvalidError extends VaultLoopError {
  override readonly name = 'LlmOutputInvalidError';
  readonly code: ErrorCode = 'LLM_OUTPUT_INVALID';
  constructor(message: string, readonly rawExcerpt: string) {
    super(message);
  }
}

export class LlmRateLimitedError extends VaultLoopError {
  override readonly name: string = 'LlmRateLimitedError';
  readonly code: ErrorCode = 'LLM_RATE_LIMITED';
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
  }
}

/**
 * The shared rate limiter had no slot in time: the request never left this process, so the budget
 * releases its reservation. A rate limit all the same (the job waits without spending an attempt).
 */
export class LlmNotSentRateLimitError extends LlmRateLimitedError {
  override readonly name = 'LlmNotSentRateLimitError';
  override readonly code: ErrorCode = 'LLM_NOT_SENT_RATE_LIMITED';
  override readonly neverSent = true;
}

/**
 * A revision the model answered that fails the draft checks: asking again would give the same
 * answer (the cache) or spend a call on the same request, so it is not retried.
 */
export class RevisionInvalidError extends VaultLoopError {
  override readonly name = 'RevisionInvalidError';
  readonly code: ErrorCode = 'REVISION_INVALID';
}

/** A provider error worth retrying (5xx, timeout, connection reset). */
export class LlmTransientError extends VaultLoopError {
  override readonly name: string = 'LlmTransientError';
  readonly code: ErrorCode = 'LLM_TRANSIENT';
}

/**
 * No connection was made (refused, DNS failure, no route): the request never reached a server, so
 * it is not charged. Still transient: the server may come up, and the job's attempts bound it.
 */
export class LlmUnreachableError extends LlmTransientError {
  override readonly name = 'LlmUnreachableError';
  override readonly code: ErrorCode = 'LLM_UNREACHABLE';
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
export class LlmFatalError extends VaultLoopError {
  override readonly name: string = 'LlmFatalError';
  readonly code: ErrorCode = 'LLM_FATAL';
}

/** The service refused the credential (401, or Gemini's API_KEY_INVALID): no call will succeed until it is set. */
export class LlmAuthError extends LlmFatalError {
  override readonly name = 'LlmAuthError';
  override readonly code: ErrorCode = 'LLM_AUTH';
}

export class BudgetExhaustedError extends VaultLoopError {
  override readonly name = 'BudgetExhaustedError';
  readonly code: ErrorCode = 'BUDGET_EXHAUSTED';
  constructor(readonly used: number, readonly max: number) {
    super(`budget exhausted: ${used} of ${max} provider calls used or reserved`);
  }
}

export class CorpusFileError extends VaultLoopError {
  override readonly name = 'CorpusFileError';
  readonly code: ErrorCode = 'CORPUS_FILE';
  constructor(readonly path: string, message: string, readonly line?: number) {
    super(`${path}${line ? `:${line}` : ''}: ${message}`);
  }
}

/** A path that would leave the vault (from a provider's output, a flag, or a file). */
export class UnsafePathError extends VaultLoopError {
  override readonly name = 'UnsafePathError';
  readonly code: ErrorCode = 'UNSAFE_PATH';
}

/**
 * The answer to this request comes from a provider batch that has not ended yet (or is still
 * being collected): the job waits, without spending an attempt, and asks again after `retryAfterMs`.
 */
export class BatchPendingError extends VaultLoopError {
  override readonly name = 'BatchPendingError';
  readonly code: ErrorCode = 'BATCH_PENDING';
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
  }
}

/** A bad configuration value or file: the message names the key, what was expected and its source. */
export class ConfigError extends VaultLoopError {
  override readonly name = 'ConfigError';
  readonly code: ErrorCode = 'CONFIG';
}

/** Another process holds the vault's lock (src/state/lock.ts); the message names it. */
export class VaultLockedError extends VaultLoopError {
  override readonly name = 'VaultLockedError';
  readonly code: ErrorCode = 'VAULT_LOCKED';
  constructor(message: string, readonly holder?: { pid: number; host: string; command: string }) {
    super(message);
  }
}

/** Redis cannot be reached or is not Redis (src/redis/index.ts); the message says which and how to fix it. */
export class RedisUnavailableError extends VaultLoopError {
  override readonly name = 'RedisUnavailableError';
  readonly code: ErrorCode = 'REDIS_UNAVAILABLE';
}

/** A run this Redis does not know (or, for `--resume`, another vault's run). */
export class RunNotFoundError extends VaultLoopError {
  override readonly name = 'RunNotFoundError';
  readonly code: ErrorCode = 'RUN_NOT_FOUND';
}

/** Something a request names (a draft, a job) does not exist. */
export class NotFoundError extends VaultLoopError {
  override readonly name = 'NotFoundError';
  readonly code: ErrorCode = 'NOT_FOUND';
}

/** A request the current state refuses: the run has ended, the draft was deleted or edited, the job is not failed. */
export class StateConflictError extends VaultLoopError {
  override readonly name = 'StateConflictError';
  readonly code: ErrorCode = 'STATE_CONFLICT';
}

/** A request whose own values are wrong (a bad number, an unsafe name); the message says what was expected. */
export class InvalidRequestError extends VaultLoopError {
  override readonly name = 'InvalidRequestError';
  readonly code: ErrorCode = 'INVALID_REQUEST';
}

/** The run was stopped: its remaining jobs end without another attempt. */
export class RunStoppedError extends VaultLoopError {
  override readonly name = 'RunStoppedError';
  readonly code: ErrorCode = 'RUN_STOPPED';
}

/** A paused run: the job waits without spending an attempt. */
export class RunPausedError extends VaultLoopError {
  override readonly name = 'RunPausedError';
  readonly code: ErrorCode = 'RUN_PAUSED';
}

/**
 * A job of a run on another vault reached this vault's host (they share the queues): it waits,
 * without spending an attempt, for the host of its own vault.
 */
export class OtherVaultJobError extends VaultLoopError {
  override readonly name = 'OtherVaultJobError';
  readonly code: ErrorCode = 'OTHER_VAULT_JOB';
}
