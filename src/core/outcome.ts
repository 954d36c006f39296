/**
 * What a run's end says about it, truthfully: a run in which no generation call succeeded, or
 * whose judge chunks failed for good, did not "complete". It ends `failed`, with a stop reason that
 * names the failure and one command that continues it. The rules are pure; `failedJudgeChunks`
 * reads the state they need.
 */
import type { FailedChunk } from '../domain/records.js';
import type { UnjudgedRecord } from '../domain/verdict.js';
import type { RunStorePort } from './ports.js';

/** The marker every never-connected provider error carries (src/llm/errors.ts). */
export const UNREACHABLE_MARK = 'provider unreachable';
/** The prefix of an unjudged record whose chunk's judge failed for good (src/core/prune.ts). */
export const JUDGE_FAILED_PREFIX = 'judge failed: ';
/** What a call refused for the run's budget says (src/errors.ts BudgetExhaustedError). */
const BUDGET_MARK = /BudgetExhaustedError|budget exhausted/;

export const FAILURE = {
  unreachable: (detail: string) => `${UNREACHABLE_MARK}: ${detail}`,
  generationFailed: (n: number, detail: string) => `generation failed for all ${n} planned cells: ${detail}`,
  judgeFailed: (n: number) => `judge failed for ${n} chunk${n === 1 ? '' : 's'}`,
} as const;

export type { FailedChunk } from '../domain/records.js';

/** Judge chunks that failed for good and whose drafts are still unjudged, in iteration/chunk order. */
export function groupFailedChunks(unjudged: Iterable<UnjudgedRecord>): FailedChunk[] {
  const byKey = new Map<string, FailedChunk>();
  for (const u of unjudged) {
    if (!u.reason.startsWith(JUDGE_FAILED_PREFIX)) continue;
    const key = `${u.iter}:${u.chunk}`;
    const entry = byKey.get(key) ?? { iter: u.iter, chunk: u.chunk, drafts: [], reason: u.reason.slice(JUDGE_FAILED_PREFIX.length) };
    entry.drafts.push(u.id);
    byKey.set(key, entry);
  }
  const out = [...byKey.values()].sort((a, b) => a.iter - b.iter || a.chunk - b.chunk);
  for (const c of out) c.drafts.sort();
  return out;
}

export async function failedJudgeChunks(store: Pick<RunStorePort, 'unjudged'>, runId: string): Promise<FailedChunk[]> {
  return groupFailedChunks((await store.unjudged(runId)).values());
}

const firstLine = (s: string, max = 200): string => {
  const line = s.split('\n')[0]!.trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
};

/**
 * Whether a closed iteration shows the provider is not working, so the run must not plan another:
 * every planned cell failed (all of them unreachable: "provider unreachable"), or every draft's
 * judge chunk failed for good. Cells that failed only for the budget are not a provider failure.
 * Null: carry on.
 */
export function iterationFailure(it: { planSize: number; generated: number; cellsFailed: { error: string }[]; judged: number; failedChunks: number }): string | null {
  // Cells lost only because the run's budget ran out (a repair call with no budget left) say
  // nothing of the provider: the next plan step stops the run on its budget.
  const budgetOnly = it.cellsFailed.every((c) => BUDGET_MARK.test(c.error));
  if (it.planSize > 0 && it.generated === 0 && it.cellsFailed.length > 0 && !budgetOnly) {
    const first = firstLine(it.cellsFailed[0]!.error);
    if (it.cellsFailed.every((c) => c.error.includes(UNREACHABLE_MARK))) return FAILURE.unreachable(first);
    return FAILURE.generationFailed(it.planSize, first);
  }
  if (it.generated > 0 && it.judged === 0 && it.failedChunks > 0) return FAILURE.judgeFailed(it.failedChunks);
  return null;
}

/**
 * The reason and status a run ends with. A run that would complete with judge chunks still failed
 * ends `failed`, its reason led by how many: the summary's table alone would hide them.
 */
export function finalOutcome(reason: string, status: 'completed' | 'stopped' | 'failed', failedChunks: number): { reason: string; status: 'completed' | 'stopped' | 'failed' } {
  if (failedChunks === 0 || status === 'stopped') return { reason, status };
  const lead = FAILURE.judgeFailed(failedChunks);
  return { reason: reason.startsWith('judge failed for') ? reason : `${lead}; ${reason}`, status: 'failed' };
}

/** The one command that continues a failed run: retry its judge chunks, or resume it once the provider answers. */
export function continueCommand(vault: string, runId: string, reason: string | null, failedChunks: number): string | null {
  if (failedChunks > 0) return `vault-loop retry --vault ${vault} --run ${runId}`;
  if (reason && (reason.startsWith(UNREACHABLE_MARK) || reason.startsWith('generation failed') || reason.startsWith('judge failed for'))) return `vault-loop run --vault ${vault} --resume ${runId}`;
  return null;
}
