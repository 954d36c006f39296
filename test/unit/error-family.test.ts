/**
 * The error family (src/errors.ts): every class is a VaultLoopError that carries its own stable
 * code and its own class name, one class per code. The codes are a public contract (logs, JSON
 * answers, exit codes and HTTP statuses match them), so they are listed here in full.
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';

type AnyErrorClass = new (...args: unknown[]) => errors.VaultLoopError;
const classes = (Object.values(errors) as unknown[]).filter((v): v is AnyErrorClass => typeof v === 'function' && v.prototype instanceof errors.VaultLoopError);
// Placeholder arguments: every constructor takes a message or values first and optional details after.
const make = (C: AnyErrorClass): errors.VaultLoopError => new C('what happened', 'detail');

describe('the error family', () => {
  it('gives every class its own stable code', () => {
    expect(Object.fromEntries(classes.map((C) => [C.name, make(C).code]))).toEqual({
      LlmOutputInvalidError: 'LLM_OUTPUT_INVALID',
      LlmRateLimitedError: 'LLM_RATE_LIMITED',
      LlmNotSentRateLimitError: 'LLM_NOT_SENT_RATE_LIMITED',
      RevisionInvalidError: 'REVISION_INVALID',
      LlmTransientError: 'LLM_TRANSIENT',
      LlmUnreachableError: 'LLM_UNREACHABLE',
      LlmFatalError: 'LLM_FATAL',
      LlmAuthError: 'LLM_AUTH',
      BudgetExhaustedError: 'BUDGET_EXHAUSTED',
      CorpusFileError: 'CORPUS_FILE',
      UnsafePathError: 'UNSAFE_PATH',
      BatchPendingError: 'BATCH_PENDING',
      ConfigError: 'CONFIG',
      VaultLockedError: 'VAULT_LOCKED',
      RedisUnavailableError: 'REDIS_UNAVAILABLE',
      RunNotFoundError: 'RUN_NOT_FOUND',
      NotFoundError: 'NOT_FOUND',
      StateConflictError: 'STATE_CONFLICT',
      InvalidRequestError: 'INVALID_REQUEST',
      RunStoppedError: 'RUN_STOPPED',
      RunPausedError: 'RUN_PAUSED',
      OtherVaultJobError: 'OTHER_VAULT_JOB',
    });
    expect([...errors.ERROR_CODES].sort()).toEqual(classes.map((C) => make(C).code).sort());
  });

  it('names each error after its class and keeps instanceof along the hierarchy', () => {
    for (const C of classes) {
      const e = make(C);
      expect(e.name, C.name).toBe(C.name);
      expect(e).toBeInstanceOf(C);
      expect(e).toBeInstanceOf(errors.VaultLoopError);
      expect(e).toBeInstanceOf(Error);
      expect(String(e), C.name).toMatch(new RegExp(`^${C.name}: `));
    }
    expect(new errors.LlmAuthError('401')).toBeInstanceOf(errors.LlmFatalError);
    expect(new errors.LlmUnreachableError('refused', 'ECONNREFUSED')).toBeInstanceOf(errors.LlmTransientError);
    expect(new errors.LlmNotSentRateLimitError('no slot', 1000)).toBeInstanceOf(errors.LlmRateLimitedError);
  });

  it('marks only the errors whose request never left the process as never sent', () => {
    expect(classes.filter((C) => errors.neverSent(make(C))).map((C) => C.name).sort()).toEqual(['LlmNotSentRateLimitError', 'LlmUnreachableError']);
  });
});
