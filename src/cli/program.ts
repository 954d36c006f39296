/** The commander program: every command of src/cli/commands, with help on each. */
import { Command } from 'commander';
import { COMMAND_TABLE } from './commands/index.js';

/**
 * The program for `argv` (the arguments after `vault-loop`). When the first one is a command word,
 * only that command is defined (its help and its parsing are the same; the start is shorter);
 * otherwise (top-level help, a mistyped command) every command, so help and suggestions list all.
 */
export function buildProgram(argv: readonly string[] = []): Command {
  const program = new Command();
  program
    .name('vault-loop')
    .description('Keeps an interview-question vault balanced with LLMs: analyze gaps, generate, render, judge, prune; on Redis + BullMQ.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const only = COMMAND_TABLE.find((c) => argv[0] !== undefined && c.words.includes(argv[0]));
  for (const c of only ? [only] : COMMAND_TABLE) c.register(program);
  return program;
}
