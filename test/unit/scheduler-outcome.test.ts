/**
 * The run's outcome rules: an iteration whose every cell failed (all unreachable: "provider
 * unreachable"), or whose judge failed for every chunk, ends the run failed; judge chunks still
 * failed at the end make a "completed" run failed, led by how many; each failure names the one
 * command that continues it.
 */
import { describe, expect, it } from 'vitest';
import { continueCommand, finalOutcome, groupFailedChunks, iterationFailure } from '../../src/core/outcome.js';

const unreachable = 'openai: connection failed: ECONNREFUSED (provider unreachable; not charged)';

describe('run outcome rules', () => {
  it('every planned cell failed: provider unreachable when no request reached a server, else generation failed', () => {
    expect(iterationFailure({ planSize: 3, generated: 0, cellsFailed: [{ error: unreachable }, { error: unreachable }, { error: unreachable }], judged: 0, failedChunks: 0 })).toBe(`provider unreachable: ${unreachable}`);
    expect(iterationFailure({ planSize: 2, generated: 0, cellsFailed: [{ error: unreachable }, { error: 'openai: HTTP 500: boom' }], judged: 0, failedChunks: 0 })).toBe(`generation failed for all 2 planned cells: ${unreachable}`);
    // Some drafts came back: the run goes on.
    expect(iterationFailure({ planSize: 3, generated: 1, cellsFailed: [{ error: unreachable }], judged: 1, failedChunks: 0 })).toBeNull();
    // Every cell lost only for the run's budget (its repair found none left): the budget stops the run, not a failure.
    const budget = 'BudgetExhaustedError: budget exhausted: 2 of 2 provider calls used or reserved';
    expect(iterationFailure({ planSize: 2, generated: 0, cellsFailed: [{ error: budget }, { error: budget }], judged: 0, failedChunks: 0 })).toBeNull();
    expect(iterationFailure({ planSize: 2, generated: 0, cellsFailed: [{ error: budget }, { error: 'openai: HTTP 500: boom' }], judged: 0, failedChunks: 0 })).toBe(`generation failed for all 2 planned cells: ${budget}`);
    // Nothing planned (a dry run): no failure.
    expect(iterationFailure({ planSize: 0, generated: 0, cellsFailed: [], judged: 0, failedChunks: 0 })).toBeNull();
  });

  it('the judge failed for every chunk of an iteration: "judge failed for N chunks"', () => {
    expect(iterationFailure({ planSize: 10, generated: 10, cellsFailed: [], judged: 0, failedChunks: 2 })).toBe('judge failed for 2 chunks');
    expect(iterationFailure({ planSize: 10, generated: 10, cellsFailed: [], judged: 0, failedChunks: 1 })).toBe('judge failed for 1 chunk');
    expect(iterationFailure({ planSize: 10, generated: 10, cellsFailed: [], judged: 5, failedChunks: 1 })).toBeNull();
  });

  it('chunks still failed at the end make a completed run failed; a user stop stays a stop', () => {
    expect(finalOutcome('max iterations reached', 'completed', 0)).toEqual({ reason: 'max iterations reached', status: 'completed' });
    expect(finalOutcome('max iterations reached', 'completed', 3)).toEqual({ reason: 'judge failed for 3 chunks; max iterations reached', status: 'failed' });
    expect(finalOutcome('judge failed for 2 chunks', 'failed', 2)).toEqual({ reason: 'judge failed for 2 chunks', status: 'failed' });
    expect(finalOutcome('stopped by user', 'stopped', 2)).toEqual({ reason: 'stopped by user', status: 'stopped' });
  });

  it('names one command that continues a failed run', () => {
    expect(continueCommand('/v', 'R', 'judge failed for 1 chunk; max iterations reached', 1)).toBe('vault-loop retry --vault /v --run R');
    expect(continueCommand('/v', 'R', `provider unreachable: ${unreachable}`, 0)).toBe('vault-loop run --vault /v --resume R');
    expect(continueCommand('/v', 'R', 'judge failed for 2 chunks', 0)).toBe('vault-loop run --vault /v --resume R');
    expect(continueCommand('/v', 'R', 'max iterations reached', 0)).toBeNull();
  });

  it('groups unjudged drafts of failed judge chunks by iteration and chunk; drafts without a verdict are not failed chunks', () => {
    const chunks = groupFailedChunks([
      { id: 'cloud-0002', iter: 1, chunk: 0, path: 'p2', reason: 'judge failed: HTTP 500' },
      { id: 'cloud-0001', iter: 1, chunk: 0, path: 'p1', reason: 'judge failed: HTTP 500' },
      { id: 'edge-0001', iter: 0, chunk: 3, path: 'p3', reason: 'judge failed: budget exhausted' },
      { id: 'edge-0002', iter: 0, chunk: 1, path: 'p4', reason: 'no verdict for this draft' },
    ]);
    expect(chunks).toEqual([
      { iter: 0, chunk: 3, drafts: ['edge-0001'], reason: 'budget exhausted' },
      { iter: 1, chunk: 0, drafts: ['cloud-0001', 'cloud-0002'], reason: 'HTTP 500' },
    ]);
  });
});
