import type { Command } from 'commander';
import { validateVault } from '../../corpus/validate.js';
import { requireVault } from '../common.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('Load every questions/**/*.yaml of a vault and check it against the question schema v1.0 and the file-layout rules; exit 1 on any error.')
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/)')
    .option('--json', 'print one JSON object {files, errors, warnings, errorFiles, problems} instead of text')
    .option('--errors-only', 'leave warnings (e.g. level outside the zone affinity) out of the listing; the summary still counts them')
    .action(async (opts: { vault: string; json?: boolean; errorsOnly?: boolean }) => {
      const vault = requireVault(opts.vault);
      const result = await validateVault(vault);
      const shown = opts.errorsOnly ? result.problems.filter((p) => p.severity === 'error') : result.problems;
      if (opts.json) {
        const { loaded: _loaded, ...rest } = result;
        process.stdout.write(`${JSON.stringify({ vault, ...rest, problems: shown }, null, 2)}\n`);
      } else {
        const lines = shown.map((p) => `${p.path}${p.line !== undefined ? `:${p.line}` : ''}: ${p.severity}: ${p.message}`);
        if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
        process.stdout.write(
          `validated ${result.files} file${result.files === 1 ? '' : 's'}: ${result.errors} error${result.errors === 1 ? '' : 's'} in ${result.errorFiles.length} file${result.errorFiles.length === 1 ? '' : 's'}, ${result.warnings} warning${result.warnings === 1 ? '' : 's'}\n`,
        );
      }
      if (result.errors > 0) process.exitCode = 1;
    });
}
