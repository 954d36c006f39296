/** Live progress of a run: a redrawn line on a TTY, plain lines (on change) otherwise. */
import { PENDING_STATES } from '../queues/define.js';
import type { RunState } from '../state/run-state.js';

export interface ProgressSnapshot {
  state: RunState;
  counts: Record<string, Record<string, number>>;
  verdicts: { PASS: number; NEEDS_FIX: number; DROP: number };
}

/**
 * One line that fits 80 columns for everyday numbers, most telling first (where, calls, verdicts),
 * so a narrow terminal cuts the queue counts, never the verdicts. Iterations are numbered from 0,
 * as the records (`iter_00`, `iter_record.json` `iter`) number them.
 */
export function describe(s: ProgressSnapshot, maxIters: number): string {
  const pending = (q: string) => {
    const c = s.counts[q] ?? {};
    return PENDING_STATES.reduce((n, state) => n + (c[state] ?? 0), 0);
  };
  const calls = s.state.callsUsed;
  // A completed run's iter is the plan step that decided to stop: that many iterations ran. A run
  // stopped or failed mid-iteration shows the iteration it was in.
  const where = s.state.status === 'completed' ? `${s.state.iter}/${maxIters} iters done` : `iter ${Math.min(s.state.iter, maxIters - 1)} (max ${maxIters})`;
  const state = s.state.status === 'running' ? s.state.phase : `${s.state.status}:${s.state.phase}`;
  return [
    where,
    state,
    `calls ${calls}/${s.state.maxCalls}${s.state.callsReserved ? `+${s.state.callsReserved}` : ''}`,
    `PASS ${s.verdicts.PASS} NF ${s.verdicts.NEEDS_FIX} DROP ${s.verdicts.DROP}`,
    `queued g${pending('generate')} j${pending('judge')} r${pending('render')} a${pending('apply')}`,
  ].join('  ');
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
