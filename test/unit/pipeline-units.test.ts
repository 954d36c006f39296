/** Small pure parts of the pipeline: iteration sizing, the batcher, the progress line. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describe as progressLine, ProgressReporter } from '../../src/cli/progress.js';
import { sizeIteration } from '../../src/scheduler/steps.js';
import { Batcher } from '../../src/workers/batcher.js';

describe('sizeIteration', () => {
  it('fits generation and judging into what remains', () => {
    expect(sizeIteration(120, 80, 30, 25)).toBe(120); // 4 + 5 = 9 calls
    expect(sizeIteration(120, 6, 30, 25)).toBe(75); // 3 + 3 = 6 calls; 76 cells would need 3 + 4
    expect(sizeIteration(10, 9, 1, 5)).toBe(7); // 7 + 2 = 9
    expect(sizeIteration(10, 1, 1, 5)).toBe(0);
  });
});

describe('Batcher', () => {
  it('flushes at the batch size, or after the window, never mixing keys', async () => {
    const calls: [string, number[]][] = [];
    const b = new Batcher<number, number>(async (key, xs) => {
      calls.push([key, xs]);
      return xs.map((x) => x * 10);
    }, 50);
    const full = Promise.all([1, 2, 3].map((x) => b.submit('a', 3, x)));
    const partial = Promise.all([4, 5].map((x) => b.submit('b', 3, x)));
    expect(await full).toEqual([10, 20, 30]);
    expect(await partial).toEqual([40, 50]);
    expect(calls).toEqual([
      ['a', [1, 2, 3]],
      ['b', [4, 5]],
    ]);
  });

  it('genBatchSize 1: every cell is its own provider call, run at once without waiting for the window', async () => {
    const calls: number[][] = [];
    const b = new Batcher<number, number>(async (_key, xs) => {
      calls.push(xs);
      return xs;
    }, 3_600_000);
    const outs = [1, 2, 3].map((x) => b.submit('a', 1, x));
    expect(calls).toEqual([[1], [2], [3]]);
    expect(b.pendingCount).toBe(0);
    expect(await Promise.all(outs)).toEqual([1, 2, 3]);
  });

  it('a failed batch rejects every item', async () => {
    const b = new Batcher<number, number>(async () => {
      throw new Error('provider down');
    }, 10);
    const rs = await Promise.allSettled([b.submit('a', 2, 1), b.submit('a', 2, 2)]);
    expect(rs.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('progress', () => {
  const state = { runId: 'r', status: 'running', iter: 1, phase: 'generate', vault: '/v', maxCalls: 80, callsUsed: 20, callsReserved: 2, judgePool: 0, tokensIn: 0, tokensOut: 0, costUsd: 0, stopReason: null, stopRequested: false, startedAt: '', finishedAt: null, config: {}, generator: { provider: 'offline', model: 'm' }, judge: { provider: 'offline', model: 'm' } } as const;
  const line = progressLine({ state: { ...state }, counts: { generate: { waiting: 3, active: 2 } }, verdicts: { PASS: 5, NEEDS_FIX: 1, DROP: 2 } }, 30);

  it('says where the run is, numbering iterations from 0 as the records do, in 80 columns with the verdicts before the queues', () => {
    expect(line).toBe('iter 1 (max 30)  generate  calls 20/80+2  PASS 5 NF 1 DROP 2  queued g5 j0 r0 a0');
    const busy = progressLine({ state: { ...state, iter: 29, maxCalls: 9999, callsUsed: 1234, callsReserved: 12 }, counts: { generate: { waiting: 120 }, judge: { waiting: 40 } }, verdicts: { PASS: 1234, NEEDS_FIX: 567, DROP: 890 } }, 30);
    // Cut at 80 columns, a busy run's line still shows its verdicts.
    expect(busy.slice(0, 79)).toContain('PASS 1234 NF 567 DROP 890');
    expect(line.length).toBeLessThanOrEqual(80);
  });

  it('an ended run says how many iterations ran (its iter is the plan step that stopped it)', () => {
    const ended = progressLine({ state: { ...state, status: 'completed', phase: 'finished', iter: 3, callsReserved: 0 }, counts: {}, verdicts: { PASS: 5, NEEDS_FIX: 1, DROP: 2 } }, 3);
    expect(ended).toBe('3/3 iters done  completed:finished  calls 20/80  PASS 5 NF 1 DROP 2  queued g0 j0 r0 a0');
    const stopped = progressLine({ state: { ...state, status: 'stopped', phase: 'finished', iter: 3, callsReserved: 0 }, counts: {}, verdicts: { PASS: 5, NEEDS_FIX: 1, DROP: 2 } }, 3);
    expect(stopped.split('  ')[0]).toBe('iter 2 (max 3)');
  });

  it('redraws one line on a TTY and prints plain lines otherwise', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 200 }) as unknown as NodeJS.WriteStream;
    let ttyOut = '';
    (tty as unknown as PassThrough).on('data', (d: Buffer) => (ttyOut += d.toString()));
    const r1 = new ProgressReporter(tty, 'auto');
    r1.update('a');
    r1.update('a');
    r1.update('b');
    r1.done();
    expect(ttyOut).toBe('\r\x1b[2Ka\r\x1b[2Kb\n');
    const pipe = new PassThrough() as unknown as NodeJS.WriteStream;
    let plain = '';
    (pipe as unknown as PassThrough).on('data', (d: Buffer) => (plain += d.toString()));
    const r2 = new ProgressReporter(pipe, 'auto');
    r2.update('a');
    r2.update('b');
    expect(plain).toMatch(/^\d\d:\d\d:\d\d a\n\d\d:\d\d:\d\d b\n$/);
  });
});
