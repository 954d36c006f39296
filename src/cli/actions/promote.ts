import { isRunId } from '../../scheduler/run-folders.js';
import { promoteRun } from '../../services/promote.js';
import { withVaultLock } from '../../state/lock.js';
import { table, UserError } from '../output.js';
import { requireVault } from './release-shared.js';

export interface PromoteFlags {
  vault: string;
  run?: string;
  dryRun?: boolean;
}

export async function promote(flags: PromoteFlags): Promise<void> {
  if (flags.run !== undefined && !isRunId(flags.run)) {
    throw new UserError(`--run ${flags.run}: expected a run folder name such as 20260425_101500`);
  }
  const vault = await requireVault(flags.vault);
  // A run may be writing the drafts promote reads: promote takes the vault's lock and is refused while a run holds it.
  const report = await withVaultLock(vault, 'promote', () => promoteRun(vault, { runId: flags.run, dryRun: flags.dryRun }));
  for (const r of report.runs) process.stdout.write(`run ${r.runId} (started ${r.startedAt})${report.dryRun ? ' — dry run, nothing written' : ''}\n`);
  for (const r of report.skippedRuns) process.stdout.write(`skipped run ${r.runId}: ${r.reason}\n`);
  if (report.runs.length === 0) {
    process.stdout.write('nothing to promote: every run was promoted already\n');
    return;
  }
  if (report.rows.length === 0) {
    process.stdout.write(`no PASS drafts in ${report.runs.length === 1 ? 'this run' : 'these runs'}\n`);
  } else {
    process.stdout.write(
      table(
        ['id', 'result', 'math', 'path'],
        report.rows.map((r) => [r.id, r.result, r.result === 'promoted' ? (r.mathVerified ? 'verified' : 'unverified') : '', r.path]),
      ) + '\n',
    );
  }
  const promoted = report.rows.filter((r) => r.result === 'promoted').length;
  const others = Object.entries(report.notPass).map(([v, n]) => `${n} ${v}`).join(', ');
  process.stdout.write(
    `${report.dryRun ? 'would promote' : 'promoted'} ${promoted} of ${report.rows.length} PASS drafts${others ? `; not promoted by verdict: ${others}` : ''}${report.rows.length - promoted ? `; skipped ${report.rows.length - promoted} (see the result column)` : ''}\n`,
  );
}
