import { validateVault } from '../../corpus/validate.js';
import { requireVault } from '../common.js';

export async function validate(opts: { vault: string; json?: boolean; errorsOnly?: boolean }): Promise<void> {
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
}
