import { isRunId, promoteRun } from '../../release/index.js';
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
  const report = await promoteRun(vault, { runId: flags.run, dryRun: flags.dryRun });
  process.stdout.write(`run ${report.run.runId} (started ${report.run.startedAt})${report.dryRun ? ' — dry run, nothing written' : ''}\n`);
  if (report.rows.length === 0) {
    process.stdout.write('no PASS drafts in this run\n');
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
    `${report.dryRun ? 'would promote' : 'promoted'} ${promoted} of ${report.rows.length} PASS drafts${others ? `; not promoted by verdict: ${others}` : ''}\n`,
  );
}
