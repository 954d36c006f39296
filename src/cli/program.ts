/** The commander program: every command of src/cli/commands, with help on each. */
import { Command } from 'commander';
import { commands } from './commands/index.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vault-loop')
    .description('Keeps an interview-question vault balanced with LLMs: analyze gaps, generate, render, judge, prune; on Redis + BullMQ.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}
