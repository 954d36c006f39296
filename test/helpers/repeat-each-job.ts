/**
 * At-least-once proof: runs every job's body twice and reports whether the second run left the
 * same files (`snapshot` before and after) and returned the same result. Passed to the host as
 * its `aroundJob` hook.
 */
import type { AroundJob } from '../../src/workers/runtime.js';

export interface RepeatReport {
  snapshot(): string;
  report(queue: string, sameResult: boolean, sameFiles: boolean, detail: { job: string; first: string; second: string }): void;
}

/** A process-wide mutex: one job body at a time, so the snapshots see only this job's effects. */
const repeatMutex = {
  tail: Promise.resolve() as Promise<void>,
  async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    return release;
  },
};

/** What may differ between two runs of the same job: usage and cache flags of a provider call. */
function comparable(r: unknown): string {
  return JSON.stringify(r, (k, v) => (k === 'usage' || k === 'cached' || k === 'calls' ? undefined : v));
}

export function repeatEachJob(o: RepeatReport): AroundJob {
  return async (queue, job, body) => {
    const release = await repeatMutex.acquire();
    try {
      const first = await body();
      const before = o.snapshot();
      const second = await body();
      o.report(queue, comparable(first) === comparable(second), before === o.snapshot(), { job, first: comparable(first), second: comparable(second) });
      return second;
    } finally {
      release();
    }
  };
}
