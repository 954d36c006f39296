/**
 * In-memory implementations of the core's ports, for unit tests of the core and for reasoning
 * about a rule without Redis. The budget follows the rules of the Lua scripts in
 * src/state/budget.ts: `maxCalls` bounds used + reserved + the judge pools; a judge call draws
 * on its iteration's pool first.
 */
import { BudgetExhaustedError } from '../errors.js';
import type { TokenUsage } from '../llm/types.js';
import type { BudgetCounters, BudgetPort } from './ports.js';

interface MemoryRun extends Required<BudgetCounters> {
  /** Per iteration: its judge pool and what it used. */
  iters: Map<number, { judgePool: number; callsUsed: number }>;
}

export class MemoryBudget implements BudgetPort {
  readonly runs = new Map<string, MemoryRun>();

  open(runId: string, maxCalls: number): MemoryRun {
    const run: MemoryRun = { maxCalls, callsUsed: 0, callsReserved: 0, judgePool: 0, tokensIn: 0, tokensOut: 0, tokensCached: 0, costUsd: 0, iters: new Map() };
    this.runs.set(runId, run);
    return run;
  }

  run(runId: string): MemoryRun {
    const r = this.runs.get(runId);
    if (!r) throw new Error(`run ${runId} not opened`);
    return r;
  }

  #iter(runId: string, iter: number) {
    const run = this.run(runId);
    let it = run.iters.get(iter);
    if (!it) run.iters.set(iter, (it = { judgePool: 0, callsUsed: 0 }));
    return it;
  }

  free(runId: string): number {
    const r = this.run(runId);
    return r.maxCalls - r.callsUsed - r.callsReserved - r.judgePool;
  }

  /** Sets aside up to `calls` judge calls for an iteration (what is free at most); returns how many. */
  reserveJudge(runId: string, iter: number, calls: number): number {
    const n = Math.max(0, Math.min(calls, this.free(runId)));
    this.#iter(runId, iter).judgePool += n;
    this.run(runId).judgePool += n;
    return n;
  }

  async reserveCall(runId: string): Promise<void> {
    if (this.free(runId) < 1) this.#exhausted(runId);
    this.run(runId).callsReserved++;
  }

  async reserveJudgeCall(runId: string, iter: number): Promise<void> {
    const run = this.run(runId);
    const it = this.#iter(runId, iter);
    if (it.judgePool > 0) {
      it.judgePool--;
      run.judgePool--;
      run.callsReserved++;
      return;
    }
    await this.reserveCall(runId);
  }

  async settleCall(runId: string, iter: number, made: boolean, usage: TokenUsage, costUsd: number): Promise<void> {
    const run = this.run(runId);
    run.callsReserved--;
    if (made) {
      run.callsUsed++;
      this.#iter(runId, iter).callsUsed++;
    }
    run.tokensIn += Math.round(usage.inputTokens);
    run.tokensOut += Math.round(usage.outputTokens);
    run.costUsd += costUsd;
  }

  async addCachedTokens(runId: string, _iter: number, tokens: number): Promise<void> {
    if (tokens > 0) this.run(runId).tokensCached += tokens;
  }

  #exhausted(runId: string): never {
    const r = this.run(runId);
    throw new BudgetExhaustedError(r.callsUsed + r.callsReserved + r.judgePool, r.maxCalls);
  }
}
