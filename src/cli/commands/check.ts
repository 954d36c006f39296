import { Option, type Command } from 'commander';

export function register(program: Command): void {
  program
    .command('check')
    .description(
      'Run the deterministic pre-judge on question files: schema, areas, arithmetic, units, near-duplicates against the vault, prompt injection, cell fit. ' +
        'Certain findings are errors, evidence for a judge is a warning, style is a note. With --vault and no FILES, checks every question of the vault.',
    )
    .argument('[files...]', 'question YAML files (default: every questions/**/*.yaml of --vault)')
    .option('--vault <dir>', 'the vault to compare with (near-duplicates); its questions are checked when no FILES are given')
    .option('--json', 'print {checked, findings, errors, warnings, notes} as JSON')
    .option('--sarif', 'print SARIF 2.1.0 (for code-scanning upload)')
    .addOption(new Option('--fail-on <level>', 'exit 1 when a finding is at or above this level').choices(['error', 'warning']).default('error'))
    .action(async (files: string[], flags: { vault?: string; json?: boolean; sarif?: boolean; failOn: 'error' | 'warning' }) =>
      (await import('../actions/check.js')).check(files, flags, program.version() ?? '0.0.0'),
    );
}
