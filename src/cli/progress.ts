/** Live progress of a run: a redrawn line on a TTY, plain lines (on change) otherwise. */
import { PENDING_STATES } from '../queues/define.js';
import type { RunState } from '../scheduler/state.js';

export interface ProgressSnapshot {
  state: RunState;
  counts: Record<string, Record<string, number>>;
  verdicts: { PASS: number; NEEDS_FIX: number; DROP: number };
}

function bar(done: number, total: number, width = 20): string {
  const f = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${'#'.repeat(f)}${'.'.repeat(width - f)}]`;
}

export function describe(s: ProgressSnapshot, maxIters: number): string {
  const pending = (q: string) => {
    const c = s.counts[q] ?? {};
    return PENDING_STATES.reduce((n, state) => n + (c[state] ?? 0), 0);
  };
  const calls = s.state.callsUsed;
  // A completed run's iter is the plan step that decided to stop: that many iterations ran. A run
  // stopped or failed mid-iteration shows the iteration it was in.
  const where = s.state.status === 'completed' ? `${s.state.iter}/${maxIters} iterations done` : `iter ${Math.min(s.state.iter + 1, maxIters)}/${maxIters}`;
  return [
    where,
    `${s.state.status}:${s.state.phase}`,
    `calls ${bar(calls, s.state.maxCalls, 12)} ${calls}/${s.state.maxCalls}${s.state.callsReserved ? ` (+${s.state.callsReserved} in flight)` : ''}`,
    `pending gen ${pending('generate')} judge ${pending('judge')} render ${pending('render')} apply ${pending('apply')}`,
    `PASS ${s.verdicts.PASS} NEEDS_FIX ${s.verdicts.NEEDS_FIX} DROP ${s.verdicts.DROP}`,
  ].join(' | ');
}

export class ProgressReporter {
  #last = '';
  readonly #tty: boolean;
  readonly #out: NodeJS.WriteStream;

  constructor(out: NodeJS.WriteStream = process.stderr, mode: 'auto' | 'bars' | 'plain' | 'none' = 'auto') {
    this.#out = out;
    this.#tty = mode === 'bars' || (mode === 'auto' && Boolean(out.isTTY));
    if (mode === 'none') this.update = () => {};
  }

  update(line: string): void {
    if (line === this.#last) return;
    this.#last = line;
    if (this.#tty) this.#out.write(`\r\x1b[2K${line.slice(0, (this.#out.columns ?? 200) - 1)}`);
    else this.#out.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  }

  done(): void {
    if (this.#tty && this.#last) this.#out.write('\n');
  }
}
