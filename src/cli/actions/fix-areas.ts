import { fixAreas } from '../../corpus/fix-areas.js';
import { withVaultLock } from '../../state/lock.js';
import { requireVault } from '../common.js';
import { table } from '../output.js';

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined');

export async function fixAreasAction(opts: { vault: string; dryRun?: boolean }): Promise<void> {
  const vault = requireVault(opts.vault);
  const report = opts.dryRun ? await fixAreas(vault, { dryRun: true }) : await withVaultLock(vault, 'fix-areas', () => fixAreas(vault, { dryRun: false }));
  const result = (r: (typeof report.rows)[number]): string => {
    switch (r.status) {
      case 'fixed':
        return r.to === r.path ? 'rewritten' : `moved to ${r.to}`;
      case 'would-fix':
        return r.to === r.path ? 'would rewrite' : `would move to ${r.to}`;
      default:
        return `${r.status}: ${r.reason ?? ''}`;
    }
  };
  if (report.rows.length > 0) {
    process.stdout.write(`${table(['path', 'old', 'new', 'rule', 'result'], report.rows.map((r) => [r.path, show(r.old), r.new ?? '-', r.rule ?? '-', result(r)]))}\n`);
  }
  const verb = opts.dryRun ? 'would fix' : 'fixed';
  process.stdout.write(
    `${verb} ${report.fixed} file${report.fixed === 1 ? '' : 's'}; ${report.unmappable} unmappable, ${report.blocked} blocked` +
      (report.unreadable.length > 0 ? `; ${report.unreadable.length} unreadable (see validate)` : '') +
      '\n',
  );
  if (report.unmappable > 0 || report.blocked > 0) process.exitCode = 1;
}
