/**
 * Stop, pause and resume a run: the preconditions of `vault-loop stop|pause|resume` and of the
 * dashboard's buttons, in one place. Refusals are typed errors (RunNotFoundError,
 * StateConflictError); the CLI and the dashboard word them.
 */
import { RunNotFoundError, StateConflictError } from '../errors.js';
import { TERMINAL_STATUSES, type RunState, type RunStore } from '../state/run-state.js';

export const RUN_CONTROL_ACTIONS = ['stop', 'pause', 'resume'] as const;
export type RunControlAction = (typeof RUN_CONTROL_ACTIONS)[number];

/** Applies `action` to the run and returns the run after it. */
export async function controlRun(store: RunStore, runId: string, action: RunControlAction): Promise<RunState> {
  const run = await store.get(runId);
  if (!run) throw new RunNotFoundError(`run ${runId} not found`);
  if (TERMINAL_STATUSES.includes(run.status)) throw new StateConflictError(`run ${runId} has already ended (${run.status}: ${run.stopReason ?? '-'})`);
  if (action === 'stop') await store.requestStop(runId);
  else if (action === 'pause') {
    if (run.status !== 'running') throw new StateConflictError(`run ${runId} is ${run.status}, not running`);
    await store.pause(runId);
  } else {
    if (run.status !== 'paused') throw new StateConflictError(`run ${runId} is ${run.status}, not paused`);
    await store.resume(runId);
  }
  return (await store.get(runId)) ?? run;
}
