import type { Command } from 'commander';
import { fixAreas } from '../../corpus/fix-areas.js';
import { withVaultLock } from '../../scheduler/lock.js';
import { requireVault } from '../common.js';
import { table } from '../output.js';

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined');

export function register(program: Command): void {
  program
    .command('fix-areas')
    .description(
      'Rewrite malformed competency_area values (topic names, zone names, "<track> / <topic>", capitalised forms) to one of the 13 areas and move each file to questions/<track>/<area>/; exit 1 if any value cannot be mapped.',
    )
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/)')
    .option('--dry-run', 'print what would change; write and move nothing')
    .action(async (opts: { vault: string; dryRun?: boolean }) => {
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
    });
}
