/** /metrics in the Prometheus text exposition format (version 0.0.4). */
import { QUEUE_CATALOG, type Queues } from '../src/queues/index.js';
import { passCost, runPrejudgeCallsSaved } from '../src/scheduler/records.js';
import { RUN_STATUSES, type RunStore } from '../src/state/run-state.js';

export const JOB_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'waiting-children', 'prioritized'] as const;

/** Label values escaped as the format asks: backslash, double quote and newline. */
const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'NaN');

class Family {
  readonly lines: string[] = [];
  constructor(readonly name: string, readonly help: string, readonly type: 'gauge' | 'counter') {}
  add(labels: Record<string, string>, value: number): void {
    const ls = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',');
    this.lines.push(`${this.name}${ls ? `{${ls}}` : ''} ${num(value)}`);
  }
  text(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.lines].join('\n');
  }
}

/** Jobs by queue and state, and the budget, tokens, cost, verdicts and status of recent runs. */
export async function metricsText(store: RunStore, queues: Queues, runLimit = 20): Promise<string> {
  const jobs = new Family('vault_loop_jobs', 'Jobs by queue and state.', 'gauge');
  for (const def of QUEUE_CATALOG) {
    const counts = await queues[def.name as keyof Queues].getJobCounts(...JOB_STATES);
    for (const s of JOB_STATES) jobs.add({ queue: def.name, state: s }, counts[s] ?? 0);
  }
  const f = {
    status: new Family('vault_loop_run_status', 'Run status (1 for the current status).', 'gauge'),
    iter: new Family('vault_loop_run_iteration', 'Current iteration of the run.', 'gauge'),
    maxCalls: new Family('vault_loop_run_max_calls', 'Provider call budget of the run.', 'gauge'),
    used: new Family('vault_loop_run_calls_used', 'Provider calls made by the run.', 'gauge'),
    reserved: new Family('vault_loop_run_calls_reserved', 'Provider calls reserved (in flight) by the run.', 'gauge'),
    tokens: new Family('vault_loop_run_tokens', 'Tokens used by the run.', 'gauge'),
    cost: new Family('vault_loop_run_cost_usd', 'Estimated cost of the run in US dollars.', 'gauge'),
    verdicts: new Family('vault_loop_run_verdicts', 'Applied judge verdicts of the run.', 'gauge'),
    unjudged: new Family('vault_loop_run_unjudged', 'Drafts of the run without a verdict.', 'gauge'),
    callsPerPass: new Family('vault_loop_run_calls_per_pass', 'Provider calls per PASS draft (absent before the first PASS).', 'gauge'),
    costPerPass: new Family('vault_loop_run_cost_per_pass_usd', 'Estimated cost per PASS draft in US dollars (absent before the first PASS).', 'gauge'),
    prejudgeSaved: new Family('vault_loop_run_prejudge_calls_saved', 'Judge calls the deterministic pre-judge saved (from the run records).', 'gauge'),
  };
  for (const runId of await store.list(runLimit)) {
    const r = await store.get(runId);
    if (!r) continue;
    const run = { run: runId };
    for (const s of RUN_STATUSES) f.status.add({ ...run, status: s }, Number(r.status === s));
    f.iter.add(run, r.iter);
    f.maxCalls.add(run, r.maxCalls);
    f.used.add(run, r.callsUsed);
    f.reserved.add(run, r.callsReserved);
    f.tokens.add({ ...run, direction: 'in' }, r.tokensIn);
    f.tokens.add({ ...run, direction: 'out' }, r.tokensOut);
    f.cost.add(run, r.costUsd);
    const counts = { PASS: 0, NEEDS_FIX: 0, DROP: 0 };
    for (const v of (await store.verdicts(runId)).values()) counts[v.verdict]++;
    for (const [k, n] of Object.entries(counts)) f.verdicts.add({ ...run, verdict: k }, n);
    f.unjudged.add(run, (await store.unjudged(runId)).size);
    const pc = passCost(counts.PASS, r.callsUsed, r.costUsd);
    if (pc.calls_per_pass !== null) f.callsPerPass.add(run, pc.calls_per_pass);
    if (pc.cost_per_pass_usd !== null) f.costPerPass.add(run, pc.cost_per_pass_usd);
    f.prejudgeSaved.add(run, r.vault ? runPrejudgeCallsSaved(r.vault, runId) : 0);
  }
  return `${[jobs, ...Object.values(f)].map((x) => x.text()).join('\n')}\n`;
}
