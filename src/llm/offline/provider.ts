/**
 * The built-in offline provider: answers every prompt the real providers get, from the JSON blocks
 * of the prompt, with no network and the same text for the same prompt and seed. It simulates
 * latency (abortable, bounded by the call timeout) and reports token usage as characters / 4.
 */
import type { OfflineDefect } from './generate.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { Applicability } from '../../corpus/taxonomy.js';
import { CallDeadline } from '../errors.js';
import type { CompletionRequest, CompletionResult, LlmProvider } from '../types.js';
import { generateAnswer, type OfflineCell } from './generate.js';
import { judgeDrafts, reviseDraft, type RevisionRequest } from './judge.js';
import { repairAnswer } from './repair.js';
import { extractTaggedJson } from './tags.js';
import { isMapping } from '../../util/mapping.js';
import { LlmOutputInvalidError } from '../../errors.js';

export interface OfflineProviderOptions {
  seed: string | number;
  /** Simulated latency per call, ms (default 0). */
  latencyMs?: number;
  /** Probability that a generated item carries a defect (default 0). */
  defectRate?: number;
  /** Which defects to plant (default: all four kinds). */
  defectKinds?: readonly OfflineDefect[];
  model?: string;
  /** Topic × track applicability for the judge (default: the built-in blocklist). */
  applicability?: Applicability;
}

export const OFFLINE_MODEL = 'offline-v1';

const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

function asArray(value: unknown, tag: string, prompt: string): Record<string, unknown>[] {
  if (!Array.isArray(value)) {
    throw new LlmOutputInvalidError(`offline provider: the <${tag}> block must hold a JSON array`, prompt.slice(0, 300));
  }
  return value.filter(isMapping);
}

/** The answer text for a request (pure: no latency, no clock). */
export function offlineAnswer(req: Pick<CompletionRequest, 'purpose' | 'prompt'>, opts: OfflineProviderOptions): string {
  switch (req.purpose) {
    case 'generate': {
      const cells = asArray(extractTaggedJson(req.prompt, 'cells'), 'cells', req.prompt) as unknown as OfflineCell[];
      return JSON.stringify(generateAnswer(cells, { seed: opts.seed, defectRate: opts.defectRate ?? 0, ...(opts.defectKinds ? { defectKinds: opts.defectKinds } : {}) }), null, 2);
    }
    case 'judge': {
      const drafts = asArray(extractTaggedJson(req.prompt, 'drafts'), 'drafts', req.prompt);
      return JSON.stringify(judgeDrafts(drafts, opts.applicability ? { applicability: opts.applicability } : {}), null, 2);
    }
    case 'revise': {
      const revisions = asArray(extractTaggedJson(req.prompt, 'revisions'), 'revisions', req.prompt) as unknown as RevisionRequest[];
      return JSON.stringify(
        revisions.map((r) => reviseDraft({ ...r, id: String(r.id ?? ''), draft: isMapping(r.draft) ? r.draft : {} })),
        null,
        2,
      );
    }
    case 'repair':
      return JSON.stringify(repairAnswer(extractTaggedJson(req.prompt, 'repair')), null, 2);
    default:
      throw new LlmOutputInvalidError(`offline provider: unknown purpose ${JSON.stringify(req.purpose)}`, '');
  }
}

export function createOfflineProvider(opts: OfflineProviderOptions): LlmProvider {
  const model = opts.model ?? OFFLINE_MODEL;
  const latencyMs = Math.max(0, opts.latencyMs ?? 0);
  return {
    name: 'offline',
    model,
    async complete(req: CompletionRequest): Promise<CompletionResult> {
      const started = performance.now();
      const deadline = new CallDeadline(req.timeoutMs ?? 0, req.signal);
      try {
        deadline.throwIfCancelled();
        if (latencyMs > 0) {
          try {
            await sleep(latencyMs, undefined, { signal: deadline.signal });
          } catch (e) {
            throw deadline.translate('offline', e, (x) => (x instanceof Error ? x : new Error(String(x))));
          }
        }
        const text = offlineAnswer(req, opts);
        const input = (req.system ?? '') + req.prompt;
        return {
          text,
          usage: { inputTokens: estimateTokens(input), outputTokens: estimateTokens(text) },
          model,
          latencyMs: Math.round(performance.now() - started),
          cached: false,
        };
      } finally {
        deadline.dispose();
      }
    },
  };
}
