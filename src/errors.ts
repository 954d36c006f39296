/**
 * The small error family. Processors throw these; one function in the worker wiring
 * (src/workers/errors.ts) maps them to BullMQ behaviour.
 */
export class LlmOutputInvalidError extends Error {
  override readonly name = 'LlmOutputInvalidError';
  constructor(message: string, readonly rawExcerpt: string) {
    super(message);
  }
}

export class LlmRateLimitedError extends Error {
  override readonly name = 'LlmRateLimitedError';
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
  }
}

/**
 * A revision the model answered that fails the draft checks: asking again would give the same
 * answer (the cache) or spend a call on the same request, so it is not retried.
 */
export class RevisionInvalidError extends Error {
  override readonly name = 'RevisionInvalidError';
}

/** A provider error worth retrying (5xx, timeout, connection reset). */
export class LlmTransientError extends Error {
  override readonly name = 'LlmTransientError';
}

/** A provider error not worth retrying (401, 400, unknown model). */
export class LlmFatalError extends Error {
  override readonly name: string = 'LlmFatalError';
}

/** The service refused the credential (401, or Gemini's API_KEY_INVALID): no call will succeed until it is set. */
export class LlmAuthError extends LlmFatalError {
  override readonly name = 'LlmAuthError';
}

export class BudgetExhaustedError extends Error {
  override readonly name = 'BudgetExhaustedError';
  constructor(readonly used: number, readonly max: number) {
    super(`budget exhausted: ${used} of ${max} provider calls used or reserved`);
  }
}

export class CorpusFileError extends Error {
  override readonly name = 'CorpusFileError';
  constructor(readonly path: string, message: string, readonly line?: number) {
    super(`${path}${line ? `:${line}` : ''}: ${message}`);
  }
}

/** A path that would leave the vault (from a provider's output, a flag, or a file). */
export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError';
}

/** A bad configuration value or file: the message names the key, what was expected and its source. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
