/**
 * The control steps of one iteration on the corpus host: their logic is in src/core (plan.ts,
 * dispatch.ts, checkpoint.ts, revision.ts); here are the file-system ports they take on the host
 * (the run's records under <vault>/_validation_results/coverage_loop, the vault's files).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite } from '../corpus/writer.js';
import { IterRecordSchema, JudgeSummarySchema, RunJsonSchema, type JudgeSummary } from '../domain/records.js';
import type { RecordsPort } from '../core/ports.js';
import { iterDir, iterDirName, readRecord, runDir, writeIterationRecords, writeJson, writeLoopSummary, writeRecord } from './records.js';
import type { RunStore } from '../state/run-state.js';

export { checkpointStep } from '../core/checkpoint.js';
export { CATCH_UP, finishRun, judgeCalls, judgeReservation, sizeIteration, sizeWithRepairHeadroom, type JudgeChunkPlan, type RunConfig, type StepDeps, type StepResult } from '../core/control.js';
export { dispatchStep, prejudgeChunks } from '../core/dispatch.js';
export type { FlowsPort as Flows } from '../core/ports.js';
export { planStep } from '../core/plan.js';
export { redispatchStep, REVISION_DONE, revisionCandidates } from '../core/revision.js';
export { STOP } from '../core/saturation.js';
export { diskVaultFiles } from './vault-files.js';

/** The run's record files on disk, rendered from the run's state in Redis. */
export function diskRecords(vault: string, store: RunStore): RecordsPort {
  const iterFile = (runId: string, iter: number, name: string) => join(iterDir(vault, runId, iter), name);
  return {
    writeIterText: async (runId, iter, name, text) => {
      mkdirSync(iterDir(vault, runId, iter), { recursive: true });
      await atomicWrite(iterFile(runId, iter, name), text);
    },
    writeIterJson: async (runId, iter, name, value) => await writeJson(iterFile(runId, iter, name), value),
    readIterRecord: (runId, iter) => readRecord(IterRecordSchema, iterFile(runId, iter, 'iter_record.json')),
    judgeSummaries: (runId) => {
      const out: JudgeSummary[] = [];
      for (let i = 0; existsSync(join(runDir(vault, runId), iterDirName(i))); i++) {
        const js = readRecord(JudgeSummarySchema, iterFile(runId, i, 'judge_summary.json'));
        if (js) out.push(js);
      }
      return out;
    },
    writeIterationRecords: async (runId, iter) => await writeIterationRecords(vault, store, runId, iter),
    writeLoopSummary: async (runId, status) => await writeLoopSummary(vault, store, runId, status),
    readRunJson: (runId) => readRecord(RunJsonSchema, join(runDir(vault, runId), 'run.json')),
    writeRunJson: async (runId, value) => await writeRecord(RunJsonSchema, join(runDir(vault, runId), 'run.json'), value),
  };
}
